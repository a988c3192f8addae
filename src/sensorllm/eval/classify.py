"""Batched Stage-2 inference: class probabilities for a list of windows."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

__all__ = ["predict_proba", "last_token_features"]


@torch.inference_mode()
def predict_proba(model, items: Sequence, batch_size: int = 8, class_weights: torch.Tensor | None = None
                  ) -> tuple[np.ndarray, float | None]:
    """``(N, K)`` softmax probabilities for Stage-2 items (``.series``, ``.text``, ``.label``); also the mean
    (weighted) CE loss when every item has a label."""
    base = getattr(model, "module", model)
    was_training = base.training
    base.eval()
    device = next(base.projector.parameters()).device
    probs, losses, counts = [], [], 0
    for a in range(0, len(items), batch_size):
        chunk = items[a : a + batch_size]
        exs = [base.prompts.stage2(it.series, text=it.text, label=it.label) for it in chunk]
        out = base.forward_stage2(base.prompts.collate(exs).to(device), class_weights=class_weights)
        probs.append(torch.softmax(out.logits.float(), dim=-1).cpu().numpy())
        if out.loss is not None:
            losses.append(float(out.loss) * len(chunk))
            counts += len(chunk)
    base.train(was_training)
    p = np.concatenate(probs) if probs else np.zeros((0, 0))
    return p, (sum(losses) / counts if counts else None)


@torch.inference_mode()
def last_token_features(model, items: Sequence, batch_size: int = 8) -> torch.Tensor:
    """``(N, H)`` float32 last-token final hidden states (what the Stage-2 head reads) for Stage-2 items, on the
    CPU; computed where the model is."""
    base = getattr(model, "module", model)
    was_training = base.training
    base.eval()
    device = next(base.projector.parameters()).device
    out = []
    for a in range(0, len(items), batch_size):
        exs = [base.prompts.stage2(it.series, text=it.text) for it in items[a : a + batch_size]]
        out.append(base.last_hidden(base.prompts.collate(exs).to(device)).float().cpu())
    base.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, base.hidden_size)
