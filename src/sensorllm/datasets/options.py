"""The options of ``sensorllm prepare`` (:func:`~sensorllm.datasets.prepare.prepare_dataset`), in a module of
their own so that the split assignment (:mod:`.subject_splits`) reads them without importing ``prepare``."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PrepareOptions"]


@dataclass(frozen=True)
class PrepareOptions:
    """Options of ``sensorllm prepare``.

    Attributes:
        seed: seeds the validation-subject draw, Stage-1 window lengths and window subsampling.
        paper_split: the paper's train/test only (no validation split).
        val_subjects: explicit validation subjects (overrides the spec's ``val_subjects`` and any fraction).
        val_fraction: fraction of training subjects for validation, drawn with ``seed`` (overrides the spec's
            ``val_fraction`` and ``val_subjects``).
        max_gap: longest repaired gap in raw samples (default: the spec's).
        progress: show a progress bar on stderr.
    """

    seed: int = 0
    paper_split: bool = False
    val_subjects: tuple[str, ...] | None = None
    val_fraction: float | None = None
    max_gap: int | None = None
    progress: bool = True
