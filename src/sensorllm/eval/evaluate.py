"""``sensorllm evaluate``: score a trained model on one split of a prepared dataset.

Stage-2 models: accuracy, F1-macro/weighted, per-class precision/recall/F1/support, confusion-matrix PNG and
a Markdown report. Stage-1 models: greedy descriptions of held-out windows scored with BLEU/ROUGE/SBERT and
trend-structure agreement. The test split is meant to be touched here only.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from sensorllm.datasets.prepared import open_prepared
from sensorllm.model import load_checkpoint, read_checkpoint_config

from .classify import predict_proba, training_precision
from .metrics import write_classification_report, write_json_atomic

__all__ = ["resolve_model_dir", "evaluate", "load_model"]


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
    from sensorllm.utils import resolve_device

    d = resolve_model_dir(path)
    meta = read_checkpoint_config(d)
    model = load_checkpoint(d)
    model.to(resolve_device(device))
    model.eval()
    return model, meta


def _check_channels(model_channels: list[str], data_channels: list[str], where: str) -> None:
    if sorted(model_channels) != sorted(data_channels):
        missing = [c for c in model_channels if c not in data_channels]
        extra = [c for c in data_channels if c not in model_channels]
        raise ValueError(f"{where}: channels do not match the model (expected {model_channels}; "
                         f"missing {missing}, unexpected {extra})")


def evaluate(model_path: str | Path, data_path: str | Path, split: str = "test", out: str | Path | None = None,
             batch_size: int = 8, limit: int | None = None, device: str = "cpu", precision: str | None = None) -> dict:
    """Evaluate and write ``metrics.json`` + report into ``out`` (default ``<model run>/eval-<split>``).
    ``precision``: ``auto``/``None`` (the training's), ``fp32`` or ``bf16`` (:func:`training_precision`)."""
    model, meta = load_model(model_path, device)
    extra = meta.get("extra", {})
    data = open_prepared(data_path)
    _check_channels(model.channels, data.channel_names, str(data_path))
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
                             stat_digits=extra.get("stat_digits"))
        probs, _ = predict_proba(model, items, batch_size, mixed_precision=training_precision(extra, precision))
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
