"""``sensorllm evaluate`` on a prepared dataset: run a trained model (any kind, loaded by
:func:`~sensorllm.infer.artifact.load_model`) over one split and score it with :mod:`sensorllm.eval`.

Classifiers: accuracy, F1-macro/weighted, per-class precision/recall/F1/support, confusion-matrix PNG, a
Markdown report and the probabilities. Stage-1 SensorLLMs: greedy descriptions of held-out windows scored with
BLEU/ROUGE/SBERT and trend-structure agreement. The test split is meant to be touched here only.

:func:`evaluate` takes a model directory; :func:`evaluate_classifier` scores an already loaded baseline
classifier. :func:`check_channels` and :func:`check_units` check that prepared data fit a model.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from sensorllm.classifier import Classifier, ModelInfo
from sensorllm.datasets.prepared import open_prepared
from sensorllm.eval.metrics import classification_metrics, write_classification_report, write_json_atomic

from .artifact import load_model

__all__ = ["check_channels", "check_units", "evaluate", "evaluate_classifier"]


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


def evaluate(model_path: str | Path | ModelInfo, data_path: str | Path, split: str = "test",
             out: str | Path | None = None, batch_size: int | None = None, limit: int | None = None,
             device: str = "cpu", precision: str | None = None, workers: int = 1) -> dict:
    """Evaluate any model directory (SensorLLM run or checkpoint, or a baseline run; or its
    :class:`~sensorllm.classifier.ModelInfo`) on ``split`` of a prepared dataset and write ``metrics.json`` and a
    report into ``out`` (default ``<model>/eval-<split>``). ``batch_size``: default the model's
    (``Classifier.default_batch_size``). ``precision``: ``auto``/``None`` (the training's), ``fp32`` or ``bf16``;
    ``workers``: batches scored at once on the CPU (SensorLLM only,
    :func:`~sensorllm.infer.stage2.predict_proba`). ``limit``: a seeded subset of windows."""
    clf = load_model(model_path, device, precision=precision, workers=workers)
    path = clf.info.path
    bs = batch_size or clf.default_batch_size
    if clf.info.kind != "sensorllm":
        return evaluate_classifier(clf, data_path, split, out, bs, limit, model_path=path, notes=clf.notes)
    return _evaluate_sensorllm(clf, path, data_path, split, out, bs, limit)


def _evaluate_sensorllm(clf, model_path: Path, data_path: str | Path, split: str, out: str | Path | None,
                        batch_size: int, limit: int | None) -> dict:
    from .stage2 import predict_proba, training_precision

    model, meta, extra = clf.model, clf.meta, clf.extra
    data = open_prepared(data_path)
    check_channels(model.channels, data.channel_names, str(data_path))
    check_units({c["name"]: c.get("unit", "") for c in extra.get("dataset", {}).get("channels", [])}, data,
                str(data_path))
    if split not in data.splits():
        raise ValueError(f"{data_path} has no '{split}' windows (splits: {data.splits()})")
    out = Path(out) if out else Path(model_path) / f"eval-{split}"
    out.mkdir(parents=True, exist_ok=True)
    notes = [f"model: `{clf.info.model_dir}` (stage {extra.get('stage', '?')}, LLM "
             f"`{meta['config']['llm']['name']}`)", f"data: `{data_path}` split `{split}`"]
    if meta["encoder"].get("is_random_init"):
        notes.append(f"the time-series encoder is RANDOM-INIT (`{meta['encoder']['source']}`; no pretrained weights "
                     "were available): these numbers do not measure the paper's pretrained-encoder setting")
    seed = int(extra.get("text_seed", 0))
    t = time.time()
    if model.head is not None:
        from sensorllm.data.items import TextSettings, stage2_items

        if list(model.config.labels or []) != data.class_names:
            raise ValueError(f"{data_path}: classes {data.class_names} differ from the model's {model.config.labels}")
        text = TextSettings.of_checkpoint(extra, model.encoder.normalizes_series)
        items = stage2_items(data, split, text, limit, channels=model.channels)
        probs, _ = predict_proba(model, items, batch_size,
                                 mixed_precision=training_precision(extra, clf.precision), workers=clf.workers)
        metrics = classification_metrics(items.labels, probs.argmax(1), data.class_names)
        metrics.update({"split": split, "random_init_encoder": bool(meta["encoder"].get("is_random_init"))})
        report = write_classification_report(metrics, out, f"SensorLLM on {data.name} ({split})", notes)
        np.save(out / "probabilities.npy", probs.astype(np.float32))
        print(f"{data.name} {split}: accuracy {metrics['accuracy']:.4f}  F1-macro {metrics['f1_macro']:.4f}  "
              f"F1-weighted {metrics['f1_weighted']:.4f}  ({metrics['n']} windows, {time.time() - t:.0f}s)")
    else:
        from sensorllm.eval.describe import score_descriptions

        from .describe import describe_items
        from sensorllm.data.items import stage1_items

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


def evaluate_classifier(clf: Classifier, data_path: str | Path, split: str = "test", out: str | Path | None = None,
                        batch_size: int = 256, limit: int | None = None, model_path: str | Path | None = None,
                        notes: list[str] | tuple[str, ...] = ()) -> dict:
    """Score a loaded baseline classifier on one split of a prepared dataset, as :func:`evaluate` scores a
    SensorLLM: ``metrics.json``, ``confusion_matrix.png``, ``report.md`` and ``probabilities.npy`` in ``out``
    (default ``<model_path>/eval-<split>``).

    The dataset must have the classifier's channels (any order: they are reordered), classes, window length,
    rate and units. ``limit``: a seeded subset of windows (the seed is the run's ``seed``; the same subset rule as
    :func:`evaluate`).
    """
    from sensorllm.data.items import subset

    info = clf.info
    data = open_prepared(data_path)
    names = list(info.channel_names)
    check_channels(names, data.channel_names, str(data_path))
    check_units(info.channel_units, data, str(data_path))
    if list(info.class_names) != data.class_names:
        raise ValueError(f"{data_path}: classes {data.class_names} differ from the model's {list(info.class_names)}")
    if split not in data.splits():
        raise ValueError(f"{data_path} has no '{split}' windows (splits: {data.splits()})")
    if abs(float(data.rate_hz) - float(info.rate_hz)) > 1e-6:
        raise ValueError(f"{data_path}: sampled at {data.rate_hz:g} Hz, the model at {float(info.rate_hz):g} Hz")
    ws = data.stage2(split)
    if ws.windows.shape[1] != int(info.window):
        raise ValueError(f"{data_path}: {split} windows are {ws.windows.shape[1]} samples long, the model "
                         f"takes {int(info.window)}")
    if out is None and model_path is None:
        raise ValueError("evaluate_classifier needs out or model_path")
    out = Path(out) if out else Path(model_path) / f"eval-{split}"  # type: ignore[arg-type]
    out.mkdir(parents=True, exist_ok=True)
    keep = subset(len(ws), limit, int(info.meta.get("seed", 0) or 0))
    order = [data.channel_names.index(c) for c in names]
    t = time.time()
    probs = []
    for a in range(0, len(keep), 4096):  # bounded memory on long splits
        w = np.asarray(ws.windows[keep[a:a + 4096]], dtype=np.float32)[:, :, order]
        probs.append(np.asarray(clf.predict_proba(w, batch_size=batch_size), dtype=np.float64))
    p = np.concatenate(probs) if probs else np.zeros((0, len(data.class_names)))
    y = np.asarray(ws.labels[keep], dtype=np.int64)

    metrics = classification_metrics(y, p.argmax(1), data.class_names)
    metrics.update({"split": split, "model": info.name})
    head = [f"model: `{model_path}` ({info.name})" if model_path else f"model: {info.name}",
            f"data: `{data_path}` split `{split}`"]
    report = write_classification_report(metrics, out, f"{info.name} on {data.name} ({split})", [*head, *notes])
    np.save(out / "probabilities.npy", p.astype(np.float32))
    print(f"{data.name} {split}: accuracy {metrics['accuracy']:.4f}  F1-macro {metrics['f1_macro']:.4f}  "
          f"F1-weighted {metrics['f1_weighted']:.4f}  ({metrics['n']} windows, {time.time() - t:.0f}s)")
    print(f"report: {report}")
    return metrics
