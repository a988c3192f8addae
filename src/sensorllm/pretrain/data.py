"""The pre-training data: every channel of every Stage-2 window as one series, split into context and target
and tokenised as Chronos trains (``MeanScaleUniformBins``; the target scaled with the context's scale).

Labels are never read. :func:`load_data` gives the tokenised train and validation series of a run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from sensorllm.datasets.prepared import PreparedDataset, open_prepared
from sensorllm.model.prompts import IGNORE_INDEX

from .config import PretrainEncoderConfig

__all__ = ["PretrainData", "TokenisedSeries", "load_data", "motion_series", "tokenise_series"]


def motion_series(
    data: PreparedDataset, split: str, channels: tuple[str, ...], length: int, limit: int | None, seed: int
) -> torch.Tensor:
    """The first ``length`` samples of every selected channel of every Stage-2 window of ``split``.

    Returns:
        ``(N_windows · C, length)`` float32 (channel-major within a window), optionally a seeded subset of
        ``limit`` rows. Rows whose samples are all missing are dropped.

    Raises:
        ValueError: unknown channel names, or windows shorter than ``length``.
    """
    names = data.channel_names
    unknown = [c for c in channels if c not in names]
    if unknown:
        raise ValueError(f"unknown channel(s) {unknown} in data.channels; {data.root} has {names}")
    cols = [names.index(c) for c in channels] if channels else list(range(len(names)))
    windows = data.stage2(split).windows  # (N, L, C) memory-mapped
    if windows.shape[1] < length:
        raise ValueError(
            f"{data.root} {split} windows have {windows.shape[1]} samples; context + prediction needs "
            f"{length} (lower model.context_length / model.prediction_length)"
        )
    x = np.asarray(windows[:, :length, cols], dtype=np.float32)  # (N, length, c)
    rows = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 2, 1).reshape(-1, length)))
    rows = rows[torch.isfinite(rows).any(dim=1)]
    if limit is not None and rows.shape[0] > limit:
        pick = np.sort(np.random.default_rng([seed, 17]).choice(rows.shape[0], size=limit, replace=False))
        rows = rows[torch.from_numpy(pick)]
    return rows


@dataclass
class TokenisedSeries:
    """Chronos inputs: ``input_ids``/``attention_mask`` ``(N, ctx + 1)``, ``labels`` ``(N, pred + 1)``
    (−100 = missing target sample)."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    def take(self, idx: np.ndarray | torch.Tensor, device: torch.device) -> dict[str, torch.Tensor]:
        i = torch.as_tensor(idx, dtype=torch.long)
        return {
            "input_ids": self.input_ids[i].to(device),
            "attention_mask": self.attention_mask[i].to(device),
            "labels": self.labels[i].to(device),
        }


def tokenise_series(series: torch.Tensor, context_length: int, chronos_tokenizer) -> TokenisedSeries:
    """Split ``(N, ctx + pred)`` series into context and target and tokenise them as Chronos trains.

    The target is scaled by the context's ``mean|x|`` (``label_input_transform(target, scale)``), so the
    model must predict the next values' level relative to the context, as in Chronos. Rows whose target
    is entirely missing are dropped (they carry no loss).
    """
    context, target = series[:, :context_length], series[:, context_length:]
    chunks: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    for k in range(0, series.shape[0], 4096):
        ids, mask, scale = chronos_tokenizer.context_input_transform(context[k : k + 4096])
        labels, label_mask = chronos_tokenizer.label_input_transform(target[k : k + 4096], scale)
        labels = labels.clone()
        labels[~label_mask] = IGNORE_INDEX
        chunks.append((ids, mask, labels))
    ids, mask, labels = (torch.cat([c[j] for c in chunks]) for j in range(3))
    keep = (labels[:, :-1] != IGNORE_INDEX).any(dim=1)  # the last column is EOS
    return TokenisedSeries(ids[keep].long(), mask[keep].long(), labels[keep].long())


@dataclass
class PretrainData:
    """A run's data: the prepared dataset, tokenised train and validation series, the context length used."""

    dataset: PreparedDataset
    train: TokenisedSeries
    val: TokenisedSeries | None
    context_length: int


def load_data(cfg: PretrainEncoderConfig) -> PretrainData:
    """Tokenised train and validation series (validation ``None`` when the split has no windows)."""
    from chronos import ChronosConfig

    from sensorllm.model.series_tokenizer import chronos_config_dict

    if not cfg.data.prepared:
        raise ValueError("data.prepared is not set: point it at a directory written by `sensorllm prepare`")
    data = open_prepared(cfg.data.prepared)
    window = int(data.stage2(cfg.data.train_split).windows.shape[1])
    m = cfg.model
    ctx = m.context_length if m.context_length is not None else window - m.prediction_length
    if ctx < 1:
        raise ValueError(
            f"windows of {window} samples leave no context before {m.prediction_length} target samples"
        )
    chronos_cfg = ChronosConfig(**chronos_config_dict(m.tokenizer(), prediction_length=m.prediction_length))
    tok = chronos_cfg.create_tokenizer()

    def series(split: str, limit: int | None) -> TokenisedSeries:
        rows = motion_series(data, split, cfg.data.channels, ctx + m.prediction_length, limit, cfg.run.seed)
        return tokenise_series(rows, ctx, tok)

    train = series(cfg.data.train_split, cfg.data.max_train_series)
    if len(train) == 0:
        raise ValueError(f"{data.root} {cfg.data.train_split}: no series with observed target samples")
    val = None
    if cfg.data.val_split and cfg.data.val_split in data.splits():
        val = series(cfg.data.val_split, cfg.data.max_val_series)
    else:
        print(f"note: {data.root} has no '{cfg.data.val_split}' windows: no validation, the final model is "
              "published", flush=True)
    return PretrainData(data, train, val, ctx)
