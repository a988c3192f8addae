"""Trend segments, the result of :mod:`sensorllm.text.trend`: the trend codes, :class:`Segments` (one channel
of one window, with the counts, durations and overall direction the texts are made of) and
:class:`SegmentTable` (every window and channel of a batch, in one flat layout).

Read by the Stage-1/Stage-2 texts and by the parser that scores answers against reference segments, which
need no segmentation of their own. Trend codes: ``-1`` decrease, ``0`` steady, ``+1`` increase (see
:data:`TREND_KEYS`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..utils import format_time  # the answers' time format (shared with the Stage-1 system prompt)

__all__ = [
    "DECREASE",
    "INCREASE",
    "STEADY",
    "TREND_KEYS",
    "TREND_ORDER",
    "SegmentTable",
    "Segments",
    "format_time",
]

DECREASE, STEADY, INCREASE = -1, 0, 1
TREND_KEYS = {DECREASE: "decrease", STEADY: "steady", INCREASE: "increase"}
TREND_ORDER = (DECREASE, INCREASE, STEADY)
"""Alphabetical order of the trend keys (decrease, increase, steady), used for per-type listings."""


@dataclass(frozen=True, eq=False)
class Segments:
    """Trend segments of one channel of one window.

    Attributes:
        start_idx, end_idx: first/last sample of each segment (int64, inclusive; neighbours share a sample).
        trend: trend code per segment (int8: -1, 0, +1).
        start_value, end_value: the samples at ``start_idx``/``end_idx`` (float64).
        rate_hz: sampling rate.
        length: samples in the window.
        steady_tol: absolute tolerance of "steady" for the overall direction (0 in exact mode).
    """

    start_idx: np.ndarray
    end_idx: np.ndarray
    trend: np.ndarray
    start_value: np.ndarray
    end_value: np.ndarray
    rate_hz: float
    length: int
    steady_tol: float = 0.0

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
        """Sign of last − first sample (the reference's "overall trend"); steady within ``steady_tol``."""
        if len(self) == 0:
            return STEADY
        diff = float(self.end_value[-1]) - float(self.start_value[0])
        if abs(diff) <= self.steady_tol:
            return STEADY
        return INCREASE if diff > 0 else DECREASE

    def step_labels(self) -> np.ndarray:
        """Trend code of every sample pair ``(i, i+1)``, length ``L - 1``."""
        return np.repeat(self.trend, self.steps).astype(np.int8)

    def same_as(self, other: "Segments") -> bool:
        """Identical boundaries and trends (values are not compared)."""
        return (
            len(self) == len(other)
            and np.array_equal(self.start_idx, other.start_idx)
            and np.array_equal(self.end_idx, other.end_idx)
            and np.array_equal(self.trend, other.trend)
        )


@dataclass(frozen=True, eq=False)
class SegmentTable:
    """Segments of every (window, channel) of a batch; ``table.get(i, c)`` → :class:`Segments`.

    Internally all channels are laid end to end in one flat series ``x`` (channel-major: series
    ``s = c * N + i`` is channel ``c`` of window ``i``); segments are stored with *global* sample indices into
    ``x`` and ``ptr[s]:ptr[s+1]`` are the segments of series ``s``. Local indices and values are derived on
    access (:meth:`get`) or for all segments at once (:meth:`arrays`).
    """

    x: np.ndarray  # (C*T,) samples, channel-major
    series_start: np.ndarray  # (C*N+1,) first sample of each series in x (last = C*T)
    ptr: np.ndarray  # (C*N+1,) segment rows of each series
    starts: np.ndarray  # (K,) global start sample of each segment
    ends: np.ndarray  # (K,) global end sample (inclusive)
    trend: np.ndarray  # (K,) int8
    lengths: np.ndarray  # (N,) window lengths
    n_channels: int
    rate_hz: float
    steady_tol: np.ndarray | None = None  # (C*N,) tolerant mode: absolute steady tolerance per series

    @property
    def n_windows(self) -> int:
        return int(self.lengths.shape[0])

    def __len__(self) -> int:
        """Total number of segments."""
        return int(self.trend.shape[0])

    def get(self, i: int, c: int = 0) -> Segments:
        n = self.n_windows
        if not 0 <= i < n or not 0 <= c < self.n_channels:
            raise IndexError(
                f"window {i} / channel {c} out of range ({n} windows, {self.n_channels} channels)"
            )
        s = c * n + i
        a, b = int(self.ptr[s]), int(self.ptr[s + 1])
        base = int(self.series_start[s])
        st, en = self.starts[a:b], self.ends[a:b]
        return Segments(
            st - base, en - base, self.trend[a:b],
            self.x[st].astype(np.float64), self.x[en].astype(np.float64),
            self.rate_hz, int(self.lengths[i]),
            0.0 if self.steady_tol is None else float(self.steady_tol[s]),
        )

    def n_segments(self) -> np.ndarray:
        """``(N, C)`` number of segments per window and channel."""
        return np.diff(self.ptr).reshape(self.n_channels, self.n_windows).T

    def arrays(self) -> dict[str, np.ndarray]:
        """All segments as flat arrays: ``window``, ``channel``, ``start_idx``, ``end_idx`` (local),
        ``trend``, ``start_value``, ``end_value`` (in the input dtype); rows ordered by channel, window."""
        n, c = self.n_windows, self.n_channels
        counts = np.diff(self.ptr)
        base = np.repeat(self.series_start[:-1], counts)
        per_channel = self.ptr[np.arange(1, c + 1) * n] - self.ptr[np.arange(c) * n]
        return {
            "window": np.repeat(np.tile(np.arange(n, dtype=np.int32), c), counts),
            "channel": np.repeat(np.arange(c, dtype=np.int32), per_channel),
            "start_idx": self.starts - base,
            "end_idx": self.ends - base,
            "trend": self.trend,
            "start_value": self.x[self.starts],
            "end_value": self.x[self.ends],
        }
