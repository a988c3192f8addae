"""``sensorllm predict`` and ``sensorllm describe`` on raw recordings of any length.

Input: CSV / Parquet (one column per channel, named as the model's channels; other columns ignored) or NPZ
(one array per channel name; no pickled objects). Channels are matched by NAME and reordered; missing ones
are an error listing expected and found. Short NaN gaps are interpolated, windows touching long gaps are
skipped and reported.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sensorllm.datasets.spec import ChannelSpec, DataError
from sensorllm.datasets.windows import repair_gaps
from sensorllm.eval.classify import predict_proba, training_precision
from sensorllm.eval.describe import describe_items
from sensorllm.text import record_rng, stage1_question, stage2_text
from sensorllm.text.items import Stage1Item, Stage2Item

__all__ = ["read_recording", "predict_file", "describe_file"]


def read_recording(path: str | Path, channels: list[str]) -> np.ndarray:
    """``(N, C)`` float64 in ``channels`` order from a CSV/Parquet/NPZ file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"missing file {path}")
    name = path.name.lower()
    try:
        if name.endswith(".npz"):
            with np.load(path, allow_pickle=False) as z:
                cols = {k: z[k] for k in z.files}
        elif name.endswith(".parquet"):
            df = pd.read_parquet(path)
            cols = {c: df[c].to_numpy() for c in df.columns}
        elif name.endswith((".csv", ".csv.gz", ".txt")):
            df = pd.read_csv(path)
            cols = {c: df[c].to_numpy() for c in df.columns}
        else:
            raise DataError(f"{path}: unsupported file type (use .csv, .parquet or .npz)")
    except (ValueError, OSError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc
    missing = [c for c in channels if c not in cols]
    if missing:
        raise DataError(f"{path}: missing channels {missing}; the model expects {channels}, found {sorted(cols)}")
    out = np.empty((len(cols[channels[0]]), len(channels)), dtype=np.float64)
    for j, c in enumerate(channels):
        v = pd.to_numeric(pd.Series(np.asarray(cols[c]).ravel()), errors="coerce")
        bad = v.isna() & pd.Series(np.asarray(cols[c]).ravel()).notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"{path}: channel {c!r}, row {i + 1}: non-numeric value {np.asarray(cols[c]).ravel()[i]!r}")
        if len(v) != len(out):
            raise DataError(f"{path}: channel {c!r} has {len(v)} samples, {channels[0]!r} has {len(out)}")
        out[:, j] = v.to_numpy(dtype=np.float64)
    return out


def window_item(w: np.ndarray, index: int, channels: list[ChannelSpec], rate: float, extra: dict):
    """The Stage-2 item of window number ``index`` of a recording (``w``: ``(window, C)`` in channel order):
    its statistics text uses the per-window seed ``record_rng(text_seed, 2, "predict", index)`` and the text
    settings the model was trained with, so ``predict`` and ``stream`` give a window the same text."""
    text = stage2_text(w, channels, rate, record_rng(int(extra.get("text_seed", 0)), 2, "predict", index),
                       extra.get("preprocess_type") or "smry+Q", mode=extra.get("trend_mode", "exact"),
                       stat_digits=extra.get("stat_digits"))["text"]
    return Stage2Item(index=index, series={c.name: w[:, j] for j, c in enumerate(channels)}, text=text,
                      label=None)  # type: ignore[arg-type]


def predict_file(model, meta: dict, path: str | Path, stride: int | None = None, batch_size: int = 8,
                 precision: str | None = None) -> pd.DataFrame:
    """Label and class probabilities for every sliding window of a recording. ``precision``: ``auto``/``None``
    (the training's), ``fp32`` or ``bf16`` (:func:`~sensorllm.eval.classify.training_precision`)."""
    if model.head is None:
        raise ValueError("this is a Stage-1 model (no classifier head): use `sensorllm describe`")
    extra = meta["extra"]
    spec = extra["dataset"]
    channels = [ChannelSpec(**c) for c in spec["channels"]]
    names = [c.name for c in channels]
    x = read_recording(path, names)
    window, rate = int(extra["window"]), float(extra["rate_hz"])
    stride = int(stride or extra["stride"])
    if len(x) < window:
        raise DataError(f"{path}: {len(x)} samples, shorter than the model's window of {window} samples "
                        f"({window / rate:.2f} s at {rate:g} Hz)")
    x, valid, _ = repair_gaps(x, int(spec.get("max_gap", 10)))
    starts = np.arange(0, len(x) - window + 1, stride)
    keep = [s for s in starts if valid[s : s + window].all()]
    skipped = len(starts) - len(keep)
    items = [window_item(x[s : s + window], i, channels, rate, extra) for i, s in enumerate(keep)]
    probs, _ = (predict_proba(model, items, batch_size, mixed_precision=training_precision(extra, precision)) if items
                else (np.zeros((0, len(model.config.labels))), None))
    labels = list(model.config.labels)
    df = pd.DataFrame({"window": range(len(keep)), "start_s": np.asarray(keep) / rate,
                       "end_s": (np.asarray(keep) + window) / rate,
                       "label": [labels[k] for k in probs.argmax(1)] if len(keep) else []})
    for k, name in enumerate(labels):
        df[f"p_{name}"] = probs[:, k] if len(keep) else []
    df.attrs["skipped_windows"] = skipped
    return df


def describe_file(model, meta: dict, path: str | Path, channel: str | None = None, start: int = 0,
                  length: int | None = None, max_new_tokens: int = 256) -> dict:
    """The Stage-1 model's trend description of one channel of one window of a recording."""
    extra = meta["extra"]
    spec = extra["dataset"]
    names = [c["name"] for c in spec["channels"]]
    x = read_recording(path, names)
    channel = channel or names[0]
    if channel not in names:
        raise DataError(f"unknown channel {channel!r}; the model knows {names}")
    lo, hi = spec["stage1_window"]
    length = int(length or min(hi, len(x) - start))
    if length < 1 or start < 0 or start + length > len(x):
        raise DataError(f"{path}: window [{start}, {start + length}) is outside the {len(x)} samples")
    series = x[start : start + length, names.index(channel)]
    if not np.isfinite(series).all():
        raise DataError(f"{path}: channel {channel!r} has NaN/inf in samples {start}..{start + length - 1}")
    rate = float(extra["rate_hz"])
    q = stage1_question(record_rng(int(extra.get("text_seed", 0)), 1, "describe", 0))
    item = Stage1Item(index=0, channel=channel, series=series, question=q, answer="", rate_hz=rate)
    text = describe_items(model, [item], 1, max_new_tokens)[0]
    return {"channel": channel, "start_s": start / rate, "end_s": (start + length) / rate, "question": q,
            "description": text}
