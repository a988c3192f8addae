"""The windows a baseline run fits and is scored on: the prepared dataset's Stage-2 splits read into memory
(:class:`Splits`), with a seeded random subset of the training windows when ``max_train_windows`` is set."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sensorllm.datasets.prepared import PreparedDataset
from sensorllm.datasets.spec import DataError

from .config import BaselineConfig

__all__ = ["Splits", "load_splits"]


@dataclass
class Splits:
    """In-memory windows ``(N, L, C)`` float32 and labels ``(N,)`` int64 per split (val may be ``None``)."""

    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray] | None
    test: tuple[np.ndarray, np.ndarray]
    train_indices: np.ndarray  # rows of the prepared train split that were used


def load_splits(ds: PreparedDataset, cfg: BaselineConfig, need_val: bool, with_test: bool = True) -> Splits:
    """Read the Stage-2 splits; a seeded subset of train when ``max_train_windows`` is set. ``with_test=False``
    leaves the test split unread (no windows of it, shaped as the training ones): for a fit scored on validation
    only."""
    present = ds.splits()
    for split in ("train", "test") if with_test else ("train",):
        if split not in present:
            raise DataError(f"{ds.root}: the {split} split is empty")
    if need_val and "val" not in present:
        raise DataError(
            f"{ds.root} has no validation windows (prepared with --paper-split?), and model selection "
            "needs a validation split. "
            "Re-prepare without --paper-split, or pass --no-val to train a fixed number of epochs."
        )
    tr = ds.stage2("train")
    idx = np.arange(len(tr))
    if cfg.max_train_windows is not None and cfg.max_train_windows < len(tr):
        idx = np.sort(np.random.default_rng(cfg.seed).choice(len(tr), cfg.max_train_windows, replace=False))

    def take(ws, rows=None):
        w = ws.windows if rows is None else ws.windows[rows]
        y = ws.labels if rows is None else ws.labels[rows]
        return np.array(w, dtype=np.float32, order="C"), np.array(y, dtype=np.int64)  # copies: writable

    val = take(ds.stage2("val")) if "val" in present and not cfg.no_val else None
    train = take(tr, idx)
    test = (take(ds.stage2("test")) if with_test
            else (np.zeros((0, *train[0].shape[1:]), dtype=np.float32), np.zeros(0, dtype=np.int64)))
    return Splits(train=train, val=val, test=test, train_indices=idx)
