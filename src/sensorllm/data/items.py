"""Examples ("items") made from windows: the one place where a window becomes what the model reads, for every
command.

Stage 2 (``tune``, ``evaluate``, ``predict``, ``stream``): :func:`window_items` turns windows ``(N, L, C)`` into
:class:`Stage2Items`: the series as the model reads them, ``(N, C, L)`` float32 in the model's channel order, and
each window's Stage-2 text, drawn with the generator ``record_rng(seed, 2, key, index)`` of the window's number.
:func:`stage2_items` does it for a split of a prepared dataset (its windows read once; ``key`` is the split, so
the texts are those ``sensorllm qa`` writes); ``predict`` and ``stream`` use the key ``"predict"`` and the
window's number within its recording. The text settings are the model's (:class:`TextSettings`, kept in its
checkpoint).

Stage 1 (``align``, ``evaluate`` of a Stage-1 model): :func:`stage1_items`, one channel of one window per item,
of many lengths.

Texts are generated on the fly with the same per-record seeds as ``sensorllm qa``, so a run needs no QA files and
reproduces them exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sensorllm.datasets.prepared import PreparedDataset
from sensorllm.datasets.spec import ChannelSpec, DataError
from sensorllm.text import assemble_text, iter_stage1_records, record_rng, window_pieces
from sensorllm.text.stage2 import PREPROCESS_TYPES

__all__ = ["Stage1Item", "Stage2Items", "TextSettings", "stage1_items", "stage2_items", "subset", "window_items"]


@dataclass(frozen=True)
class TextSettings:
    """How a model's Stage-2 texts are written (the training's settings, kept in its checkpoint's ``extra``).

    Attributes:
        preprocess_type: which pieces the text holds (:data:`~sensorllm.text.stage2.PREPROCESS_TYPES`).
        trend_mode: ``exact`` or ``tolerant`` trend segmentation.
        stat_digits: significant digits of the statistics (``None``: up to 8 decimals, the reference's).
        seed: the text seed (``run.seed`` of the training; ``text_seed`` in the checkpoint).
        normalized: the model sees z-normalised series (its encoder's ``normalizes_series``), so the question
            may call the data "normalized".
    """

    preprocess_type: str = "smry+Q"
    trend_mode: str = "exact"
    stat_digits: int | None = None
    seed: int = 0
    normalized: bool = True

    def __post_init__(self) -> None:
        if self.preprocess_type not in PREPROCESS_TYPES:
            raise ValueError(f"unknown preprocess_type {self.preprocess_type!r}; expected one of "
                             f"{', '.join(PREPROCESS_TYPES)}")

    @classmethod
    def of_checkpoint(cls, extra: Mapping, normalized: bool) -> TextSettings:
        """The settings a checkpoint's ``extra`` records (``normalized``: the model's encoder's
        ``normalizes_series``)."""
        return cls(extra.get("preprocess_type") or "smry+Q", extra.get("trend_mode", "exact"),
                   extra.get("stat_digits"), int(extra.get("text_seed", 0)), normalized)


@dataclass
class Stage2Items:
    """Stage-2 examples, one per window, as columns.

    Attributes:
        series: ``(N, C, L)`` float32: window ``i``'s channel ``channels[c]`` is ``series[i, c]`` (raw units).
        channels: the ``C`` channel names (the model's channel order).
        texts: the ``N`` texts that follow (or, ``text_first``, precede) the sensor block.
        labels: ``(N,)`` int64 class indices, or ``None`` when unknown (prediction).
        indices: ``(N,)`` int64 window numbers (in the split, or in the recording): what the texts were seeded by.

    ``items[a:b]`` and ``items[[i, j]]`` select windows (a slice keeps a view of ``series``).
    """

    series: np.ndarray
    channels: tuple[str, ...]
    texts: list[str]
    labels: np.ndarray | None
    indices: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.texts)
        if self.series.ndim != 3 or self.series.shape[0] != n or self.series.shape[1] != len(self.channels):
            raise ValueError(f"series {self.series.shape} for {n} texts and channels {list(self.channels)}: "
                             "expected (N, C, L)")
        if self.series.dtype != np.float32:
            raise ValueError(f"series must be float32, got {self.series.dtype}")
        if self.indices.shape != (n,) or (self.labels is not None and self.labels.shape != (n,)):
            raise ValueError(f"{n} windows: indices {self.indices.shape} and labels "
                             f"{None if self.labels is None else self.labels.shape} must be ({n},)")

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, key: slice | Sequence[int] | np.ndarray) -> Stage2Items:
        rows = np.arange(len(self))[key] if isinstance(key, slice) else np.asarray(key, dtype=np.int64)
        series = self.series[key] if isinstance(key, slice) else self.series[rows]
        return Stage2Items(series, self.channels, [self.texts[i] for i in rows.tolist()],
                           None if self.labels is None else self.labels[rows], self.indices[rows])

    def with_labels(self, labels: Sequence[int] | np.ndarray | None) -> Stage2Items:
        """The same windows with these class labels."""
        return Stage2Items(self.series, self.channels, self.texts,
                           None if labels is None else np.asarray(labels, dtype=np.int64), self.indices)


def window_items(
    windows: np.ndarray,
    channels: Sequence[ChannelSpec],
    rate_hz: float,
    text: TextSettings,
    indices: Sequence[int] | np.ndarray | None = None,
    key: str = "predict",
    labels: np.ndarray | None = None,
    model_channels: Sequence[str] | None = None,
    chunk: int = 1024,
) -> Stage2Items:
    """The Stage-2 items of windows.

    Args:
        windows: ``(N, L, C)`` raw values in ``channels`` order (cast to float32 once, here: the texts and the
            series are both made from the float32 values, as for the prepared windows training reads).
        channels: the windows' channel specs (their descriptions and units go into the texts).
        rate_hz: sampling rate.
        text: the model's text settings.
        indices: each window's number (default ``0..N-1``); window ``k``'s text is drawn with
            ``record_rng(text.seed, 2, key, indices[k])``.
        key: the record key: a split name, or ``"predict"`` for windows of a recording.
        labels: ``(N,)`` class indices, or ``None``.
        model_channels: the model's channels (a reordering of ``channels``' names; default: ``channels``' order).
        chunk: windows segmented together (memory bound; the texts do not depend on it).
    """
    w = np.asarray(windows, dtype=np.float32)
    names = [c.name for c in channels]
    if w.ndim != 3 or w.shape[2] != len(names):
        raise ValueError(f"expected windows of shape (N, L, {len(names)}) for channels {names}, got {w.shape}")
    idx = np.arange(len(w), dtype=np.int64) if indices is None else np.asarray(indices, dtype=np.int64)
    texts: list[str] = []
    for a in range(0, len(w), chunk):
        rngs = [record_rng(text.seed, 2, key, int(i)) for i in idx[a:a + chunk]]
        pieces = window_pieces(w[a:a + chunk], channels, rate_hz, rngs, text.trend_mode,  # type: ignore[arg-type]
                               stat_digits=text.stat_digits, normalized=text.normalized,
                               first_window=int(idx[a]))
        texts += [assemble_text(p, text.preprocess_type) for p in pieces]
    order = list(model_channels) if model_channels is not None else names
    missing = [c for c in order if c not in names]
    if missing:
        raise ValueError(f"the windows have no channels {missing} (they have {names})")
    series = np.ascontiguousarray(w[:, :, [names.index(c) for c in order]].transpose(0, 2, 1))  # (N, C, L)
    return Stage2Items(series, tuple(order), texts, None if labels is None else np.asarray(labels, np.int64), idx)


def subset(n: int, limit: int | None, seed: int) -> np.ndarray:
    """Sorted seeded subset of ``range(n)`` of size ``limit`` (all when ``limit`` is None or ≥ n)."""
    if limit is None or limit >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng([seed, 104729]).choice(n, size=limit, replace=False))


def stage2_items(data: PreparedDataset, split: str, text: TextSettings, limit: int | None = None,
                 channels: Sequence[str] | None = None) -> Stage2Items:
    """Stage-2 items of a split of a prepared dataset (:func:`window_items` with the split as key), optionally a
    seeded subset of ``limit`` windows (seeded by ``text.seed``); ``channels``: the model's (default: the
    dataset's, in its order)."""
    ws = data.stage2(split)  # type: ignore[arg-type]
    n_channels = len(data.channels)
    if ws.windows.ndim != 3 or ws.windows.shape[2] != n_channels:
        raise DataError(f"{data.root}/stage2/{split}/windows.npy has shape {ws.windows.shape}, "
                        f"expected (N, L, {n_channels}) for channels {data.channel_names}")
    keep = subset(len(ws), limit, text.seed)
    labels = np.asarray(ws.labels[keep], dtype=np.int64)
    bad = (labels < 0) | (labels >= len(data.class_names))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise DataError(f"{data.root}/stage2/{split}/labels.npy: window {int(keep[k])} has label {int(labels[k])}, "
                        f"outside 0..{len(data.class_names) - 1}")
    return window_items(ws.windows[keep], data.channels, data.rate_hz, text, indices=keep, key=split,
                        labels=labels, model_channels=channels)


# ---- Stage 1 ------------------------------------------------------------------------------------------------


@dataclass
class Stage1Item:
    """One Stage-1 example: a single channel of one window, its question and the answer (+ summary)."""

    index: int
    channel: str
    series: np.ndarray  # (L,) float64, raw units
    question: str
    answer: str
    rate_hz: float


def stage1_items(
    data: PreparedDataset, split: str, seed: int, trend_mode: str = "exact", limit: int | None = None
) -> list[Stage1Item]:
    """Stage-1 examples of a split (one per window and channel), optionally a seeded subset of about ``limit``
    examples (all channels of ``ceil(limit / C)`` seeded windows, cut to ``limit``).

    The answer is the segment list and counts followed by a blank line and the channel's summary, as the
    reference loader builds it.
    """
    ws = data.stage1(split)  # type: ignore[arg-type]
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
