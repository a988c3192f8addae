"""Dataset specifications: the single source of truth for every dataset.

A :class:`DatasetSpec` says everything the pipeline needs to know about a dataset — its channels
(with names, sensor, placement and units), the sampling rate used, the classes, the Stage-1 and
Stage-2 windowing and the subject split — plus the function that reads its raw files. Special-token
strings, prompt texts, class weights and split manifests are all *derived* from the spec; nothing
downstream branches on a dataset's name.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Literal, Sequence

import numpy as np

__all__ = [
    "ChannelSpec",
    "ClassSpec",
    "DatasetSpec",
    "Recording",
    "Loader",
    "DataError",
    "class_records",
]

SensorKind = Literal["acc", "gyro", "mag", "other"]


class DataError(ValueError):
    """Bad or missing input data. The message names the file, line/column or channel and value."""


@dataclass(frozen=True)
class ChannelSpec:
    """One sensor channel.

    Attributes:
        name: token stem, unique within a dataset (``x_acc``, ``chest_x_acc``); the special tokens are
            ``<{name}_start>`` / ``<{name}_end>``.
        description: human-readable name used in texts (``"chest x-axis accelerometer"``).
        sensor: sensor kind (``acc``, ``gyro``, ``mag``, ``other``).
        axis: ``x``, ``y``, ``z`` or ``""``.
        placement: body location (``waist``, ``chest``, ``left ankle``, ...).
        unit: physical unit of the values after loading (``g``, ``m/s^2``, ``rad/s``, ``deg/s``, ``uT``).
        sensor_range: full-scale magnitude of the sensor in ``unit`` (for saturation counts), if known.
    """

    name: str
    description: str
    sensor: SensorKind
    axis: str
    placement: str
    unit: str
    sensor_range: float | None = None

    @property
    def start_token(self) -> str:
        return f"<{self.name}_start>"

    @property
    def end_token(self) -> str:
        return f"<{self.name}_end>"


@dataclass(frozen=True)
class ClassSpec:
    """One activity class.

    Attributes:
        raw_id: the integer label id the loader writes for this class (as written in the raw files, or the
            class's position for datasets that label by text).
        name: the readable class name: the text label of reports, prompts and zero-shot scoring.
        description: optional one-line description of the activity (``""`` if none); stored in the manifest
            (``class_descriptions`` and ``spec.classes[i].description``) for label texts.
        code: the string the raw label cells use for this class when it differs from ``name`` (``"PEN"`` for
            ``"pendulum swing"``); ``""`` when the cells hold the name or the id.
    """

    raw_id: int
    name: str
    description: str = ""
    code: str = ""


@dataclass
class Recording:
    """A contiguous recording of one subject, already in the spec's channel order, units and rate.

    Attributes:
        subject: subject id as a string (``"1"``, ``"P101"``).
        source: the raw file it came from (for error messages and the manifest checksums); several files
            are joined with ``" + "``.
        data: ``(N, C)`` float64 samples; NaN marks missing samples.
        labels: ``(N,)`` int64 raw label ids; any id not in the spec's classes is "unlabelled".
        fixed_split: ``"train"``/``"test"`` when the raw data fixes the split per recording (UEA archives,
            official UCI-HAR windows); ``None`` when the split goes by subject.
        name: the recording's id within its subject where the raw data names it (the generic loader's
            recording column); ``""`` otherwise. Only informative: recordings are kept apart regardless.
    """

    subject: str
    source: str
    data: np.ndarray
    labels: np.ndarray
    fixed_split: Literal["train", "test"] | None = None
    name: str = ""


Loader = Callable[["DatasetSpec", Path], Iterator[Recording]]
"""Reads a raw directory and yields recordings at the spec's *raw* rate (resampling happens later)."""


@dataclass(frozen=True)
class DatasetSpec:
    """Everything about one dataset.

    Attributes:
        name: registry key (``uci-har``).
        title: full name for tables and reports.
        channels: ordered channels; data arrays use this order.
        rate_hz: sampling rate the method uses (after resampling).
        raw_rate_hz: sampling rate of the raw files; resampled to ``rate_hz`` with a polyphase filter.
        classes: the classes kept, in class-index order (index i ↔ ``classes[i]``).
        window: Stage-2 window length in samples (at ``rate_hz``).
        stride: Stage-2 window stride in samples.
        stage1_window: inclusive (min, max) range of Stage-1 random window lengths.
        test_subjects: subjects of the test split (ignored for recordings with ``fixed_split``).
        train_subjects: subjects of the training pool; ``None`` = every subject that is not a test subject.
        val_fraction: fraction of training subjects held out (seeded) for validation / model selection.
        val_subjects: explicit validation subjects (drawn from the training pool); when set, ``val_fraction``
            is not used. ``sensorllm prepare --val-subjects`` / ``--val-fraction`` override both.
        loader: reads the raw directory.
        raw_layout: one line describing the expected raw files (shown in errors and docs).
        download: where to obtain the raw data.
        citation: the dataset paper.
        tail_window: also cut one window aligned to the end of a labelled run when samples remain after
            the last stride (the reference mHealth notebook does this).
        stage1_train_passes: how many independent random partitions of each training run Stage 1 makes
            (the reference notebook makes two; duplicates are dropped).
        window_fraction: keep only this seeded fraction of windows per subject (CAPTURE-24: 0.05).
        max_gap: longest run of missing samples (at the raw rate) that is interpolated; windows touching
            longer gaps are dropped and counted.
        notes: free text shown by ``sensorllm datasets --verbose``.
    """

    name: str
    title: str
    channels: tuple[ChannelSpec, ...]
    rate_hz: float
    raw_rate_hz: float
    classes: tuple[ClassSpec, ...]
    window: int
    stride: int
    stage1_window: tuple[int, int]
    test_subjects: tuple[str, ...]
    loader: Loader = field(repr=False, compare=False)
    train_subjects: tuple[str, ...] | None = None
    val_fraction: float = 0.15
    val_subjects: tuple[str, ...] | None = None
    raw_layout: str = ""
    download: str = ""
    citation: str = ""
    tail_window: bool = False
    stage1_train_passes: int = 1
    window_fraction: float = 1.0
    max_gap: int = 10
    notes: str = ""

    def __post_init__(self) -> None:
        names = [c.name for c in self.channels]
        if len(set(names)) != len(names):
            raise ValueError(f"dataset {self.name!r}: duplicate channel names in {names}")
        ids = [c.raw_id for c in self.classes]
        if len(set(ids)) != len(ids):
            raise ValueError(f"dataset {self.name!r}: duplicate class ids {ids}")
        cnames = [c.name for c in self.classes]
        if len(set(cnames)) != len(cnames):
            dup = sorted({n for n in cnames if cnames.count(n) > 1})
            raise ValueError(f"dataset {self.name!r}: duplicate class names {dup}")
        if self.val_subjects is not None:
            both = sorted(set(self.val_subjects) & set(self.test_subjects))
            if both:
                raise ValueError(f"dataset {self.name!r}: subjects {both} are both validation and test subjects")
        lo, hi = self.stage1_window
        if not (1 <= lo <= hi):
            raise ValueError(f"dataset {self.name!r}: bad stage1_window {self.stage1_window}")
        if self.window < 2 or self.stride < 1:
            raise ValueError(f"dataset {self.name!r}: bad window/stride {self.window}/{self.stride}")
        if not 0.0 < self.window_fraction <= 1.0:
            raise ValueError(f"dataset {self.name!r}: window_fraction must be in (0, 1]")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"dataset {self.name!r}: val_fraction must be in [0, 1)")

    # ---- derived views -------------------------------------------------------------------------
    @property
    def channel_names(self) -> list[str]:
        return [c.name for c in self.channels]

    @property
    def class_names(self) -> list[str]:
        return [c.name for c in self.classes]

    @property
    def class_descriptions(self) -> list[str]:
        """One-line class descriptions in class-index order (``""`` where a class has none)."""
        return [c.description for c in self.classes]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def class_index(self) -> dict[int, int]:
        """Map raw label id → class index (0-based, in ``classes`` order)."""
        return {c.raw_id: i for i, c in enumerate(self.classes)}

    def special_tokens(self) -> list[str]:
        """``<{channel}_start>``, ``<{channel}_end>`` for every channel, in channel order."""
        out: list[str] = []
        for c in self.channels:
            out += [c.start_token, c.end_token]
        return out

    def replace(self, **changes: object) -> "DatasetSpec":
        """A copy with some fields changed (e.g. ``val_fraction``)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def channel(self, name: str) -> ChannelSpec:
        for c in self.channels:
            if c.name == name:
                return c
        raise KeyError(f"dataset {self.name!r} has no channel {name!r}; channels: {self.channel_names}")

    def to_json(self) -> dict:
        """JSON-able description (without the loader), stored in manifests and checkpoints."""
        return {
            "name": self.name,
            "title": self.title,
            "channels": [dataclasses.asdict(c) for c in self.channels],
            "rate_hz": self.rate_hz,
            "raw_rate_hz": self.raw_rate_hz,
            "classes": [dataclasses.asdict(c) for c in self.classes],
            "window": self.window,
            "stride": self.stride,
            "stage1_window": list(self.stage1_window),
            "test_subjects": list(self.test_subjects),
            "train_subjects": None if self.train_subjects is None else list(self.train_subjects),
            "val_fraction": self.val_fraction,
            "val_subjects": None if self.val_subjects is None else list(self.val_subjects),
            "tail_window": self.tail_window,
            "stage1_train_passes": self.stage1_train_passes,
            "window_fraction": self.window_fraction,
            "max_gap": self.max_gap,
        }


def channels_from_json(items: Sequence[dict]) -> tuple[ChannelSpec, ...]:
    """Rebuild channel specs from :meth:`DatasetSpec.to_json` output."""
    return tuple(ChannelSpec(**it) for it in items)


def class_records(names: Sequence[str], spec_classes: Sequence[dict] | None = None) -> list[dict[str, str]]:
    """``[{"name", "code", "description"}, ...]`` for the classes ``names`` (class-index order), the codes and
    descriptions taken by name from a spec's classes (:meth:`DatasetSpec.to_json` ``["classes"]``); ``""``
    where the spec has none (or no spec is given). What a trained model stores so that label columns of
    codes can be read at inference."""
    by_name = {str(c.get("name")): c for c in spec_classes or [] if isinstance(c, dict)}
    return [{"name": str(n), "code": str(by_name.get(str(n), {}).get("code") or ""),
             "description": str(by_name.get(str(n), {}).get("description") or "")} for n in names]
