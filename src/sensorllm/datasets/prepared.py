"""Reading a prepared dataset directory (written by ``sensorllm prepare``).

Layout (all arrays are ``.npy`` files without pickled objects, memory-mapped on load)::

    OUT/manifest.json
    OUT/labels.json                                                [{"name", "description"}, ...] per class
    OUT/stage2/{train,val,test}/windows.npy    float32 (N, L, C)   fixed-length windows
                               labels.npy     int64   (N,)        class index (0..K-1)
                               subjects.npy   str     (N,)        subject id
                               starts.npy     int64   (N,)        first sample in its recording (at rate_hz)
                               recordings.npy int64   (N,)        index into manifest["recordings"]
    OUT/stage1/{train,val,test}/values.npy     float32 (sum L_i, C) variable-length windows, concatenated
                               offsets.npy    int64   (N+1,)      window i = values[offsets[i]:offsets[i+1]]
                               labels.npy / subjects.npy / starts.npy / recordings.npy as above

Values are in the channel units of the spec (not normalised). Channel order = ``manifest["channels"]``.
Class names are ``manifest["classes"]`` (index order); their one-line descriptions (``""`` where none was given)
``manifest["class_descriptions"]``. ``labels.json`` holds both in the label-file format of
``sensorllm evaluate --labels @OUT/labels.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterator, Literal

import numpy as np

from .spec import ChannelSpec, ClassSpec, DataError, channels_from_json

__all__ = ["PreparedDataset", "WindowSet", "VarWindowSet", "open_prepared", "SPLITS"]

SPLITS = ("train", "val", "test")
Split = Literal["train", "val", "test"]


def _load(path: Path) -> np.ndarray:
    if not path.exists():
        raise DataError(f"missing file {path} (was `sensorllm prepare` run to completion?)")
    return np.load(path, mmap_mode="r", allow_pickle=False)


@dataclass
class WindowSet:
    """Fixed-length Stage-2 windows of one split. ``windows[i]`` is ``(L, C)`` float32."""

    windows: np.ndarray
    labels: np.ndarray
    subjects: np.ndarray
    starts: np.ndarray
    recordings: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass
class VarWindowSet:
    """Variable-length Stage-1 windows of one split; ``self[i]`` is ``(L_i, C)`` float32."""

    values: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray
    subjects: np.ndarray
    starts: np.ndarray
    recordings: np.ndarray

    def __len__(self) -> int:
        return int(self.offsets.shape[0] - 1)

    def __getitem__(self, i: int) -> np.ndarray:
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i %= len(self)
        return np.asarray(self.values[self.offsets[i] : self.offsets[i + 1]])

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self[i]


class PreparedDataset:
    """A prepared dataset directory: manifest plus memory-mapped windows per stage and split."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        mpath = self.root / "manifest.json"
        if not mpath.exists():
            raise DataError(f"{self.root} is not a prepared dataset: {mpath} not found "
                            "(create it with `sensorllm prepare DATASET --raw DIR --out DIR`)")
        self.manifest: dict = json.loads(mpath.read_text())

    @property
    def name(self) -> str:
        return self.manifest["dataset"]

    @cached_property
    def channels(self) -> tuple[ChannelSpec, ...]:
        return channels_from_json(self.manifest["spec"]["channels"])

    @property
    def channel_names(self) -> list[str]:
        return [c.name for c in self.channels]

    @cached_property
    def classes(self) -> tuple[ClassSpec, ...]:
        return tuple(ClassSpec(**c) for c in self.manifest["spec"]["classes"])

    @property
    def class_names(self) -> list[str]:
        return [c.name for c in self.classes]

    @property
    def class_descriptions(self) -> list[str]:
        """One-line class descriptions in class-index order (``""`` where none; older manifests have none)."""
        return [c.description for c in self.classes]

    @property
    def rate_hz(self) -> float:
        return float(self.manifest["rate_hz"])

    def splits(self) -> list[str]:
        """Splits that hold at least one window."""
        return [s for s in SPLITS if self.manifest["splits"].get(s, {}).get("windows", 0) > 0]

    def _check_split(self, split: str) -> Path:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        return self.root

    def stage2(self, split: Split) -> WindowSet:
        d = self._check_split(split) / "stage2" / split
        return WindowSet(*(_load(d / f"{k}.npy") for k in ("windows", "labels", "subjects", "starts", "recordings")))

    def stage1(self, split: Split) -> VarWindowSet:
        d = self._check_split(split) / "stage1" / split
        return VarWindowSet(
            *(_load(d / f"{k}.npy") for k in ("values", "offsets", "labels", "subjects", "starts", "recordings"))
        )


def open_prepared(root: str | Path) -> PreparedDataset:
    """Open a directory written by ``sensorllm prepare``."""
    return PreparedDataset(root)
