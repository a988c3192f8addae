"""Padding examples into a :class:`~sensorllm.model.batch.SensorBatch`.

- :func:`collate_items`: Stage-2 items (:class:`~sensorllm.data.items.Stage2Items`) straight from their windows:
  the batch's series are the items' ``(B, C, L)`` float32 rows as one tensor; the token ids are laid out once per
  text by the model's :class:`~sensorllm.model.prompts.PromptBuilder` (the sensor block is the same for every
  window of a batch).
- :func:`collate`: examples laid out one by one (:meth:`PromptBuilder.stage1 <sensorllm.model.prompts.PromptBuilder.stage1>`,
  :meth:`~sensorllm.model.prompts.PromptBuilder.stage2`). When every example has the same channels and length the
  series are stacked into ``(B, C, L)`` windows as well; otherwise (Stage 1's single-channel windows of many
  lengths) they stay a ragged list, each with its example and channel.

Padding is on the right for training and on the left for generation; ``text_first`` Stage-2 batches are padded
on the left, so that their sensor blocks line up in the same columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch

from sensorllm.model import AllMissingError, PromptBuilder, PromptError, SensorBatch, SequenceTooLongError
from sensorllm.model.prompts import IGNORE_INDEX, Stage1Example, Stage2Example

from .items import Stage2Items

__all__ = ["collate", "collate_items"]

PaddingSide = Literal["right", "left"]


def collate_items(prompts: PromptBuilder, items: Stage2Items, labels: bool = True,
                  padding_side: PaddingSide | None = None) -> SensorBatch:
    """A batch of Stage-2 items: series ``(B, C, L)`` float32 (the items' rows, channels in the model's order),
    token ids of each text, ``class_labels`` when ``labels`` and the items have them.

    Raises:
        PromptError / SequenceTooLongError: an unknown channel, series longer than the encoder reads, or a
            sequence longer than ``max_length``.
        AllMissingError: a channel of a window has no finite sample.
    """
    if len(items) == 0:
        raise PromptError("empty batch")
    _, n_channels, length = items.series.shape
    if n_channels == 0:
        raise PromptError("an example needs at least one channel")
    for name in items.channels:
        prompts.check_channel(name, length)
    order = prompts.ordered_channels(items.channels)
    series = items.series
    if order != list(items.channels):
        series = series[:, [items.channels.index(c) for c in order]]
    finite = np.isfinite(series).any(axis=2)  # (B, C)
    if not finite.all():
        b, c = (int(v) for v in np.argwhere(~finite)[0])
        raise AllMissingError(f"example {b}, channel {order[c]!r}: every sample is NaN/inf (nothing to encode)")
    lengths = dict.fromkeys(order, length)
    ids = [prompts.stage2_ids(lengths, text) for text in items.texts]
    n_ts = n_channels * prompts.tokens_per_series(length)
    input_ids, mask, _ = _pad(prompts, ids, None, _side(prompts, padding_side, stage2=True), [n_ts] * len(ids))
    class_labels = (torch.as_tensor(items.labels, dtype=torch.long)
                    if labels and items.labels is not None else None)
    return SensorBatch(input_ids, mask, torch.from_numpy(np.ascontiguousarray(series)), channels=tuple(order),
                       class_labels=class_labels)


def collate(prompts: PromptBuilder, examples: Sequence[Stage1Example | Stage2Example],
            padding_side: PaddingSide | None = None) -> SensorBatch:
    """Pad examples into a batch (right padding for training, left for generation; ``None``: left for
    ``text_first`` Stage-2 examples, right otherwise). Stage-1 examples give ``labels``; Stage-2 examples with
    every label known give ``class_labels``.

    Raises:
        SequenceTooLongError: an example is longer than ``max_length``.
    """
    if not examples:
        raise PromptError("empty batch")
    stage1 = all(isinstance(e, Stage1Example) for e in examples)
    stage2 = all(isinstance(e, Stage2Example) for e in examples)
    ids = [list(e.input_ids) for e in examples]
    label_rows = [list(e.labels) for e in examples] if stage1 else None  # type: ignore[union-attr]
    n_ts = [sum(prompts.tokens_per_series(len(s)) for s in e.series.values()) for e in examples]
    side = _side(prompts, padding_side, stage2)
    input_ids, mask, labels = _pad(prompts, ids, label_rows, side, n_ts)
    weights = _weights(examples, input_ids.shape[1], side) if stage1 else None
    class_labels = None
    if stage2 and all(e.label is not None for e in examples):  # type: ignore[union-attr]
        class_labels = torch.tensor([e.label for e in examples], dtype=torch.long)  # type: ignore[union-attr]
    orders = [prompts.ordered_channels(e.series) for e in examples]
    lengths = {len(e.series[c]) for e, order in zip(examples, orders, strict=True) for c in order}
    if len(lengths) == 1 and all(order == orders[0] for order in orders):  # windows: one (B, C, L) tensor
        windows = np.stack([np.stack([np.asarray(e.series[c], dtype=np.float32) for c in orders[0]])
                            for e in examples])
        return SensorBatch(input_ids, mask, torch.from_numpy(windows), channels=tuple(orders[0]), labels=labels,
                           class_labels=class_labels, label_weights=weights)
    series, series_example, series_channel = [], [], []
    for b, (e, order) in enumerate(zip(examples, orders, strict=True)):
        for name in order:
            series.append(torch.from_numpy(np.asarray(e.series[name], dtype=np.float32)))
            series_example.append(b)
            series_channel.append(name)
    return SensorBatch(input_ids, mask, series, series_example=series_example, series_channel=series_channel,
                       labels=labels, class_labels=class_labels, label_weights=weights)


def _weights(examples: Sequence[Stage1Example], width: int, side: PaddingSide) -> torch.Tensor | None:
    """``(B, S)`` loss weights of Stage-1 targets (1 on the answer of an example without weights, 0 on
    padding), or ``None`` when no example has weights."""
    if all(e.label_weights is None for e in examples):
        return None
    out = torch.zeros((len(examples), width), dtype=torch.float32)
    for b, e in enumerate(examples):
        row = (torch.tensor(e.label_weights, dtype=torch.float32) if e.label_weights is not None
               else (torch.tensor(e.labels) != IGNORE_INDEX).float())
        out[b, _row_slice(side, len(row), width)] = row
    return out


def _row_slice(side: PaddingSide, n: int, width: int) -> slice:
    """Where a row of ``n`` real tokens sits in a batch ``width`` wide, padded on ``side``."""
    return slice(0, n) if side == "right" else slice(width - n, width)


def _side(prompts: PromptBuilder, padding_side: PaddingSide | None, stage2: bool) -> PaddingSide:
    if padding_side is not None:
        return padding_side
    return "left" if stage2 and prompts.stage2_layout == "text_first" else "right"


def _pad(prompts: PromptBuilder, ids: list[list[int]], label_rows: list[list[int]] | None, side: PaddingSide,
         n_ts: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``(input_ids (B, S), attention_mask (B, S), labels (B, S) or None)``, padded on ``side``."""
    lengths = [len(x) for x in ids]
    if prompts.max_length is not None:
        for i, (n, placeholders) in enumerate(zip(lengths, n_ts, strict=True)):
            if n > prompts.max_length:
                raise SequenceTooLongError(
                    f"example {i}: {n} tokens ({placeholders} of them sensor placeholders) exceed max_length "
                    f"{prompts.max_length}; use fewer/shorter channels or a larger projector pool factor"
                )
    B, S = len(ids), max(lengths)
    input_ids = torch.full((B, S), prompts.layout.pad_id, dtype=torch.long)
    mask = torch.zeros((B, S), dtype=torch.long)
    labels = torch.full((B, S), IGNORE_INDEX, dtype=torch.long) if label_rows is not None else None
    for b, n in enumerate(lengths):
        sl = _row_slice(side, n, S)
        input_ids[b, sl] = torch.tensor(ids[b])
        mask[b, sl] = 1
        if labels is not None:
            labels[b, sl] = torch.tensor(label_rows[b])  # type: ignore[index]
    return input_ids, mask, labels
