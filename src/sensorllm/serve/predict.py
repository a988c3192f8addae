"""``sensorllm predict`` and ``sensorllm describe`` on raw recordings of any length.

:func:`predict_input` classifies every sliding window of every recording of a file read by
:func:`~sensorllm.serve.recording.read_input` (the input formats, how a file splits into recordings and how
gaps are handled are :mod:`sensorllm.serve.recording`); with a label column it also gives each window its true
label under one of the :data:`~sensorllm.serve.scoring.LABEL_RULES`, for
:func:`~sensorllm.serve.report.write_predict_report`. A window's Stage-2 item, shared with ``stream``, is
:func:`~sensorllm.data.items.window_items`; :func:`describe_file` works on a file path, :func:`describe_window` on
a prepared dataset's Stage-1 window, :func:`describe_sample` on seeded ones (:func:`check_rate`: how many pass the
check).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sensorllm.classifier import Classifier
from sensorllm.datasets.spec import DataError

from .recording import LabelledInput, read_input, read_recording, window_recordings
from .scoring import LABEL_RULES, window_label

__all__ = [
    "Prediction",
    "check_passes",
    "check_rate",
    "describe_file",
    "describe_sample",
    "describe_window",
    "description_check",
    "predict_input",
    "summary_lines",
]


# ---- prediction ----------------------------------------------------------------------------------------------


@dataclass
class Prediction:
    """What :func:`predict_input` returns: one ``frame`` row per window (``recording``/``subject`` when the
    file has those columns, ``window``, ``start_s``, ``end_s``, ``label``, ``p_<class>``, and with labels
    ``true_label`` and ``label_purity``), per-recording counts (``recordings``; ``segments``: the recording of
    every window, an index into them), and for scoring the true (``y_true``, ``-1`` = not scored) and predicted
    class of every window."""

    frame: pd.DataFrame
    recordings: list[dict]
    skipped_windows: int
    window: int
    stride: int
    label_rule: str | None = None
    y_true: np.ndarray | None = None
    y_pred: np.ndarray | None = None
    segments: np.ndarray | None = None


def predict_input(clf: Classifier, inp: LabelledInput, stride: int | None = None, batch_size: int | None = None,
                  label_rule: str = "pure") -> Prediction:
    """Classify every sliding window of every recording of ``inp`` (windows never cross recordings).

    Raises:
        DataError: no recording is as long as one window.
    """
    if label_rule not in LABEL_RULES:
        raise ValueError(f"unknown label rule {label_rule!r}; known: {', '.join(LABEL_RULES)}")
    info = clf.info
    info.require_windowing()
    window, rate = int(info.window), float(info.rate_hz)  # type: ignore[arg-type]
    stride = int(stride or info.stride or max(1, window // 2))
    if stride < 1:
        raise ValueError(f"--stride must be ≥ 1 sample, got {stride}")
    cut = window_recordings(inp, window, stride, rate, info.max_gap)
    xs, refs, recs, skipped = cut.samples, cut.refs, cut.recordings, cut.skipped
    class_names = list(info.class_names)
    k = len(class_names)
    bs = int(batch_size or clf.default_batch_size)
    chunk = bs * max(1, 1024 // bs)  # bounded memory; whole batches, as one call would make them
    probs = [clf.predict_proba(np.stack([xs[si][s:s + window] for si, s, _ in refs[a:a + chunk]]),
                               [i for _, _, i in refs[a:a + chunk]], bs) for a in range(0, len(refs), chunk)]
    p = np.concatenate(probs) if probs else np.zeros((0, k))
    cols: dict[str, object] = {}
    if inp.recording_column:
        cols["recording"] = [inp.segments[si].recording for si, _, _ in refs]
    if inp.subject_column:
        cols["subject"] = [inp.segments[si].subject for si, _, _ in refs]
    starts_s = np.array([s for _, s, _ in refs], dtype=np.float64)
    cols.update({"window": [i for _, _, i in refs], "start_s": starts_s / rate, "end_s": (starts_s + window) / rate,
                 "label": [class_names[j] for j in p.argmax(1)] if len(refs) else []})
    df = pd.DataFrame(cols)
    for j, name in enumerate(class_names):
        df[f"p_{name}"] = p[:, j] if len(refs) else []
    out = Prediction(df, recs, skipped, window, stride, segments=np.array([si for si, _, _ in refs], dtype=np.int64))
    if inp.labels is not None:
        y_true, purity = np.full(len(refs), -1, dtype=np.int64), np.zeros(len(refs))
        for r, (si, s, _) in enumerate(refs):
            seg = inp.segments[si]
            y_true[r], purity[r] = window_label(inp.labels[seg.start + s: seg.start + s + window], label_rule, k)
        df["true_label"] = [class_names[y] if y >= 0 else "" for y in y_true]
        df["label_purity"] = np.round(purity, 4)
        out.label_rule, out.y_true, out.y_pred = label_rule, y_true, p.argmax(1) if len(refs) else np.zeros(0, int)
    df.attrs["skipped_windows"] = skipped
    return out


def summary_lines(pred: Prediction, inp: LabelledInput, clf: Classifier, max_listed: int = 12) -> list[str]:
    """What ``sensorllm predict`` did, for stderr: recordings and windows per recording."""
    n = len(pred.recordings)
    how = ([f"column {inp.recording_column!r}"] if inp.recording_column else []) + \
          ([f"subjects from {inp.subject_column!r}"] if inp.subject_column else [])
    src = (f" ({', '.join(how)}; windows never span two)" if how
           else " (no recording/subject column: the whole file is one stream)")
    total = int(sum(r["windows"] for r in pred.recordings))
    rate = float(clf.info.rate_hz)  # type: ignore[arg-type]
    lines = [(f"predict: {n} recording{'s' if n != 1 else ''}{src}; {total} windows of {pred.window} samples "
              f"({pred.window / rate:g} s at {rate:g} Hz), stride {pred.stride}")]
    if how:
        parts = [f"{r['name']}: {r['windows']}" + (f" (+{r['skipped']} skipped)" if r["skipped"] else "")
                 + (" (shorter than a window)" if r["rows"] < pred.window else "") for r in pred.recordings]
        more = f", … {len(parts) - max_listed} more" if len(parts) > max_listed else ""
        lines.append("predict: windows per recording: " + ", ".join(parts[:max_listed]) + more)
    return lines


# ---- describe ---------------------------------------------------------------------------------


def describe_file(model, meta: dict, path: str | Path, channel: str | None = None, start: int = 0,
                  length: int | None = None, max_new_tokens: int = 256, constrained: bool = False) -> dict:
    """The Stage-1 model's trend description of one channel of one window of a recording (``constrained``:
    segment lines decoded inside the window's answer grammar, :mod:`sensorllm.infer.constrained`)."""
    spec = meta["extra"]["dataset"]
    names = [c["name"] for c in spec["channels"]]
    x = read_recording(path, names)
    _, hi = spec["stage1_window"]
    return _describe_part(model, meta, x, names, str(path), channel, start, length or min(hi, len(x) - start),
                          max_new_tokens, constrained)


def _check_dataset(meta: dict, data, split: str) -> tuple[object, str]:
    """The Stage-1 windows of ``split`` of a prepared dataset with the model's channels, units and rate, and how
    to name them in errors."""
    from sensorllm.infer.evaluate import check_channels, check_units

    model_channels = meta["extra"]["dataset"]["channels"]
    where = f"{data.root} ({split} Stage-1 windows)"
    check_channels([c["name"] for c in model_channels], data.channel_names, where)
    check_units({c["name"]: c.get("unit", "") for c in model_channels}, data, where)
    if float(data.rate_hz) != float(meta["extra"]["rate_hz"]):
        raise DataError(f"{where}: {data.rate_hz:g} Hz; the model was trained at {meta['extra']['rate_hz']:g} Hz")
    return data.stage1(split), where


def describe_window(model, meta: dict, data, split: str, window: int, channel: str | None = None,
                    start: int = 0, length: int | None = None, max_new_tokens: int = 256,
                    constrained: bool = False) -> dict:
    """The same for Stage-1 window ``window`` of a prepared dataset's ``split`` (the windows Stage 1 trains and
    is scored on; a ``start``/``length`` part of it if given). The dataset must have the model's channels and
    rate."""
    ws, where = _check_dataset(meta, data, split)
    if not 0 <= window < len(ws):
        raise DataError(f"{where}: window {window} does not exist (0..{len(ws) - 1})")
    x = np.asarray(ws[window], dtype=np.float64)
    channel = channel or meta["extra"]["dataset"]["channels"][0]["name"]
    res = _describe_part(model, meta, x, list(data.channel_names), f"{where}, window {window}", channel, start,
                         length or len(x) - start, max_new_tokens, constrained)
    return {"window": window, **res}


def describe_sample(model, meta: dict, data, split: str = "val", n: int = 8, seed: int = 0,
                    length: int | None = None, max_new_tokens: int = 256, batch_size: int = 4,
                    constrained: bool = False) -> list[dict]:
    """Greedy descriptions of ``n`` seeded Stage-1 windows of a prepared dataset's ``split``, one channel each
    (windows and channels drawn with ``seed``; the first ``length`` samples of each, all without ``length``),
    each as :func:`describe_window` gives it, with its :func:`description_check`: what :func:`check_rate` counts.
    Generated ``batch_size`` windows at a time (``constrained``: inside the answer grammar, as
    :func:`describe_window`)."""
    from sensorllm.infer.describe import describe_items

    ws, where = _check_dataset(meta, data, split)
    names = list(data.channel_names)
    rng = np.random.default_rng([int(seed), 33])
    windows = sorted(int(i) for i in rng.choice(len(ws), min(int(n), len(ws)), replace=False))
    channels = [names[int(c)] for c in rng.integers(len(names), size=len(windows))]
    items = []
    for w, channel in zip(windows, channels, strict=True):
        x = np.asarray(ws[w], dtype=np.float64)
        items.append(_describe_item(meta, x, names, f"{where}, window {w}", channel, 0,
                                    min(length or len(x), len(x))))
    texts = describe_items(model, items, batch_size, max_new_tokens, constrained=constrained)
    return [{"window": w, **_described(meta, it, 0, text, constrained)}
            for w, it, text in zip(windows, items, texts)]


def _describe_item(meta: dict, x: np.ndarray, names: list[str], where: str, channel: str | None, start: int,
                   length: int):
    """The Stage-1 item (with the ``describe`` question) of samples ``start:start + length`` of one channel."""
    from sensorllm.data.items import Stage1Item
    from sensorllm.text import record_rng, stage1_question

    extra = meta["extra"]
    channel = channel or names[0]
    if channel not in names:
        raise DataError(f"unknown channel {channel!r}; the model knows {names}")
    length = int(length)
    if length < 1 or start < 0 or start + length > len(x):
        raise DataError(f"{where}: window [{start}, {start + length}) is outside the {len(x)} samples")
    series = x[start : start + length, names.index(channel)]
    if not np.isfinite(series).all():
        raise DataError(f"{where}: channel {channel!r} has NaN/inf in samples {start}..{start + length - 1}")
    q = stage1_question(record_rng(int(extra.get("text_seed", 0)), 1, "describe", 0))
    return Stage1Item(index=0, channel=channel, series=series, question=q, answer="",
                      rate_hz=float(extra["rate_hz"]))


def _described(meta: dict, item, start: int, text: str, constrained: bool) -> dict:
    rate, length = item.rate_hz, len(item.series)
    return {"channel": item.channel, "start_s": start / rate, "end_s": (start + length) / rate, "samples": length,
            "question": item.question, "description": text, "constrained": bool(constrained),
            "check": description_check(text, item.series, rate, meta["extra"].get("trend_mode", "exact"))}


def _describe_part(model, meta: dict, x: np.ndarray, names: list[str], where: str, channel: str | None,
                   start: int, length: int, max_new_tokens: int, constrained: bool = False) -> dict:
    from sensorllm.infer.describe import describe_items

    item = _describe_item(meta, x, names, where, channel, start, length)
    text = describe_items(model, [item], 1, max_new_tokens, constrained=constrained)[0]
    return _described(meta, item, start, text, constrained)


def description_check(text: str, series: np.ndarray, rate_hz: float, trend_mode: str = "exact") -> dict:
    """How a generated description agrees with its window: the window's own trend segmentation (the one Stage 1
    trains on, in the model's trend mode) read against the segment lines, counts and times the text states.

    ``segments_in_text`` / ``segments_in_data``; ``trend_accuracy``: share of the window's sample pairs whose
    trend a segment line states correctly; ``overall_right``; ``names_time_outside_window`` (a time later than
    the last sample, ``last_sample_s``); ``names_trend_not_in_data``. A description that fails these is not
    to be trusted, whatever its wording.
    """
    from sensorllm.eval.describe import structure_scores
    from sensorllm.text import segment_trends

    ref = segment_trends(np.asarray(series, dtype=np.float64), rate_hz, mode=trend_mode)  # type: ignore[arg-type]
    s = structure_scores(text, ref)
    return {"trend_mode": trend_mode, "last_sample_s": round(float(ref.span), 4),
            "segments_in_text": int(s["parsed_segments"]), "segments_in_data": int(s["ref_segments"]),
            "trend_accuracy": round(float(s["step_accuracy"]), 4), "overall_right": bool(s["overall_ok"]),
            "names_time_outside_window": bool(s["time_outside"]),
            "names_trend_not_in_data": bool(s["trend_not_in_data"])}


def check_passes(check: dict) -> bool:
    """A :func:`description_check` passes: the description has segment lines and the right overall direction."""
    return check["segments_in_text"] > 0 and bool(check["overall_right"])


def check_rate(checks: list[dict]) -> dict:
    """How many of several :func:`description_check` results pass (:func:`check_passes`), and its parts:
    ``n``, ``passed``, ``segment_lines`` (descriptions with segment lines), ``overall_right``, and
    ``time_outside`` (descriptions naming a time after the window's last sample)."""
    return {"n": len(checks), "passed": sum(check_passes(c) for c in checks),
            "segment_lines": sum(c["segments_in_text"] > 0 for c in checks),
            "overall_right": sum(bool(c["overall_right"]) for c in checks),
            "time_outside": sum(bool(c["names_time_outside_window"]) for c in checks)}
