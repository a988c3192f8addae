"""Cleaning, resampling and window cutting for one recording (pure functions on numpy arrays).

Data flow per recording: raw ``(N, C)`` → :func:`repair_gaps` (interpolate short NaN/inf gaps, mark long
ones invalid) → :func:`resample` (anti-aliased polyphase filter) → :func:`label_runs` (contiguous runs of one
class) → :func:`fixed_windows` (Stage 2) and :func:`random_partition` (Stage 1) inside each run.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly

__all__ = [
    "GapReport",
    "repair_gaps",
    "resample",
    "label_runs",
    "fixed_windows",
    "random_partition",
]


@dataclass
class GapReport:
    """What :func:`repair_gaps` did: counts of non-finite, interpolated and invalid samples."""

    nonfinite_values: int = 0
    interpolated_values: int = 0
    invalid_samples: int = 0


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of the True runs of a 1-D boolean mask."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def repair_gaps(data: np.ndarray, max_gap: int) -> tuple[np.ndarray, np.ndarray, GapReport]:
    """Fill missing values (NaN/±inf) channel by channel.

    Gaps of at most ``max_gap`` consecutive samples are linearly interpolated. Longer gaps are interpolated too
    (so that later filtering sees no NaN) but their samples are marked invalid; windows touching them are
    dropped by the caller. A channel with no finite value at all makes the whole recording invalid.

    Args:
        data: ``(N, C)`` float array.
        max_gap: longest gap (in samples) that is repaired.

    Returns:
        ``(clean (N, C) float64, valid (N,) bool, report)``.
    """
    data = np.array(data, dtype=np.float64, copy=True)
    n = data.shape[0]
    valid = np.ones(n, dtype=bool)
    rep = GapReport()
    bad = ~np.isfinite(data)
    rep.nonfinite_values = int(bad.sum())
    if not rep.nonfinite_values:
        return data, valid, rep
    t = np.arange(n)
    for c in range(data.shape[1]):
        miss = bad[:, c]
        if not miss.any():
            continue
        if miss.all():
            data[:, c] = 0.0
            valid[:] = False
            continue
        starts, ends = _runs(miss)
        long = (ends - starts) > max_gap
        for s, e in zip(starts[long], ends[long]):
            valid[s:e] = False
        rep.interpolated_values += int(((ends - starts) * ~long).sum())
        data[miss, c] = np.interp(t[miss], t[~miss], data[~miss, c])
    rep.invalid_samples = int((~valid).sum())
    return data, valid, rep


def resample(
    data: np.ndarray, labels: np.ndarray, valid: np.ndarray, from_hz: float, to_hz: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Resample a recording from ``from_hz`` to ``to_hz`` with scipy's polyphase FIR filter (anti-aliased).

    Labels and the validity mask take the nearest source sample; invalid regions are widened by the filter's
    half-length first, so no resampled sample that saw an invalid source sample is kept valid.
    """
    if from_hz == to_hz:
        return data, labels, valid
    ratio = Fraction(to_hz / from_hz).limit_denominator(1000)
    up, down = ratio.numerator, ratio.denominator
    out = resample_poly(data, up, down, axis=0, padtype="line")
    m = out.shape[0]
    src = np.minimum(np.round(np.arange(m) * down / up).astype(np.int64), len(labels) - 1)
    if not valid.all():
        half = 10 * max(up, down) // up + 1  # filter half-length in source samples
        inv = (~valid).astype(np.int64)
        widened = np.convolve(inv, np.ones(2 * half + 1, dtype=np.int64), mode="same") > 0
        valid = ~widened
    return out, labels[src], valid[src]


def label_runs(class_idx: np.ndarray) -> list[tuple[int, int, int]]:
    """Maximal runs ``(start, end_exclusive, class)`` of one class (``class >= 0``) in a per-sample array."""
    n = len(class_idx)
    if n == 0:
        return []
    change = np.flatnonzero(np.diff(class_idx)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [n]])
    return [(int(s), int(e), int(class_idx[s])) for s, e in zip(starts, ends) if class_idx[s] >= 0]


def fixed_windows(start: int, end: int, window: int, stride: int, tail: bool = False) -> np.ndarray:
    """Start indices of the fixed windows inside ``[start, end)``; with ``tail`` one more window aligned to the
    end when samples remain after the last stride."""
    n = end - start
    if n < window:
        return np.zeros(0, dtype=np.int64)
    starts = np.arange(0, n - window + 1, stride, dtype=np.int64)
    if tail and starts[-1] + window < n:
        starts = np.append(starts, n - window)
    return starts + start


def random_partition(
    start: int, end: int, lo: int, hi: int, rng: np.random.Generator, max_redraw: int = 10
) -> list[tuple[int, int]]:
    """Cut ``[start, end)`` into consecutive windows whose lengths are uniform in ``[lo, hi]``.

    As in the reference notebooks, a draw that would leave a remainder shorter than ``lo`` is redrawn; if that
    keeps failing, the length is adjusted so the remainder is usable (or absorbed when it fits in ``hi``);
    only when neither is possible is a remainder shorter than ``lo`` left out.
    A run shorter than ``lo`` yields nothing.
    """
    out: list[tuple[int, int]] = []
    pos = start
    while end - pos >= lo:
        rem = end - pos
        top = min(hi, rem)
        length = int(rng.integers(lo, top + 1))
        tries = 0
        while 0 < rem - length < lo and tries < max_redraw:
            length = int(rng.integers(lo, top + 1))
            tries += 1
        if 0 < rem - length < lo:  # deterministic fallback: a length that leaves a usable remainder
            if rem <= hi:
                length = rem
            elif rem - lo >= lo:
                length = min(top, rem - lo)
            else:
                length = top  # the remainder (< lo) cannot form a window and is left out
        out.append((pos, pos + length))
        pos += length
    return out
