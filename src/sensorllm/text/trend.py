"""Trend segmentation of sensor windows, vectorised over many windows at once.

Semantics (``mode="exact"``, the paper's and the default): every consecutive pair of samples
``(x[i], x[i+1])`` is labelled *increase* (``x[i] < x[i+1]``), *decrease* (``>``) or *steady* (exactly
equal); runs of equal labels are merged into segments. A segment covers samples ``start_idx..end_idx``
(inclusive) and neighbouring segments share their boundary sample, so the segments tile the window's span
``[0, (L-1)/rate]`` seconds. Times are ``idx / rate`` starting at 0.0 s.

``mode="tolerant"`` (an extension for readable descriptions of noisy windows), with
``h = tol * std(window)`` (population std of that channel in that window):

1. a pair counts as steady when ``|x[i+1] - x[i]| <= h``, otherwise as increase/decrease; equal labels are
   merged as above;
2. segments shorter than ``min_duration`` seconds are merged into their longer neighbour (shortest first,
   the left one on ties; the merged segment takes the neighbour's trend, equal neighbours are joined) until
   every segment is long enough or only one is left;
3. every segment is relabelled by its net change ``v = x[end] - x[start]``: steady if ``|v| <= h``, else
   increase/decrease by its sign, and equal neighbours are joined again. So a segment's trend always agrees
   with its end values, and a slow drift made of small steps is reported when it adds up to more than ``h``.

The overall direction in tolerant mode is steady when ``|x[-1] - x[0]| <= h``. ``tol=0, min_duration=0``
gives exactly the exact mode.

Edge cases: a 1-sample window is one *steady* segment of zero duration (``start_idx == end_idx == 0``);
an empty window and non-finite values raise ``ValueError``.

Trend codes: ``-1`` decrease, ``0`` steady, ``+1`` increase. The results (:class:`Segments`,
:class:`SegmentTable`) and the codes live in :mod:`sensorllm.text.segments`; this module computes them.
"""

from __future__ import annotations

import math
from typing import Literal, Sequence

import numpy as np

from .segments import STEADY, Segments, SegmentTable

__all__ = [
    "DEFAULT_MIN_DURATION",
    "DEFAULT_TOL",
    "Mode",
    "segment_batch",
    "segment_trends",
    "segment_windows",
]

DEFAULT_TOL = 0.05
DEFAULT_MIN_DURATION = 0.1

Mode = Literal["exact", "tolerant"]


# ---- kernels -----------------------------------------------------------------------------------------


def _check_rate(rate_hz: float) -> float:
    rate = float(rate_hz)
    if not math.isfinite(rate) or rate <= 0:
        raise ValueError(f"rate_hz must be a positive number, got {rate_hz!r}")
    return rate


def _check_finite(
    values: np.ndarray, offsets: np.ndarray, names: Sequence[str] | None, first_window: int
) -> None:
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


def _steps_tolerant(x: np.ndarray, series_start: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Pair codes with small steps as steady, and the per-series tolerance ``h = tol * std``."""
    n = np.diff(series_start)
    first = series_start[:-1]
    xd = x.astype(np.float64)
    mean = np.add.reduceat(xd, first) / n
    centred = xd - np.repeat(mean, n)
    h = tol * np.sqrt(np.add.reduceat(centred * centred, first) / n)
    thr = np.repeat(h, n)[:-1]  # threshold of the pair starting at each sample
    diff = xd[1:] - xd[:-1]
    code = np.sign(diff).astype(np.int8)
    code[np.abs(diff) <= thr] = 0
    return code, h


def _segments_from_steps(
    d: np.ndarray, series_start: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Global segment starts/ends/trends and per-series pointers from pair codes ``d`` (length M-1; pairs
    crossing series are ignored)."""
    m = d.shape[0] + 1
    new = np.zeros(m, dtype=bool)
    if m > 2:
        np.not_equal(d[1:], d[:-1], out=new[1:-1])
    new[series_start[1:] - 1] = False  # the last sample of a series never starts a segment ...
    new[series_start[:-1]] = True  # ... unless the series has one sample; first samples always do
    starts = np.flatnonzero(new)
    ptr = np.zeros(series_start.shape[0], dtype=np.int64)
    per_series = np.add.reduceat(new.view(np.int8), series_start[:-1], dtype=np.int32)
    np.cumsum(per_series, out=ptr[1:], dtype=np.int64)
    ends = np.empty_like(starts)
    ends[:-1] = starts[1:]
    ends[ptr[1:] - 1] = series_start[1:] - 1  # last segment of each series ends at its last sample
    trend = d.take(starts, mode="clip") if d.shape[0] else np.zeros(starts.shape[0], np.int8)
    single = lengths == 1
    if single.any():
        trend[ptr[:-1][single]] = STEADY
    return starts, ends, trend, ptr


def _merge_short(st: list[int], en: list[int], tr: list[int], min_steps: int) -> tuple[list, list, list]:
    """Merge segments shorter than ``min_steps`` into their longer neighbour (see module doc)."""
    st, en, tr = list(st), list(en), list(tr)
    lens = [b - a for a, b in zip(st, en)]
    while len(lens) > 1:
        m = min(lens)
        if m >= min_steps:
            break
        k = lens.index(m)
        if k == 0:
            j = 1
        elif k == len(lens) - 1:
            j = k - 1
        else:
            j = k - 1 if lens[k - 1] >= lens[k + 1] else k + 1
        lo = min(j, k)
        # segments lo and lo+1 become one with the neighbour's trend
        en[lo] = en[lo + 1]
        lens[lo] += lens[lo + 1]
        tr[lo] = tr[j]
        del st[lo + 1], en[lo + 1], tr[lo + 1], lens[lo + 1]
        if lo + 1 < len(lens) and tr[lo + 1] == tr[lo]:  # join equal neighbours
            en[lo] = en[lo + 1]
            lens[lo] += lens[lo + 1]
            del st[lo + 1], en[lo + 1], tr[lo + 1], lens[lo + 1]
        if lo > 0 and tr[lo - 1] == tr[lo]:
            en[lo - 1] = en[lo]
            lens[lo - 1] += lens[lo]
            del st[lo], en[lo], tr[lo], lens[lo]
    return st, en, tr


def _merge_tolerant(
    starts: np.ndarray, ends: np.ndarray, trend: np.ndarray, ptr: np.ndarray, series_start: np.ndarray,
    min_steps: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    counts = np.diff(ptr)
    series = np.repeat(np.arange(counts.shape[0]), counts)
    todo = np.unique(series[(ends - starts) < min_steps])
    todo = todo[counts[todo] > 1]
    if not todo.size:
        return starts, ends, trend, ptr
    keep = np.ones(starts.shape[0], dtype=bool)
    add_s: list[int] = []
    add_e: list[int] = []
    add_t: list[int] = []
    for s in todo.tolist():
        a, b = int(ptr[s]), int(ptr[s + 1])
        keep[a:b] = False
        s2, e2, t2 = _merge_short(starts[a:b].tolist(), ends[a:b].tolist(), trend[a:b].tolist(), min_steps)
        add_s += s2
        add_e += e2
        add_t += t2
    s_all = np.concatenate([starts[keep], np.asarray(add_s, dtype=starts.dtype)])
    order = np.argsort(s_all, kind="stable")  # global starts are unique and ordered by series
    starts = s_all[order]
    ends = np.concatenate([ends[keep], np.asarray(add_e, dtype=ends.dtype)])[order]
    trend = np.concatenate([trend[keep], np.asarray(add_t, dtype=np.int8)])[order]
    return starts, ends, trend, np.searchsorted(starts, series_start)


def _relabel_by_net_change(
    x: np.ndarray, starts: np.ndarray, ends: np.ndarray, ptr: np.ndarray, h: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Tolerant step 3: trend = sign of each segment's net change (steady within ``h`` of its series), then
    join equal neighbours within a series."""
    counts = np.diff(ptr)
    net = x[ends].astype(np.float64) - x[starts].astype(np.float64)
    trend = np.sign(net).astype(np.int8)
    trend[np.abs(net) <= np.repeat(h, counts)] = STEADY
    keep = np.ones(trend.shape[0], dtype=bool)
    keep[1:] = trend[1:] != trend[:-1]
    keep[ptr[:-1]] = True  # the first segment of each series always starts a run
    if keep.all():
        return starts, ends, trend, ptr
    idx = np.flatnonzero(keep)
    last = np.empty_like(idx)
    last[:-1] = idx[1:] - 1
    last[-1:] = trend.shape[0] - 1
    new_ptr = np.zeros_like(ptr)
    np.cumsum(np.add.reduceat(keep.view(np.int8), ptr[:-1], dtype=np.int32), out=new_ptr[1:], dtype=np.int64)
    return starts[idx], ends[last], trend[idx], new_ptr


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
        offsets: ``(N+1,)``; window ``i`` is ``values[offsets[i]:offsets[i+1]]`` and needs ≥ 1 sample.
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
    if not (np.issubdtype(vals.dtype, np.floating) or np.issubdtype(vals.dtype, np.integer)):
        raise ValueError(f"values must be numeric, got dtype {vals.dtype}")
    offs = np.asarray(offsets, dtype=np.int64)
    if offs.ndim != 1 or offs.shape[0] < 1 or offs[0] != 0 or offs[-1] != vals.shape[0]:
        raise ValueError(f"offsets must run from 0 to {vals.shape[0]}, got {offs[:3]}...{offs[-3:]}")
    lengths = np.diff(offs)
    if (lengths < 1).any():
        w = int(np.flatnonzero(lengths < 1)[0])
        raise ValueError(
            f"window {first_window + w} is empty (length {int(lengths[w])}); windows need ≥ 1 sample"
        )
    if np.issubdtype(vals.dtype, np.floating):
        _check_finite(vals, offs, channel_names, first_window)
    min_steps = _min_steps(min_duration, rate) if mode == "tolerant" else 0
    t, c = vals.shape
    n = lengths.shape[0]
    x = np.ascontiguousarray(vals.T).reshape(-1)
    series_start = np.empty(c * n + 1, dtype=np.int64)
    series_start[:-1] = (np.arange(c, dtype=np.int64)[:, None] * t + offs[None, :-1]).reshape(-1)
    series_start[-1] = c * t
    if n == 0 or c == 0:
        z = np.zeros(0, np.int64)
        return SegmentTable(x, series_start, np.zeros(c * n + 1, np.int64), z, z.copy(), np.zeros(0, np.int8),
                            lengths, c, rate)
    series_len = np.tile(lengths, c)
    if mode == "exact":
        d = _steps_exact(x)
        starts, ends, trend, ptr = _segments_from_steps(d, series_start, series_len)
        return SegmentTable(x, series_start, ptr, starts, ends, trend, lengths, c, rate)
    d, h = _steps_tolerant(x, series_start, float(tol))
    starts, ends, trend, ptr = _segments_from_steps(d, series_start, series_len)
    if min_steps > 1:
        starts, ends, trend, ptr = _merge_tolerant(starts, ends, trend, ptr, series_start, min_steps)
    starts, ends, trend, ptr = _relabel_by_net_change(x, starts, ends, ptr, h)
    return SegmentTable(x, series_start, ptr, starts, ends, trend, lengths, c, rate, h)


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
        where = f" in channel {channel!r}" if channel else ""
        raise ValueError(f"empty window{where}: need at least one sample")
    table = segment_batch(arr, np.array([0, arr.shape[0]]), rate_hz, mode, tol, min_duration,
                          [channel] if channel else None)
    return table.get(0, 0)
