"""``sensorllm evaluate``: score a trained model on one split of a prepared dataset.

Stage-2 models: accuracy, F1-macro/weighted, per-class precision/recall/F1/support, confusion-matrix PNG and
a Markdown report. Stage-1 models: greedy descriptions of held-out windows scored with BLEU/ROUGE/SBERT and
trend-structure agreement. The test split is meant to be touched here only.

:func:`evaluate` loads a SensorLLM checkpoint; :func:`evaluate_classifier` scores any already loaded window
classifier (``channels``, ``class_names``, ``window``, ``rate_hz`` and ``predict_proba(windows)``, such as the
baseline wrappers of :mod:`sensorllm.serve.models`, which ``sensorllm evaluate`` uses for baseline runs).
:func:`channel_scale_stats` is the per-channel magnitude summary stored with every model (SensorLLM: the
checkpoint's ``extra["channel_stats"]``; baselines: ``config.json``), against which inference checks the units
of its input.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from sensorllm.datasets.prepared import open_prepared

from .metrics import write_classification_report, write_json_atomic

__all__ = ["channel_scale_stats", "check_channels", "check_units", "evaluate", "evaluate_classifier", "load_model", "resolve_model_dir"]


def channel_scale_stats(windows, channel_names, max_windows: int = 20000, seed: int = 0) -> dict:
    """Per-channel magnitude of training windows ``(N, L, C)`` (memory-mapped arrays are fine): ``mean``,
    ``std`` and ``rms`` (root mean square, i.e. including the offset, such as gravity on an accelerometer axis)
    over every finite sample of at most ``max_windows`` windows (a seeded subset beyond that).

    Returns ``{"statistic": "rms", "windows": n, "channels": {name: {"mean", "std", "rms"}}}``: JSON-able, the
    format that the input unit check of ``sensorllm predict``/``stream`` (:mod:`sensorllm.serve.units`) reads.
    """
    n = int(windows.shape[0])
    names = list(channel_names)
    if windows.ndim != 3 or windows.shape[2] != len(names):
        raise ValueError(f"expected windows (N, L, {len(names)}), got {tuple(windows.shape)}")
    rows = np.arange(n) if n <= max_windows else np.sort(
        np.random.default_rng(seed).choice(n, size=max_windows, replace=False))
    c = len(names)
    count, total, squares = np.zeros(c), np.zeros(c), np.zeros(c)
    for a in range(0, len(rows), 1024):
        w = np.asarray(windows[rows[a:a + 1024]], dtype=np.float64).reshape(-1, c)
        ok = np.isfinite(w)
        w = np.where(ok, w, 0.0)
        count += ok.sum(0)
        total += w.sum(0)
        squares += (w * w).sum(0)
    safe = np.maximum(count, 1)
    mean, ms = total / safe, squares / safe
    std = np.sqrt(np.maximum(ms - mean**2, 0.0))
    return {"statistic": "rms", "windows": len(rows),
            "channels": {name: {"mean": float(mean[j]), "std": float(std[j]), "rms": float(np.sqrt(ms[j]))}
                         for j, name in enumerate(names) if count[j] > 0}}


def resolve_model_dir(path: str | Path) -> Path:
    """A run directory (holding ``model/``) or a checkpoint directory itself."""
    p = Path(path)
    if (p / "model" / "config.json").is_file():
        return p / "model"
    if (p / "config.json").is_file():
        return p
    raise FileNotFoundError(f"{p} is neither a run directory with model/ nor a SensorLLM checkpoint directory")


def load_model(path: str | Path, device: str = "cpu"):
    """``(model, meta)`` from a run or checkpoint directory, on ``device`` (``auto`` = the GPU when one is
    visible); ``meta["extra"]`` holds dataset/text settings."""
    from sensorllm.model import load_checkpoint, read_checkpoint_config
    from sensorllm.utils import resolve_device

    d = resolve_model_dir(path)
    try:
        cfg = json.loads((d / "config.json").read_text())
    except (OSError, ValueError):
        cfg = {}
    if isinstance(cfg, dict) and "baseline" in cfg:
        raise ValueError(f"{d} is a {cfg['baseline']} baseline run, not a SensorLLM checkpoint: load it with "
                         "sensorllm.serve.models.load_classifier")
    meta = read_checkpoint_config(d)
    model = load_checkpoint(d)
    model.to(resolve_device(device))
    model.eval()
    return model, meta


def check_channels(model_channels: list[str], data_channels: list[str], where: str) -> None:
    """The data must have the model's channels, by name (any order: windows are read by channel name)."""
    if sorted(model_channels) != sorted(data_channels):
        missing = [c for c in model_channels if c not in data_channels]
        extra = [c for c in data_channels if c not in model_channels]
        raise ValueError(f"{where}: channels do not match the model (expected {model_channels}; "
                         f"missing {missing}, unexpected {extra})")


def check_units(model_units: dict[str, str], data, where: str) -> None:
    """The prepared data's channel units (its spec) must be the model's (where both are known)."""
    for c in data.channels:
        mu = model_units.get(c.name)
        if mu and c.unit and mu != c.unit:
            raise ValueError(f"{where}: channel {c.name!r} is in {c.unit} in this dataset, the model was "
                             f"trained on {mu}")


def evaluate(model_path: str | Path, data_path: str | Path, split: str = "test", out: str | Path | None = None,
             batch_size: int = 8, limit: int | None = None, device: str = "cpu", precision: str | None = None,
             workers: int = 1) -> dict:
    """Evaluate and write ``metrics.json`` + report into ``out`` (default ``<model run>/eval-<split>``).
    ``precision``: ``auto``/``None`` (the training's), ``fp32`` or ``bf16`` (:func:`training_precision`);
    ``workers``: batches scored at once on the CPU (:func:`~sensorllm.eval.classify.predict_proba`)."""
    from .classify import predict_proba, training_precision

    model, meta = load_model(model_path, device)
    extra = meta.get("extra", {})
    data = open_prepared(data_path)
    check_channels(model.channels, data.channel_names, str(data_path))
    check_units({c["name"]: c.get("unit", "") for c in extra.get("dataset", {}).get("channels", [])}, data,
                 str(data_path))
    if split not in data.splits():
        raise ValueError(f"{data_path} has no '{split}' windows (splits: {data.splits()})")
    out = Path(out) if out else Path(model_path) / f"eval-{split}"
    out.mkdir(parents=True, exist_ok=True)
    notes = [f"model: `{resolve_model_dir(model_path)}` (stage {extra.get('stage', '?')}, LLM "
             f"`{meta['config']['llm']['name']}`)", f"data: `{data_path}` split `{split}`"]
    if meta["encoder"].get("is_random_init"):
        notes.append(f"the time-series encoder is RANDOM-INIT (`{meta['encoder']['source']}`; no pretrained weights "
                     "were available): these numbers do not measure the paper's pretrained-encoder setting")
    seed = int(extra.get("text_seed", 0))
    t = time.time()
    if model.head is not None:
        from sensorllm.text.items import stage2_items

        if list(model.config.labels or []) != data.class_names:
            raise ValueError(f"{data_path}: classes {data.class_names} differ from the model's {model.config.labels}")
        items = stage2_items(data, split, seed, extra.get("preprocess_type") or "smry+Q",
                             extra.get("trend_mode", "exact"), limit, channels=model.channels,
                             stat_digits=extra.get("stat_digits"), normalized=model.encoder.normalizes_series)
        probs, _ = predict_proba(model, items, batch_size, mixed_precision=training_precision(extra, precision),
                                 workers=workers)
        from .metrics import classification_metrics

        metrics = classification_metrics([it.label for it in items], probs.argmax(1), data.class_names)
        metrics.update({"split": split, "random_init_encoder": bool(meta["encoder"].get("is_random_init"))})
        report = write_classification_report(metrics, out, f"SensorLLM on {data.name} ({split})", notes)
        np.save(out / "probabilities.npy", probs.astype(np.float32))
        print(f"{data.name} {split}: accuracy {metrics['accuracy']:.4f}  F1-macro {metrics['f1_macro']:.4f}  "
              f"F1-weighted {metrics['f1_weighted']:.4f}  ({metrics['n']} windows, {time.time() - t:.0f}s)")
    else:
        from sensorllm.eval.describe import describe_items, score_descriptions
        from sensorllm.text.items import stage1_items

        items = stage1_items(data, split, seed, extra.get("trend_mode", "exact"), limit or 32)
        gen = describe_items(model, items, batch_size)
        metrics = {**score_descriptions(items, gen, extra.get("trend_mode", "exact")), "split": split,
                   "decoding": "greedy"}
        write_json_atomic(metrics, out / "metrics.json")
        with open(out / "samples.jsonl", "w") as fh:
            for it, g in zip(items, gen):
                fh.write(json.dumps({"index": it.index, "channel": it.channel, "reference": it.answer,
                                     "generated": g}, ensure_ascii=False) + "\n")
        lines = [f"# SensorLLM Stage 1 on {data.name} ({split})", ""] + [f"- {n}" for n in notes] + [""]
        lines += ["| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v:.4f} |" for k, v in metrics.items() if isinstance(v, float)]
        report = out / "report.md"
        report.write_text("\n".join(lines) + "\n")
        print(f"{data.name} {split}: " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if isinstance(v, float)))
    print(f"report: {report}")
    return metrics


def evaluate_classifier(clf, data_path: str | Path, split: str = "test", out: str | Path | None = None,
                        batch_size: int = 256, limit: int | None = None, model_path: str | Path | None = None,
                        notes: list[str] | tuple[str, ...] = ()) -> dict:
    """Score a loaded window classifier on one split of a prepared dataset, as :func:`evaluate` scores a
    SensorLLM: ``metrics.json``, ``confusion_matrix.png``, ``report.md`` and ``probabilities.npy`` in ``out``
    (default ``<model_path>/eval-<split>``).

    ``clf`` needs ``name``, ``channels`` (names), ``class_names``, ``window``, ``rate_hz``, optional
    ``channel_units`` (name → unit) and ``seed``, and ``predict_proba(windows (N, L, C) in its channel order,
    batch_size=...) -> (N, K)``. The dataset must have the classifier's channels (any order: they are
    reordered), classes, window length, rate and units. ``limit``: a seeded subset of windows (the seed is
    ``clf.seed``, else 0; the same subset rule as :func:`evaluate`).
    """
    from sensorllm.text.items import subset

    data = open_prepared(data_path)
    channels = list(clf.channels)
    check_channels(channels, data.channel_names, str(data_path))
    check_units(dict(getattr(clf, "channel_units", None) or {}), data, str(data_path))
    if list(clf.class_names) != data.class_names:
        raise ValueError(f"{data_path}: classes {data.class_names} differ from the model's {list(clf.class_names)}")
    if split not in data.splits():
        raise ValueError(f"{data_path} has no '{split}' windows (splits: {data.splits()})")
    if abs(float(data.rate_hz) - float(clf.rate_hz)) > 1e-6:
        raise ValueError(f"{data_path}: sampled at {data.rate_hz:g} Hz, the model at {float(clf.rate_hz):g} Hz")
    ws = data.stage2(split)
    if ws.windows.shape[1] != int(clf.window):
        raise ValueError(f"{data_path}: {split} windows are {ws.windows.shape[1]} samples long, the model "
                         f"takes {int(clf.window)}")
    if out is None and model_path is None:
        raise ValueError("evaluate_classifier needs out or model_path")
    out = Path(out) if out else Path(model_path) / f"eval-{split}"  # type: ignore[arg-type]
    out.mkdir(parents=True, exist_ok=True)
    keep = subset(len(ws), limit, int(getattr(clf, "seed", 0) or 0))
    order = [data.channel_names.index(c) for c in channels]
    t = time.time()
    probs = []
    for a in range(0, len(keep), 4096):  # bounded memory on long splits
        w = np.asarray(ws.windows[keep[a:a + 4096]], dtype=np.float32)[:, :, order]
        probs.append(np.asarray(clf.predict_proba(w, batch_size=batch_size), dtype=np.float64))
    p = np.concatenate(probs) if probs else np.zeros((0, len(data.class_names)))
    y = np.asarray(ws.labels[keep], dtype=np.int64)
    from .metrics import classification_metrics

    metrics = classification_metrics(y, p.argmax(1), data.class_names)
    metrics.update({"split": split, "model": str(getattr(clf, "name", "?"))})
    head = [f"model: `{model_path}` ({getattr(clf, 'name', '?')})" if model_path else
            f"model: {getattr(clf, 'name', '?')}", f"data: `{data_path}` split `{split}`"]
    name = getattr(clf, "name", "model")
    report = write_classification_report(metrics, out, f"{name} on {data.name} ({split})", [*head, *notes])
    np.save(out / "probabilities.npy", p.astype(np.float32))
    print(f"{data.name} {split}: accuracy {metrics['accuracy']:.4f}  F1-macro {metrics['f1_macro']:.4f}  "
          f"F1-weighted {metrics['f1_weighted']:.4f}  ({metrics['n']} windows, {time.time() - t:.0f}s)")
    print(f"report: {report}")
    return metrics
