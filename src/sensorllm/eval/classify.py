"""Batched Stage-2 inference: class probabilities for a list of windows."""

from __future__ import annotations

from typing import Any, Iterator, Sequence

import numpy as np
import torch

__all__ = ["predict_proba", "head_features", "autocast_like_training", "training_precision", "PRECISIONS"]


def _stage2_batches(model, items: Sequence, batch_size: int, labels: bool) -> Iterator[tuple[Any, Sequence, Any]]:
    """``(model without DDP wrapper, chunk of items, its collated batch on the model's device)``, with the model
    in eval mode meanwhile (its previous mode restored afterwards)."""
    base = getattr(model, "module", model)
    was_training = base.training
    base.eval()
    device = next(base.projector.parameters()).device
    try:
        for a in range(0, len(items), batch_size):
            chunk = items[a : a + batch_size]
            exs = [base.prompts.stage2(it.series, text=it.text, label=it.label if labels else None) for it in chunk]
            yield base, chunk, base.prompts.collate(exs).to(device)
    finally:
        base.train(was_training)


PRECISIONS = ("auto", "fp32", "bf16")


def training_precision(extra: dict, precision: str | None = None) -> str | None:
    """The ``run.mixed_precision`` to score a checkpoint in: the one it was trained with (from its ``extra``;
    ``None`` if unrecorded) for ``precision`` ``None``/``"auto"``; ``"fp32"`` → ``"no"``; ``"bf16"`` → bf16
    autocast (faster on CPUs with bfloat16 instructions; predictions may differ slightly from fp32)."""
    if precision not in (None, *PRECISIONS):
        raise ValueError(f"precision={precision!r}; valid: {', '.join(PRECISIONS)}")
    if precision in (None, "auto"):
        return extra.get("run_config", {}).get("run", {}).get("mixed_precision")
    return "no" if precision == "fp32" else "bf16"


def autocast_like_training(model, mixed_precision: str | None):
    """The autocast context a model trained with ``run.mixed_precision`` was trained under, on the model's
    device, so scoring uses the training's precision: bf16 autocast on a GPU or a CPU (accelerate autocasts
    CPU training in bf16 too), fp16 on a GPU only; nothing for ``no``."""
    base = getattr(model, "module", model)
    device = next(base.projector.parameters()).device
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(mixed_precision or "no")
    enabled = dtype is torch.bfloat16 or (dtype is torch.float16 and device.type == "cuda")
    return torch.autocast(device.type, dtype=dtype, enabled=enabled)


@torch.inference_mode()
def predict_proba(model, items: Sequence, batch_size: int = 8, class_weights: torch.Tensor | None = None,
                  mixed_precision: str | None = None) -> tuple[np.ndarray, float | None]:
    """``(N, K)`` softmax probabilities for Stage-2 items (``.series``, ``.text``, ``.label``); also the mean
    (weighted) CE loss when every item has a label. ``mixed_precision``: the training run's
    ``run.mixed_precision`` (see :func:`autocast_like_training`; inside a training loop the loop sets it)."""
    probs, losses, counts = [], [], 0
    for base, chunk, batch in _stage2_batches(model, items, batch_size, labels=True):
        with autocast_like_training(base, mixed_precision):
            out = base.forward_stage2(batch, class_weights=class_weights)
        probs.append(torch.softmax(out.logits.float(), dim=-1).cpu().numpy())
        if out.loss is not None:
            losses.append(float(out.loss) * len(chunk))
            counts += len(chunk)
    p = np.concatenate(probs) if probs else np.zeros((0, 0))
    return p, (sum(losses) / counts if counts else None)


@torch.inference_mode()
def head_features(model, items: Sequence, batch_size: int = 8) -> torch.Tensor:
    """``(N, F)`` float32 features the Stage-2 head reads (``SensorLLM.head_features``: the last-token final
    hidden state for the paper's head) for Stage-2 items, on the CPU; computed where the model is."""
    out = [base.head_features(batch).float().cpu()
           for base, _, batch in _stage2_batches(model, items, batch_size, labels=False)]
    base = getattr(model, "module", model)
    return torch.cat(out) if out else torch.zeros(0, base.config.head_width(base.hidden_size))
