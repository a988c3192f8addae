"""Trend segmentation of sensor windows, vectorised over many windows at once.

Semantics (``mode="exact"``, the paper's and the default): every consecutive pair of samples
``(x[i], x[i+1])`` is labelled *increase* (``x[i] < x[i+1]``), *decrease* (``>``) or *steady* (exactly
equal); runs of equal labels are merged into segments. A segment covers samples ``start_idx..end_idx``
(inclusive) and neighbouring segments share their boundary sample, so the segments tile the window's span
``[0, (L-1)/rate]`` seconds. Times are ``idx / rate`` starting at 0.0 s.

``mode="tolerant"`` (an extension): a pair counts as steady when ``|x[i+1]-x[i]| <= tol * std(window)``
(population std of that channel in that window), and afterwards segments shorter than ``min_duration``
seconds are merged into their longer neighbour (shortest first, ties to the left; the merged segment keeps
the neighbour's trend, equal neighbours are then joined) until every segment is long enough or only one is
left. ``tol=0, min_duration=0`` gives exactly the exact mode.

Edge cases: a 1-sample window is one *steady* segment of zero duration (``start_idx == end_idx == 0``);
an empty window and non-finite values raise ``ValueError``.

Trend codes: ``-1`` decrease, ``0`` steady, ``+1`` increase (see :data:`TREND_KEYS`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np

__all__ = [
    "DECREASE",
    "STEADY",
    "INCREASE",
    "TREND_KEYS",
    "TREND_ORDER",
    "Segments",
    "SegmentTable",
    "segment_trends",
    "segment_batch",
    "segment_windows",
    "format_time",
    "DEFAULT_TOL",
    "DEFAULT_MIN_DURATION",
]

DECREASE, STEADY, INCREASE = -1, 0, 1
TREND_KEYS = {DECREASE: "decrease", STEADY: "steady", INCREASE: "increase"}
TREND_ORDER = (DECREASE, INCREASE, STEADY)
"""Alphabetical order of the trend keys (decrease, increase, steady), used for per-type listings."""

DEFAULT_TOL = 0.05
DEFAULT_MIN_DURATION = 0.1

Mode = Literal["exact", "tolerant"]


def format_time(idx: int, rate_hz: float) -> str:
    """Time of sample ``idx`` as the reference prints it: ``str(round(idx / rate, 2))`` (``0.0``, ``0.08``,
    ``1.1``)."""
    return str(round(idx / rate_hz, 2))


@dataclass(frozen=True, eq=False)
class Segments:
    """Trend segments of one channel of one window.

    Attributes:
        start_idx, end_idx: first/last sample of each segment (int64, inclusive; neighbours share a sample).
        trend: trend code per segment (int8: -1, 0, +1).
        start_value, end_value: the samples at ``start_idx``/``end_idx`` (float64).
        rate_hz: sampling rate.
        length: samples in the window.
    """

    start_idx: np.ndarray
    end_idx: np.ndarray
    trend: np.ndarray
    start_value: np.ndarray
    end_value: np.ndarray
    rate_hz: float
    length: int

    def __len__(self) -> int:
        return int(self.trend.shape[0])

    @property
    def start_time(self) -> np.ndarray:
        """Segment start times, rounded to 2 decimals like the reference."""
        return np.round(self.start_idx / self.rate_hz, 2)

    @property
    def end_time(self) -> np.ndarray:
        return np.round(self.end_idx / self.rate_hz, 2)

    @property
    def steps(self) -> np.ndarray:
        """Sample steps per segment (``end_idx - start_idx``)."""
        return self.end_idx - self.start_idx

    @property
    def durations(self) -> np.ndarray:
        """Exact durations in seconds (``steps / rate``)."""
        return self.steps / self.rate_hz

    @property
    def span(self) -> float:
        """Duration of the whole window in seconds, ``(L - 1) / rate``."""
        return (self.length - 1) / self.rate_hz

    @property
    def n_changes(self) -> int:
        """Trend changes = segments − 1 (the reference's text counts segments instead)."""
        return max(len(self) - 1, 0)

    def counts(self) -> dict[int, int]:
        """Segments per trend code present (codes absent from the window are omitted)."""
        codes, n = np.unique(self.trend, return_counts=True)
        return {int(c): int(k) for c, k in zip(codes, n)}

    def total_steps(self) -> dict[int, int]:
        """Sample steps per trend code present."""
        out: dict[int, int] = {}
        for code, st in zip(self.trend.tolist(), self.steps.tolist()):
            out[code] = out.get(code, 0) + st
        return out

    def overall(self) -> int:
        """Sign of last − first sample (the reference's "overall trend")."""
        if len(self) == 0:
            return STEADY
        diff = float(self.end_value[-1]) - float(self.start_value[0])
        return INCREASE if diff > 0 else DECREASE if diff < 0 else STEADY

    def step_labels(self) -> np.ndarray:
        """Trend code of every sample pair ``(i, i+1)``, length ``L - 1``."""
        return np.repeat(self.trend, self.steps).astype(np.int8)

    def to_records(self) -> list[dict]:
        """JSON-able list of segments (indices, times, trend key, values)."""
        st, et = self.start_time.tolist(), self.end_time.tolist()
        return [
            {
                "start_idx": int(a), "end_idx": int(b), "start_time": s, "end_time": e,
                "trend": TREND_KEYS[int(t)], "start_value": float(v0), "end_value": float(v1),
            }
            for a, b, s, e, t, v0, v1 in zip(
                self.start_idx.tolist(), self.end_idx.tolist(), st, et, self.trend.tolist(),
                self.start_value.tolist(), self.end_value.tolist(),
            )
        ]

    def same_as(self, other: "Segments") -> bool:
        """Identical boundaries and trends (values are not compared)."""
        return (
            len(self) == len(other)
            and np.array_equal(self.start_idx, other.start_idx)
            and np.array_equal(self.end_idx, other.end_idx)
            and np.array_equal(self.trend, other.trend)
        )


@dataclass(frozen=True, eq=False)
class _ChannelSegs:
    ptr: np.ndarray  # (N+1,) rows of window i: ptr[i]:ptr[i+1]
    start_idx: np.ndarray  # local (within window)
    end_idx: np.ndarray
    trend: np.ndarray
    start_value: np.ndarray
    end_value: np.ndarray


@dataclass(frozen=True, eq=False)
class SegmentTable:
    """Segments of every (window, channel) of a batch. ``table.get(i, c)`` → :class:`Segments`."""

    per_channel: tuple[_ChannelSegs, ...]
    lengths: np.ndarray
    rate_hz: float

    @property
    def n_windows(self) -> int:
        return int(self.lengths.shape[0])

    @property
    def n_channels(self) -> int:
        return len(self.per_channel)

    def get(self, i: int, c: int = 0) -> Segments:
        t = self.per_channel[c]
        a, b = int(t.ptr[i]), int(t.ptr[i + 1])
        return Segments(
            t.start_idx[a:b], t.end_idx[a:b], t.trend[a:b], t.start_value[a:b], t.end_value[a:b],
            self.rate_hz, int(self.lengths[i]),
        )

    def n_segments(self) -> np.ndarray:
        """``(N, C)`` number of segments per window and channel."""
        return np.stack([np.diff(t.ptr) for t in self.per_channel], axis=1)


# ---- kernels -----------------------------------------------------------------------------------------


def _check_rate(rate_hz: float) -> float:
    rate = float(rate_hz)
    if not math.isfinite(rate) or rate <= 0:
        raise ValueError(f"rate_hz must be a positive number, got {rate_hz!r}")
    return rate


def _check_finite(values: np.ndarray, offsets: np.ndarray, names: Sequence[str] | None, first_window: int) -> None:
    finite = np.isfinite(values)
    if finite.all():
        return
    bad = np.argwhere(~finite)[0]
    row, col = int(bad[0]), (int(bad[1]) if values.ndim == 2 else 0)
    w = int(np.searchsorted(offsets, row, side="right") - 1)
    name = names[col] if names is not None and col < len(names) else f"#{col}"
    val = values[tuple(bad)]
    raise ValueError(
        f"non-finite value {val} in channel {name!r} of window {first_window + w} "
        f"(sample {row - int(offsets[w])}); clean the data (NaN/inf are not allowed)"
    )


def _steps_exact(x: np.ndarray) -> np.ndarray:
    a, b = x[:-1], x[1:]
    return (b > a).view(np.int8) - (b < a).view(np.int8)


def _steps_tolerant(x: np.ndarray, offsets: np.ndarray, tol: float) -> np.ndarray:
    n = np.diff(offsets)
    starts = offsets[:-1]
    xd = x.astype(np.float64)
    mean = np.add.reduceat(xd, starts) / n
    centred = xd - np.repeat(mean, n)
    std = np.sqrt(np.add.reduceat(centred * centred, starts) / n)
    thr = np.repeat(tol * std, n)[:-1]  # threshold of the pair starting at each sample
    diff = xd[1:] - xd[:-1]
    code = np.sign(diff).astype(np.int8)
    code[np.abs(diff) <= thr] = 0
    return code


def _segments_from_steps(
    x: np.ndarray, d: np.ndarray, offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Global segment starts/ends/trends and per-window pointers from pair codes ``d`` (length M-1,
    pairs crossing windows are ignored)."""
    m = x.shape[0]
    new = np.zeros(m, dtype=bool)
    if m > 2:
        np.not_equal(d[1:], d[:-1], out=new[1:-1])
    new[offsets[1:] - 1] = False  # last sample of a window never starts a segment ...
    new[offsets[:-1]] = True  # ... unless the window has one sample; first samples always do
    starts = np.flatnonzero(new)
    is_win_start = np.zeros(m + 1, dtype=bool)
    is_win_start[offsets] = True
    nxt = np.empty_like(starts)
    nxt[:-1] = starts[1:]
    nxt[-1:] = m
    ends = nxt - is_win_start[nxt]
    trend = np.zeros(starts.shape[0], dtype=np.int8)
    inner = starts < ends
    trend[inner] = d[starts[inner]]
    ptr = np.searchsorted(starts, offsets)
    return starts, ends, trend, ptr


def _merge_short(st: list[int], en: list[int], tr: list[int], min_steps: int) -> tuple[list, list, list]:
    """Merge segments shorter than ``min_steps`` into their longer neighbour (see module doc)."""
    st, en, tr = list(st), list(en), list(tr)
    while len(st) > 1:
        lens = [b - a for a, b in zip(st, en)]
        k = min(range(len(lens)), key=lens.__getitem__)
        if lens[k] >= min_steps:
            break
        if k == 0:
            j = 1
        elif k == len(st) - 1:
            j = k - 1
        else:
            j = k - 1 if lens[k - 1] >= lens[k + 1] else k + 1
        lo, hi = min(j, k), max(j, k)
        new_tr = tr[j]
        st[lo:hi + 1], en[lo:hi + 1], tr[lo:hi + 1] = [st[lo]], [en[hi]], [new_tr]
        # join with equal neighbours
        i = lo
        if i + 1 < len(st) and tr[i + 1] == tr[i]:
            en[i] = en[i + 1]
            del st[i + 1], en[i + 1], tr[i + 1]
        if i > 0 and tr[i - 1] == tr[i]:
            en[i - 1] = en[i]
            del st[i], en[i], tr[i]
    return st, en, tr


def _segment_channel(
    x: np.ndarray, offsets: np.ndarray, mode: str, tol: float, min_steps: int
) -> _ChannelSegs:
    d = _steps_exact(x) if mode == "exact" else _steps_tolerant(x, offsets, tol)
    starts, ends, trend, ptr = _segments_from_steps(x, d, offsets)
    if mode == "tolerant" and min_steps > 1:
        steps = ends - starts
        short = steps < min_steps
        counts = np.diff(ptr)
        # windows with a short segment and more than one segment need merging
        win_of_seg = np.repeat(np.arange(offsets.shape[0] - 1), counts)
        todo = np.unique(win_of_seg[short])
        todo = todo[counts[todo] > 1]
        if todo.size:
            keep = np.ones(starts.shape[0], dtype=bool)
            add_s, add_e, add_t, add_w = [], [], [], []
            for w in todo.tolist():
                a, b = int(ptr[w]), int(ptr[w + 1])
                keep[a:b] = False
                s2, e2, t2 = _merge_short(starts[a:b].tolist(), ends[a:b].tolist(), trend[a:b].tolist(), min_steps)
                add_s += s2
                add_e += e2
                add_t += t2
                add_w += [w] * len(s2)
            win = np.concatenate([win_of_seg[keep], np.asarray(add_w, dtype=np.int64)])
            s_all = np.concatenate([starts[keep], np.asarray(add_s, dtype=starts.dtype)])
            order = np.lexsort((s_all, win))
            starts = s_all[order]
            ends = np.concatenate([ends[keep], np.asarray(add_e, dtype=ends.dtype)])[order]
            trend = np.concatenate([trend[keep], np.asarray(add_t, dtype=np.int8)])[order]
            ptr = np.searchsorted(starts, offsets)
    win_start = np.repeat(offsets[:-1], np.diff(ptr))
    return _ChannelSegs(
        ptr=ptr,
        start_idx=starts - win_start,
        end_idx=ends - win_start,
        trend=trend,
        start_value=x[starts].astype(np.float64),
        end_value=x[ends].astype(np.float64),
    )


def _min_steps(min_duration: float, rate: float) -> int:
    if min_duration < 0:
        raise ValueError(f"min_duration must be >= 0, got {min_duration}")
    return int(math.ceil(min_duration * rate - 1e-9))


def segment_batch(
    values: np.ndarray,
    offsets: np.ndarray,
    rate_hz: float,
    mode: Mode = "exact",
    tol: float = DEFAULT_TOL,
    min_duration: float = DEFAULT_MIN_DURATION,
    channel_names: Sequence[str] | None = None,
    first_window: int = 0,
) -> SegmentTable:
    """Segment many variable-length windows at once.

    Args:
        values: ``(T, C)`` (or ``(T,)``) samples of all windows concatenated (the Stage-1 prepared layout).
        offsets: ``(N+1,)`` window ``i`` is ``values[offsets[i]:offsets[i+1]]``; every window needs ≥ 1 sample.
        rate_hz: sampling rate.
        mode: ``"exact"`` or ``"tolerant"`` (module doc).
        tol, min_duration: tolerant-mode settings (ignored in exact mode).
        channel_names, first_window: only for error messages.
    """
    rate = _check_rate(rate_hz)
    if mode not in ("exact", "tolerant"):
        raise ValueError(f"unknown trend mode {mode!r}; expected 'exact' or 'tolerant'")
    if tol < 0:
        raise ValueError(f"tol must be >= 0, got {tol}")
    vals = np.asarray(values)
    if vals.ndim == 1:
        vals = vals[:, None]
    if vals.ndim != 2:
        raise ValueError(f"values must be (T, C) or (T,), got shape {vals.shape}")
    offs = np.asarray(offsets, dtype=np.int64)
    if offs.ndim != 1 or offs.shape[0] < 1 or offs[0] != 0 or offs[-1] != vals.shape[0]:
        raise ValueError(f"offsets must run from 0 to {vals.shape[0]}, got {offs[:3]}...{offs[-3:]}")
    lengths = np.diff(offs)
    if (lengths < 1).any():
        w = int(np.flatnonzero(lengths < 1)[0])
        raise ValueError(f"window {first_window + w} is empty (length {int(lengths[w])}); windows need ≥ 1 sample")
    if not np.issubdtype(vals.dtype, np.floating) and not np.issubdtype(vals.dtype, np.integer):
        raise ValueError(f"values must be numeric, got dtype {vals.dtype}")
    if np.issubdtype(vals.dtype, np.floating):
        _check_finite(vals, offs, channel_names, first_window)
    min_steps = _min_steps(min_duration, rate) if mode == "tolerant" else 0
    if lengths.shape[0] == 0:
        empty = _ChannelSegs(np.zeros(1, np.int64), *(np.zeros(0, np.int64),) * 2, np.zeros(0, np.int8),
                             *(np.zeros(0, np.float64),) * 2)
        return SegmentTable(tuple(empty for _ in range(vals.shape[1])), lengths, rate)
    per = tuple(
        _segment_channel(np.ascontiguousarray(vals[:, c]), offs, mode, float(tol), min_steps)
        for c in range(vals.shape[1])
    )
    return SegmentTable(per, lengths, rate)


def segment_windows(
    windows: np.ndarray,
    rate_hz: float,
    mode: Mode = "exact",
    tol: float = DEFAULT_TOL,
    min_duration: float = DEFAULT_MIN_DURATION,
    channel_names: Sequence[str] | None = None,
    first_window: int = 0,
) -> SegmentTable:
    """Segment fixed-length windows ``(N, L, C)`` (the Stage-2 layout)."""
    w = np.asarray(windows)
    if w.ndim != 3:
        raise ValueError(f"windows must be (N, L, C), got shape {w.shape}")
    n, length, c = w.shape
    if length < 1 and n > 0:
        raise ValueError("windows are empty (L = 0)")
    offsets = np.arange(n + 1, dtype=np.int64) * length
    return segment_batch(w.reshape(n * length, c), offsets, rate_hz, mode, tol, min_duration,
                         channel_names, first_window)


def segment_trends(
    x: np.ndarray,
    rate_hz: float,
    mode: Mode = "exact",
    tol: float = DEFAULT_TOL,
    min_duration: float = DEFAULT_MIN_DURATION,
    channel: str | None = None,
) -> Segments:
    """Trend segments of one 1-D window ``x`` (see the module doc for the semantics)."""
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"segment_trends expects a 1-D window, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"empty window{f' in channel {channel!r}' if channel else ''}: need at least one sample")
    table = segment_batch(arr, np.array([0, arr.shape[0]]), rate_hz, mode, tol, min_duration,
                          [channel] if channel else None)
    return table.get(0, 0)
