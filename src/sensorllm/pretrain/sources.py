"""The training series of a pre-training run, one :class:`~.config.PretrainSource` at a time.

A source gives ``(N, length)`` float32 single-channel series (NaN = missing; a row is one channel of one
window) and a record of where they came from (:class:`SourceSeries`). Two kinds:

- ``prepared``: the Stage-2 windows of a split of a prepared dataset (:func:`motion_series`).
- ``raw``: whole raw recordings of a registered dataset, read by its own loader (what ``sensorllm prepare``
  reads), of the TRAINING subjects only: the subjects are assigned to train/val/test by
  :func:`sensorllm.datasets.subject_splits.assign_splits`, the function ``prepare`` uses, with the seed (and
  ``--paper-split``) of the scored dataset when it is the same dataset. Labels are not read: unlabelled
  stretches and transitions are series like any other. Each recording is gap-repaired as ``prepare`` does
  (:func:`~sensorllm.datasets.windows.repair_gaps`: short gaps interpolated, windows touching long ones
  dropped), kept at the dataset's own rate unless the source names a ``rate_hz`` (then resampled with
  :func:`~sensorllm.datasets.windows.resample`, ``prepare``'s anti-aliased filter), and cut every ``stride``
  samples (:func:`~sensorllm.datasets.windows.fixed_windows`, one more series aligned to its end); a
  recording shorter than the series length gives one series left-padded with NaN (masked context, as Chronos
  pads short contexts) when it holds more than the target.

Leakage guard (:func:`check_no_held_out_subjects`): whatever the kind, a source of the scored dataset (the
same dataset name as ``data.prepared``) may only hold subjects of the scored dataset's ``train`` split; any
validation or test subject is an error that names them.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sensorllm.datasets import get_dataset_spec
from sensorllm.datasets.options import PrepareOptions
from sensorllm.datasets.prepared import PreparedDataset, open_prepared
from sensorllm.datasets.spec import DatasetSpec
from sensorllm.datasets.subject_splits import assign_splits
from sensorllm.datasets.windows import fixed_windows, repair_gaps, resample

from .config import PretrainSource

__all__ = ["SourceSeries", "check_no_held_out_subjects", "cut_recording", "motion_series",
           "raw_source_series", "source_series", "subset_rows"]


@dataclass
class SourceSeries:
    """One source's series and its record (``info``: kind, dataset, rate, subjects, counts)."""

    rows: torch.Tensor  # (N, length) float32, NaN = missing
    info: dict[str, Any] = field(default_factory=dict)


def check_no_held_out_subjects(
    dataset: str, subjects: Iterable[str], scored: PreparedDataset, what: str
) -> None:
    """Raise when ``subjects`` of ``dataset`` include a validation or test subject of the scored dataset.

    Only sources of the scored dataset (same dataset name) are checked: another dataset's subjects are other
    people. Subjects the scored dataset does not know (e.g. recordings it dropped) are allowed.
    """
    if dataset != scored.name:
        return
    held = {s: split for split in ("val", "test")
            for s in scored.manifest.get("splits", {}).get(split, {}).get("subjects", [])}
    bad = sorted({s for s in subjects if s in held}, key=lambda s: (len(s), s))
    if bad:
        raise ValueError(
            f"{what} holds {dataset} subjects {bad}, which are {'/'.join(sorted({held[s] for s in bad}))} "
            f"subjects of the scored dataset {scored.root}: pre-training must not see them (use the train "
            "split, or the split_seed the scored dataset was prepared with)"
        )


def cut_recording(
    x: np.ndarray, valid: np.ndarray, length: int, stride: int, min_observed: int
) -> np.ndarray:
    """Single-channel series of ``length`` samples from one recording ``x`` ``(T, C)``.

    Windows start every ``stride`` samples (plus one aligned to the end); windows touching invalid samples are
    dropped. A recording shorter than ``length`` but longer than ``min_observed`` samples gives one series
    left-padded with NaN (when all its samples are valid).

    Returns:
        ``(n_windows * C, length)`` float32, channel-major within a window.
    """
    t, c = x.shape
    if t < length:
        if t <= min_observed or not valid.all():
            return np.zeros((0, length), dtype=np.float32)
        pad = np.full((length - t, c), np.nan)
        return np.concatenate([pad, x]).T.astype(np.float32)
    starts = fixed_windows(0, t, length, stride, tail=True)
    bad = np.concatenate([[0], np.cumsum(~valid)])
    starts = starts[bad[starts + length] == bad[starts]]
    if len(starts) == 0:
        return np.zeros((0, length), dtype=np.float32)
    win = x[starts[:, None] + np.arange(length)[None, :]]  # (n, length, C)
    return np.ascontiguousarray(win.transpose(0, 2, 1).reshape(-1, length), dtype=np.float32)


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
        raise ValueError(f"unknown channel(s) {unknown}; {data.root} has {names}")
    cols = [names.index(c) for c in channels] if channels else list(range(len(names)))
    windows = data.stage2(split).windows  # (N, L, C) memory-mapped
    if windows.shape[1] < length:
        raise ValueError(
            f"{data.root} {split} windows have {windows.shape[1]} samples; context + prediction needs "
            f"{length} (lower model.context_length / model.prediction_length)"
        )
    x = np.asarray(windows[:, :length, cols], dtype=np.float32)  # (N, length, c)
    rows = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 2, 1).reshape(-1, length)))
    return subset_rows(rows[torch.isfinite(rows).any(dim=1)], limit, seed)


def subset_rows(rows: torch.Tensor, limit: int | None, seed: int, label: str = "") -> torch.Tensor:
    """A seeded subset of ``limit`` rows (in their order; all of them when ``limit`` is None or not smaller),
    drawn per source when ``label`` names one (the run's series as a whole: no label)."""
    if limit is None or rows.shape[0] <= limit:
        return rows
    key = [seed, 17, zlib.crc32(label.encode())] if label else [seed, 17]
    pick = np.sort(np.random.default_rng(key).choice(rows.shape[0], size=limit, replace=False))
    return rows[torch.from_numpy(pick)]


def _split_options(spec: DatasetSpec, source: PretrainSource, scored: PreparedDataset) -> PrepareOptions:
    """``prepare``'s options for the subject split: the scored dataset's seed and paper split when it is the
    same dataset (unless the source names a seed), else ``prepare``'s defaults."""
    same = spec.name == scored.name
    seed = source.split_seed
    if seed is None:
        seed = int(scored.manifest.get("seed", 0)) if same else 0
    paper = bool(scored.manifest.get("paper_split", False)) if same else False
    return PrepareOptions(seed=seed, paper_split=paper, progress=False)


def raw_source_series(
    source: PretrainSource, length: int, prediction_length: int, scored: PreparedDataset
) -> SourceSeries:
    """The series of a ``raw`` source: its dataset's training subjects' whole recordings (see the module)."""
    spec = get_dataset_spec(source.dataset)
    names = spec.channel_names
    unknown = [c for c in source.channels if c not in names]
    if unknown:
        raise ValueError(f"source {source.label}: unknown channel(s) {unknown}; {spec.name} has {names}")
    cols = [names.index(c) for c in source.channels] if source.channels else list(range(len(names)))
    rate = float(source.rate_hz) if source.rate_hz is not None else float(spec.rate_hz)
    stride = source.stride or prediction_length
    per_subject: dict[str, list[np.ndarray]] = {}
    fixed: dict[str, str] = {}
    n_recordings: dict[str, int] = {}
    for rec in spec.loader(spec, Path(source.raw)):
        if rec.fixed_split:
            fixed[rec.subject] = rec.fixed_split
        data, valid, _ = repair_gaps(rec.data[:, cols], spec.max_gap)
        data, _, valid = resample(data, rec.labels, valid, spec.raw_rate_hz, rate)
        cut = cut_recording(data, valid, length, stride, prediction_length)
        per_subject.setdefault(rec.subject, []).append(cut)
        n_recordings[rec.subject] = n_recordings.get(rec.subject, 0) + 1
    if not per_subject:
        raise ValueError(f"source {source.label}: {source.raw} holds no recordings")
    opts = _split_options(spec, source, scored)
    splits = assign_splits(per_subject, spec, opts, fixed)
    train = splits["train"]
    check_no_held_out_subjects(spec.name, train, scored, f"source {source.label}")
    parts = [r for s in train for r in per_subject[s]]
    rows = torch.from_numpy(np.concatenate(parts)) if parts else torch.zeros(0, length)
    total = int(rows.shape[0])
    rows = subset_rows(rows, source.max_series, opts.seed, source.label)
    info = {
        "name": source.label, "kind": "raw", "dataset": spec.name, "raw": source.raw,
        "rate_hz": rate, "raw_rate_hz": float(spec.raw_rate_hz), "resampled": rate != float(spec.raw_rate_hz),
        "channels": [names[c] for c in cols], "stride": stride, "split_seed": opts.seed,
        "paper_split": opts.paper_split, "subjects": list(train),
        "held_out_subjects": {"val": list(splits["val"]), "test": list(splits["test"])},
        "recordings": sum(n_recordings[s] for s in train), "series_available": total,
        "series": int(rows.shape[0]),
    }
    return SourceSeries(rows, info)


def source_series(
    source: PretrainSource, length: int, prediction_length: int, scored: PreparedDataset, seed: int
) -> SourceSeries:
    """The series of one source of either kind (``seed``: the run's, for a ``prepared`` source's subset)."""
    if source.kind == "raw":
        return raw_source_series(source, length, prediction_length, scored)
    data = open_prepared(source.prepared)
    if source.split not in data.splits():
        raise ValueError(f"source {source.label}: {data.root} has no '{source.split}' windows")
    subjects = np.unique(np.asarray(data.stage2(source.split).subjects)).tolist()  # type: ignore[arg-type]
    check_no_held_out_subjects(data.name, subjects, scored, f"source {source.label}")
    rows = motion_series(data, source.split, source.channels, length, None, seed)
    total = int(rows.shape[0])
    rows = subset_rows(rows, source.max_series, seed, source.label)
    info = {
        "name": source.label, "kind": "prepared", "dataset": data.name, "prepared": str(data.root),
        "split": source.split, "rate_hz": data.rate_hz,
        "channels": list(source.channels) or data.channel_names,
        "subjects": subjects, "series_available": total, "series": int(rows.shape[0]),
    }
    return SourceSeries(rows, info)
