"""The pre-training data: single-channel series (by default every channel of every Stage-2 window of the
training split; with ``data.sources`` those of each source, :mod:`.sources`), split into context and target and
tokenised as Chronos trains (``MeanScaleUniformBins``; the target scaled with the context's scale).

Labels are never read. :func:`load_data` gives the tokenised train and validation series of a run; validation
is always the scored dataset's (``data.prepared``) ``data.val_split``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from sensorllm.datasets.prepared import PreparedDataset, open_prepared
from sensorllm.model.prompts import IGNORE_INDEX

from .config import PretrainEncoderConfig, PretrainSource
from .sources import motion_series, source_series, subset_rows

__all__ = ["PretrainData", "TokenisedSeries", "load_data", "motion_series", "tokenise_series"]


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
    """A run's data: the scored prepared dataset (validation), tokenised train and validation series, the
    context length used, and one record per training source (:class:`~.sources.SourceSeries` ``info``)."""

    dataset: PreparedDataset
    train: TokenisedSeries
    val: TokenisedSeries | None
    context_length: int
    sources: list[dict] = field(default_factory=list)


def _window(data: PreparedDataset, split: str) -> int:
    """The scored dataset's Stage-2 window length (its manifest's, else its windows')."""
    w = data.manifest.get("window")
    return int(w) if w else int(data.stage2(split).windows.shape[1])  # type: ignore[arg-type]


def load_data(cfg: PretrainEncoderConfig) -> PretrainData:
    """Tokenised train and validation series (validation ``None`` when the split has no windows).

    Series length = context + prediction, the context defaulting to the scored dataset's window minus the
    prediction length. Training series: each of ``data.sources`` in turn (none: ``data.train_split`` of
    ``data.prepared``), concatenated, then the seeded ``max_train_series`` subset; validation:
    ``data.val_split`` of ``data.prepared``.
    """
    from chronos import ChronosConfig

    from sensorllm.model.series_tokenizer import chronos_config_dict

    if not cfg.data.prepared:
        raise ValueError("data.prepared is not set: point it at a directory written by `sensorllm prepare`")
    data = open_prepared(cfg.data.prepared)
    window = _window(data, cfg.data.train_split)
    m = cfg.model
    ctx = m.context_length if m.context_length is not None else window - m.prediction_length
    if ctx < 1:
        raise ValueError(
            f"windows of {window} samples leave no context before {m.prediction_length} target samples"
        )
    length = ctx + m.prediction_length
    chronos_cfg = ChronosConfig(**chronos_config_dict(m.tokenizer(), prediction_length=m.prediction_length))
    tok = chronos_cfg.create_tokenizer()

    sources = cfg.data.sources or (PretrainSource(prepared=cfg.data.prepared, split=cfg.data.train_split,
                                                  channels=cfg.data.channels),)
    parts, infos = [], []
    for src in sources:
        got = source_series(src, length, m.prediction_length, data, cfg.run.seed)
        print(f"source {got.info['name']}: {got.info['series']} series ({got.info['dataset']}, "
              f"{got.info['rate_hz']:g} Hz, {len(got.info['subjects'])} subjects)", flush=True)
        parts.append(got.rows)
        infos.append(got.info)
    rows = torch.cat(parts)
    rows = rows[torch.isfinite(rows[:, -m.prediction_length:]).any(dim=1)]
    train = tokenise_series(subset_rows(rows, cfg.data.max_train_series, cfg.run.seed), ctx, tok)
    if len(train) == 0:
        names = ", ".join(i["name"] for i in infos)
        raise ValueError(f"{names}: no series with observed target samples")
    val = None
    if cfg.data.val_split and cfg.data.val_split in data.splits():
        val_rows = motion_series(data, cfg.data.val_split, cfg.data.channels, length, cfg.data.max_val_series,
                                 cfg.run.seed)
        val = tokenise_series(val_rows, ctx, tok)
    else:
        print(f"note: {data.root} has no '{cfg.data.val_split}' windows: no validation, the final model is "
              "published", flush=True)
    return PretrainData(data, train, val, ctx, infos)
