"""The Chronos objective: a fresh Chronos-T5 (``T5ForConditionalGeneration`` of a published shape, recording
its tokeniser and provenance in its config) and its cross-entropy on the target ids (teacher forcing)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from sensorllm.model.encoder_chronos import TOKENIZER_RECORD_KEY, chronos_t5_config
from sensorllm.model.prompts import IGNORE_INDEX

from .config import PretrainEncoderConfig
from .data import TokenisedSeries

__all__ = ["loss_sum", "new_model", "validation_loss"]


def new_model(cfg: PretrainEncoderConfig, provenance: dict):
    """A seeded random ``T5ForConditionalGeneration`` of ``cfg.model.size``; its config records the tokeniser
    (under :data:`~sensorllm.model.encoder_chronos.TOKENIZER_RECORD_KEY`) and ``provenance``
    (``sensorllm_pretrain``)."""
    from transformers import T5ForConditionalGeneration

    m = cfg.model
    t5_cfg = chronos_t5_config(
        m.size,
        m.tokenizer(),
        prediction_length=m.prediction_length,
        dropout=m.dropout,
        **{TOKENIZER_RECORD_KEY: dict(vars(m.tokenizer())), "sensorllm_pretrain": provenance},
    )
    torch.manual_seed(m.seed)
    return T5ForConditionalGeneration(t5_cfg)


def loss_sum(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Summed cross-entropy over target tokens and their count."""
    logits = model(**batch).logits  # (B, pred + 1, V); T5 shifts the labels right itself
    labels = batch["labels"]
    flat = logits.float().reshape(-1, logits.shape[-1])
    loss = F.cross_entropy(flat, labels.reshape(-1), ignore_index=IGNORE_INDEX, reduction="sum")
    return loss, int((labels != IGNORE_INDEX).sum())


@torch.no_grad()
def validation_loss(model, data: TokenisedSeries, batch_size: int, device: torch.device) -> float:
    """Mean cross-entropy per target token (nats) over ``data``, in eval mode (no dropout)."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for k in range(0, len(data), batch_size):
        s, n = loss_sum(model, data.take(np.arange(k, min(k + batch_size, len(data))), device))
        total, count = total + float(s), count + n
    model.train(was_training)
    return total / max(count, 1)
