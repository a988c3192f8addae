"""Batched Stage-2 inference: class probabilities (and the features the head reads) for Stage-2 items, in the
training's precision, optionally several batches at once on the CPU.

What ``sensorllm tune`` validates with, ``evaluate`` scores with and ``predict``/``stream`` classify with: items
(:mod:`sensorllm.data.items`) → batches (:func:`~sensorllm.data.collate.collate_items`) → the model.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np
import torch

from sensorllm.data.collate import collate_items
from sensorllm.data.items import Stage2Items

__all__ = ["predict_proba", "head_features", "autocast_like_training", "training_precision", "PRECISIONS"]


@contextmanager
def _eval_mode(model) -> Iterator[Any]:
    """The model without its DDP wrapper, in eval mode meanwhile (its previous mode restored afterwards)."""
    base = getattr(model, "module", model)
    was_training = base.training
    base.eval()
    try:
        yield base
    finally:
        base.train(was_training)


def _stage2_batches(base, items: Stage2Items, batch_size: int, labels: bool) -> Iterator[tuple[int, Any]]:
    """``(windows in the batch, the batch on the model's device)`` (collated here, in the caller's thread)."""
    device = next(base.projector.parameters()).device
    for a in range(0, len(items), batch_size):
        chunk = items[a : a + batch_size]
        yield len(chunk), collate_items(base.prompts, chunk, labels=labels).to(device)


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


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


def predict_proba(model, items: Stage2Items, batch_size: int = 8, class_weights: torch.Tensor | None = None,
                  mixed_precision: str | None = None, workers: int = 1) -> tuple[np.ndarray, float | None]:
    """``(N, K)`` float32 softmax probabilities for Stage-2 items; also the mean (weighted) CE loss when the items
    have labels. ``mixed_precision``: the training run's
    ``run.mixed_precision`` (see :func:`autocast_like_training`; inside a training loop the loop sets it).

    ``workers > 1`` (CPU): that many batches run at once, in threads that share the model, each with
    ``torch.get_num_threads() // workers`` intra-op threads (at least 1). Small batches of a small LLM do not
    keep two cores busy through intra-op parallelism alone; batch-level parallelism does (on 2 cores, bf16:
    about 17 % less time per window, ``docs/performance.md``). The probabilities are the same as with one
    worker: each batch is computed the same way, only the batches overlap in time.
    """
    workers = int(workers)
    if workers < 1:
        raise ValueError(f"workers must be ≥ 1, got {workers}")

    def score(base, batch) -> tuple[np.ndarray, torch.Tensor | None]:
        # inference mode and autocast are per thread: each worker enters its own
        with torch.inference_mode(), autocast_like_training(base, mixed_precision):
            out = base.forward_stage2(batch, class_weights=class_weights)
            return torch.softmax(out.logits.float(), dim=-1).cpu().numpy(), out.loss

    with _eval_mode(model) as base:
        batches = _stage2_batches(base, items, batch_size, labels=True)
        if workers == 1:
            scored = [(n, score(base, batch)) for n, batch in batches]
        else:
            with _torch_threads(max(1, torch.get_num_threads() // workers)), ThreadPoolExecutor(workers) as pool:
                futures = [(n, pool.submit(score, base, batch)) for n, batch in batches]
                scored = [(n, f.result()) for n, f in futures]
    probs = [p for _, (p, _) in scored]
    losses = [(float(loss) * n, n) for n, (_, loss) in scored if loss is not None]
    p = np.concatenate(probs) if probs else np.zeros((0, 0))
    counts = sum(n for _, n in losses)
    return p, (sum(v for v, _ in losses) / counts if counts else None)


@torch.inference_mode()
def head_features(model, items: Stage2Items, batch_size: int = 8) -> torch.Tensor:
    """``(N, F)`` float32 features the Stage-2 head reads (``SensorLLM.head_features``: the last-token final
    hidden state for the paper's head) for Stage-2 items, on the CPU; computed where the model is."""
    with _eval_mode(model) as base:
        out = [base.head_features(batch).float().cpu()
               for _, batch in _stage2_batches(base, items, batch_size, labels=False)]
    return torch.cat(out) if out else torch.zeros(0, base.config.head_width(base.hidden_size))
