"""What the model reads: a padded batch of token ids with the sensor series it carries.

The series come in one of two forms:

- **windows** (Stage 2, and any batch whose examples share their channels and length): one ``(B, C, L)`` float32
  tensor, ``series[b, c]`` the ``c``-th channel (``channels[c]``) of example ``b``. It goes to the encoder in one
  piece (:meth:`~sensorllm.model.encoder.SensorEncoder.encode_windows`), through pooling and the projector as
  ``(B, C, n, ·)``, and is spliced into the text row by row.
- **ragged** (Stage 1's single-channel windows of many lengths): ``N`` 1-D float32 tensors, with the example
  (``series_example``) and channel (``series_channel``) of each; the encoder groups them by length.

Batches are made by :mod:`sensorllm.data.collate` from the examples that :class:`~.prompts.PromptBuilder` lays out.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

__all__ = ["SensorBatch"]


@dataclass
class SensorBatch:
    """A padded batch.

    Attributes:
        input_ids: ``(B, S)`` int64.
        attention_mask: ``(B, S)`` int64, 1 on real tokens.
        series: ``(B, C, L)`` float32 windows (every example has the channels ``channels``, in that order), or a
            list of ``N`` 1-D float32 series (ragged: all channels of all examples, in text order).
        channels: the ``C`` channel names of ``(B, C, L)`` windows (empty for ragged series).
        series_example: ragged series only: the example of each series.
        series_channel: ragged series only: the channel of each series.
        labels: ``(B, S)`` int64 Stage-1 targets (``-100`` = ignored), or ``None``.
        label_weights: ``(B, S)`` float32 loss weight of each Stage-1 target, or ``None`` (weight 1 on each).
        class_labels: ``(B,)`` int64 Stage-2 classes, or ``None``.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    series: torch.Tensor | list[torch.Tensor]
    channels: tuple[str, ...] = ()
    series_example: list[int] = field(default_factory=list)
    series_channel: list[str] = field(default_factory=list)
    labels: torch.Tensor | None = None
    class_labels: torch.Tensor | None = None
    label_weights: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.is_windows:
            if self.series.ndim != 3 or self.series.shape[:2] != (self.batch_size, len(self.channels)):
                raise ValueError(f"windows must be (B={self.batch_size}, C={len(self.channels)}, L), got "
                                 f"{tuple(self.series.shape)}")
        elif not len(self.series) == len(self.series_example) == len(self.series_channel):
            raise ValueError(f"{len(self.series)} ragged series, {len(self.series_example)} example indices and "
                             f"{len(self.series_channel)} channel names: counts differ")

    @property
    def is_windows(self) -> bool:
        """Whether the series are one ``(B, C, L)`` tensor (else a ragged list)."""
        return isinstance(self.series, torch.Tensor)

    @property
    def batch_size(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def num_series(self) -> int:
        """How many series the batch carries (``B·C`` for windows)."""
        return int(self.series.shape[0] * self.series.shape[1]) if self.is_windows else len(self.series)

    def to(self, device: torch.device | str) -> SensorBatch:
        """Move the token tensors (series stay on the CPU: the encoder moves what it reads, and the embedding
        cache hashes them there)."""
        return replace(
            self,
            input_ids=self.input_ids.to(device),
            attention_mask=self.attention_mask.to(device),
            labels=None if self.labels is None else self.labels.to(device),
            class_labels=None if self.class_labels is None else self.class_labels.to(device),
            label_weights=None if self.label_weights is None else self.label_weights.to(device),
        )
