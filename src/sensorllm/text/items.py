"""Training examples from a prepared dataset: windows → texts (seeded, as ``sensorllm qa`` writes them) →
raw per-channel series + text, ready for the model's prompt builder.

Texts are generated on the fly with the same per-record seeds as ``sensorllm qa``, so a run needs no QA
files and reproduces them exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from sensorllm.datasets.prepared import PreparedDataset

from .stage1 import iter_stage1_records
from .stage2 import iter_stage2_records

__all__ = ["Stage1Item", "Stage2Item", "stage1_items", "stage2_items", "subset"]


@dataclass
class Stage1Item:
    """One Stage-1 example: a single channel of one window, its question and the answer (+ summary)."""

    index: int
    channel: str
    series: np.ndarray  # (L,) float64, raw units
    question: str
    answer: str
    rate_hz: float


@dataclass
class Stage2Item:
    """One Stage-2 example: every channel of one window, the text after the sensor block, and the class."""

    index: int
    series: dict[str, np.ndarray]  # channel → (L,) float64
    text: str
    label: int


def subset(n: int, limit: int | None, seed: int) -> np.ndarray:
    """Sorted seeded subset of ``range(n)`` of size ``limit`` (all when ``limit`` is None or ≥ n)."""
    if limit is None or limit >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng([seed, 104729]).choice(n, size=limit, replace=False))


def stage1_items(
    data: PreparedDataset, split: str, seed: int, trend_mode: str = "exact", limit: int | None = None
) -> list[Stage1Item]:
    """Stage-1 examples of a split (one per window and channel), optionally a seeded subset of about ``limit``
    examples (all channels of ``ceil(limit / C)`` seeded windows, cut to ``limit``).

    The answer is the segment list and counts followed by a blank line and the channel's summary, as the
    reference loader builds it.
    """
    ws = data.stage1(split)
    names = data.channel_names
    n_windows = None if limit is None else -(-limit // len(names))
    windows = subset(len(ws), n_windows, seed)
    records = iter_stage1_records(data, split, seed=seed, mode=trend_mode, indices=windows)  # type: ignore[arg-type]
    items = []
    for r in records:
        if limit is not None and len(items) >= limit:
            break
        c = names.index(r["channel"])
        items.append(Stage1Item(
            index=r["index"], channel=r["channel"], series=np.asarray(ws[r["index"]][:, c], dtype=np.float64),
            question=r["question"], answer=r["answer"] + "\n\n" + r["summary"], rate_hz=data.rate_hz,
        ))
    return items


def stage2_items(
    data: PreparedDataset,
    split: str,
    seed: int,
    preprocess_type: str,
    trend_mode: str = "exact",
    limit: int | None = None,
    channels: Sequence[str] | None = None,
    stat_digits: int | None = None,
    normalized: bool = True,
) -> list[Stage2Item]:
    """Stage-2 examples of a split, optionally a seeded subset of ``limit`` windows. ``normalized``: whether the
    model sees z-normalised series (the encoder's ``normalizes_series``); only then may the question call the
    data "normalized"."""
    ws = data.stage2(split)
    names = list(channels) if channels is not None else data.channel_names
    idx = [data.channel_names.index(n) for n in names]
    keep = subset(len(ws), limit, seed)
    items = []
    for r in iter_stage2_records(data, split, seed=seed, preprocess_type=preprocess_type, mode=trend_mode,  # type: ignore[arg-type]
                                 indices=keep, stat_digits=stat_digits, normalized=normalized):
        i = r["index"]
        w = np.asarray(ws.windows[i], dtype=np.float64)
        items.append(Stage2Item(index=i, series={n: w[:, j] for n, j in zip(names, idx)}, text=r["text"],
                                label=r["label"]))
    return items
