"""Streaming recognition: classify a live sensor stream window by window, as the samples arrive.

:class:`StreamClassifier` keeps the last ``window`` samples of every channel in a ring buffer and, every
``hop`` samples once the buffer is full, classifies that window with the model: any
:class:`~sensorllm.classifier.Classifier` (a Stage-2 SensorLLM or a baseline run, from
:func:`~sensorllm.infer.artifact.load_model`). Window ``i`` covers samples ``[i * hop, i * hop + window)``
and goes through the same ``Classifier.predict_proba(windows, indices)`` as ``sensorllm predict`` (for a
SensorLLM: the same per-window text seed ``record_rng(text_seed, 2, "predict", i)``), so a stream gives the
labels and probabilities that :func:`~sensorllm.serve.predict.predict_input` gives for the same recording and
``stride = hop``. (``predict_input`` interpolates short NaN gaps and skips windows on long ones; a stream
refuses non-finite values instead, so the window indices always agree.)

Everything here is usable from Python without the CLI, and none of it does I/O: the input side (CSV lines,
stdin, a followed file, replay) is :mod:`sensorllm.serve.stream_io`, which ``sensorllm stream``
(:mod:`sensorllm.cli.stream_cmd`) wires to the classifier.

Encoder reuse between overlapping windows: none, on purpose. Both registered Chronos tokenisers normalise
each window on its own (``std_uniform``: z-score with the window's mean/std; ``mean_scale``: divide by the
window's mean |x|), so a sample shared by two overlapping windows gets different token ids in each, and the
T5 encoder attends bidirectionally over the whole window, so even equal ids at a position would give
different hidden states when the rest of the window differs. Reusing encoder outputs of the overlap would
change results; every window is encoded in full. A model's embedding cache (``model.enable_cache``) stays
exact (it keys on the full window's values) but only hits for bit-identical windows, and it writes one file
per window, so the stream does not enable it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from sensorllm.classifier import Classifier
from sensorllm.datasets.spec import DataError
from sensorllm.infer.artifact import load_model
from sensorllm.infer.sensorllm import SensorLLMClassifier

__all__ = [
    "Clock",
    "Decision",
    "EmaSmoother",
    "RingBuffer",
    "Smoother",
    "StreamClassifier",
    "StreamStats",
    "VoteSmoother",
    "format_summary",
    "make_smoother",
]

Clock = Callable[[], float]


# ---- ring buffer --------------------------------------------------------------------------------------


class RingBuffer:
    """The last ``capacity`` samples of ``n_channels`` channels (one column per channel, i.e. a ring per
    channel sharing one write position, so channels can never drift apart).

    Args:
        capacity: samples kept (the model's window).
        n_channels: channels per sample.
    """

    def __init__(self, capacity: int, n_channels: int) -> None:
        if capacity < 1 or n_channels < 1:
            raise ValueError(f"capacity and n_channels must be ≥ 1, got {capacity}, {n_channels}")
        self._buf = np.zeros((capacity, n_channels), dtype=np.float64)  # (W, C)
        self._pos = 0  # next row to write
        self.total = 0  # samples ever written

    @property
    def capacity(self) -> int:
        return int(self._buf.shape[0])

    @property
    def full(self) -> bool:
        return self.total >= self.capacity

    def extend(self, x: np.ndarray) -> None:
        """Append ``(n, C)`` samples, overwriting the oldest ones."""
        n, cap = len(x), self.capacity
        if n >= cap:
            self._buf[:] = x[n - cap :]
            self._pos = 0
        else:
            first = min(n, cap - self._pos)
            self._buf[self._pos : self._pos + first] = x[:first]
            self._buf[: n - first] = x[first:]
            self._pos = (self._pos + n) % cap
        self.total += n

    def window(self) -> np.ndarray:
        """A copy of the buffered samples, oldest first: ``(min(total, capacity), C)``."""
        if not self.full:
            return self._buf[: self.total].copy()
        return np.concatenate([self._buf[self._pos :], self._buf[: self._pos]])


# ---- smoothing -----------------------------------------------------------------------------------------


class Smoother(Protocol):
    """Turns the sequence of per-window probabilities into a smoothed ``(class index, probability)``."""

    def update(self, probs: np.ndarray) -> tuple[int, float]: ...  # pragma: no cover


class EmaSmoother:
    """Exponential moving average of the class probabilities.

    ``s_0 = p_0``, ``s_t = alpha * p_t + (1 - alpha) * s_{t-1}``; the smoothed label is ``argmax s_t`` and
    its probability ``s_t[label]`` (``s_t`` stays a distribution). ``alpha = 1`` is no smoothing; a small
    ``alpha`` reacts slowly: a change of activity needs about ``1 / alpha`` decisions to win.
    """

    def __init__(self, alpha: float) -> None:
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"--smooth-alpha must be in (0, 1], got {alpha}")
        self.alpha = float(alpha)
        self._state: np.ndarray | None = None

    def update(self, probs: np.ndarray) -> tuple[int, float]:
        p = np.asarray(probs, dtype=np.float64)
        self._state = p.copy() if self._state is None else self.alpha * p + (1.0 - self.alpha) * self._state
        k = int(np.argmax(self._state))
        return k, float(self._state[k])


class VoteSmoother:
    """Majority vote over the argmax labels of the last ``n`` decisions (fewer at the start).

    Ties go to the tied class with the highest mean probability over those decisions, then to the lowest
    class index. The reported probability is the winner's mean probability over the same decisions.
    """

    def __init__(self, n: int) -> None:
        if n < 1:
            raise ValueError(f"--smooth-n must be ≥ 1, got {n}")
        self.n = int(n)
        self._recent: deque[np.ndarray] = deque(maxlen=self.n)

    def update(self, probs: np.ndarray) -> tuple[int, float]:
        self._recent.append(np.asarray(probs, dtype=np.float64))
        p = np.stack(list(self._recent))  # (m, K)
        votes = np.bincount(p.argmax(axis=1), minlength=p.shape[1])
        mean = p.mean(axis=0)
        tied = np.flatnonzero(votes == votes.max())
        k = int(tied[np.argmax(mean[tied])])  # argmax takes the first (lowest index) on equal means
        return k, float(mean[k])


SmoothKind = Literal["none", "ema", "vote"]


def make_smoother(kind: SmoothKind, alpha: float = 0.3, n: int = 5) -> Smoother | None:
    """The smoother named ``kind`` (``none`` → ``None``)."""
    if kind == "none":
        return None
    if kind == "ema":
        return EmaSmoother(alpha)
    if kind == "vote":
        return VoteSmoother(n)
    raise ValueError(f"unknown smoothing {kind!r}; known: none, ema, vote")


# ---- decisions and statistics ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """One classified window.

    Attributes:
        index: decision number (0, 1, ...); also the window index ``predict`` gives it.
        start_sample / end_sample: the window is samples ``[start_sample, end_sample)`` of the stream.
        start_s / end_s: the same in seconds at the model's sampling rate.
        label / prob: argmax class and its probability.
        probs: all class probabilities, in the model's label order.
        smooth_label / smooth_prob: after smoothing (``None`` without a smoother).
        latency_ms: from the arrival of the window's last sample to the decision being available.
    """

    index: int
    start_sample: int
    end_sample: int
    start_s: float
    end_s: float
    label: str
    prob: float
    probs: tuple[float, ...]
    smooth_label: str | None
    smooth_prob: float | None
    latency_ms: float


def _percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


@dataclass
class StreamStats:
    """Running totals of a stream: what the end-of-stream summary reports.

    ``busy_s`` is the wall time spent inside :meth:`StreamClassifier.push` (buffering, text, model): the
    processing cost, independent of how fast the samples came in. The real-time factor is signal seconds
    per processing second (> 1 keeps up with the sensor). ``cpu_s`` is the process CPU time over the same
    calls: on a machine shared with other jobs it shows what the work itself costs (with one torch thread,
    ``signal_s / cpu_s`` is the real-time factor a dedicated core would give).
    """

    rate_hz: float
    samples: int = 0
    busy_s: float = 0.0
    cpu_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)

    def summary(self, wall_s: float | None = None) -> dict[str, float | int | None]:
        """JSON-able totals: decisions, samples, signal_s, latency median/p95/max (ms), busy_s, cpu_s,
        wall_s, real_time_factor."""
        signal_s = self.samples / self.rate_hz
        return {
            "decisions": len(self.latencies_ms),
            "samples": self.samples,
            "signal_s": signal_s,
            "latency_median_ms": _percentile(self.latencies_ms, 50),
            "latency_p95_ms": _percentile(self.latencies_ms, 95),
            "latency_max_ms": max(self.latencies_ms) if self.latencies_ms else float("nan"),
            "busy_s": self.busy_s,
            "cpu_s": self.cpu_s,
            "wall_s": wall_s,
            "real_time_factor": signal_s / self.busy_s if self.busy_s > 0 else float("nan"),
        }


def format_summary(s: dict[str, float | int | None]) -> str:
    """The one-paragraph summary ``sensorllm stream`` prints to stderr."""
    wall = f", wall {s['wall_s']:.1f} s" if s.get("wall_s") is not None else ""
    return (f"stream: {s['decisions']} decisions over {s['signal_s']:.1f} s of signal ({s['samples']} "
            f"samples); latency median {s['latency_median_ms']:.1f} ms, p95 {s['latency_p95_ms']:.1f} ms, "
            f"max {s['latency_max_ms']:.1f} ms; processing {s['busy_s']:.1f} s (CPU {s['cpu_s']:.1f} s), "
            f"real-time factor {s['real_time_factor']:.2f}x (signal s per processing s){wall}")


# ---- the classifier ---------------------------------------------------------------------------------------


@dataclass
class _Pending:
    index: int
    end: int  # exclusive end sample
    window: np.ndarray  # (W, C)
    arrival: float


class StreamClassifier:
    """Sliding-window classification of a sample stream (no I/O; feed it with :meth:`push`).

    Args:
        model: a :class:`~sensorllm.classifier.Classifier` (SensorLLM or baseline, from
            :func:`~sensorllm.infer.artifact.load_model`), or a Stage-2
            :class:`~sensorllm.model.SensorLLM` (with a head) together with ``meta``.
        meta: with a SensorLLM ``model``: the checkpoint's ``config.json`` (``meta["extra"]`` carries dataset
            spec, rate, window, stride and text settings, as ``sensorllm tune`` writes them); ``None`` for a
            ``Classifier``.
        hop: samples between decisions (default: the training stride, else ``window // 2``).
        smoother: optional :class:`EmaSmoother` / :class:`VoteSmoother`.
        batch_size: windows per model call when one push completes several windows.
        clock: time source for latencies (seconds; ``time.perf_counter`` by default).
        first_window_check: called once with the first complete window ``(window, C)`` before it is
            classified (``sensorllm stream`` checks the input's units there; raising stops the stream).

    Raises:
        ValueError: a Stage-1 model, a checkpoint without the stream metadata, or a bad ``hop``.
    """

    def __init__(self, model, meta: dict | None = None, hop: int | None = None, smoother: Smoother | None = None,
                 batch_size: int = 8, clock: Clock = time.perf_counter,
                 first_window_check: Callable[[np.ndarray], None] | None = None) -> None:
        if meta is not None:
            model = SensorLLMClassifier(model, meta)
            model.require_windows()
        clf: Classifier = model
        info = clf.info
        if not info.class_names:
            raise ValueError("this is a Stage-1 model (no classifier head): streaming needs a Stage-2 model")
        info.require_windowing()
        self.classifier = clf
        self.channel_names = list(info.channel_names)
        self.channels = list(info.channels or [])  # ChannelSpec per channel, when the model records them
        self.class_names = list(info.class_names)
        self.window = int(info.window)  # type: ignore[arg-type]
        self.rate_hz = float(info.rate_hz)  # type: ignore[arg-type]
        self.hop = int(hop) if hop is not None else int(info.stride or max(1, self.window // 2))
        if self.hop < 1:
            raise ValueError(f"--hop must be ≥ 1 sample, got {self.hop}")
        if batch_size < 1:
            raise ValueError(f"--batch-size must be ≥ 1, got {batch_size}")
        self.first_window_check = first_window_check
        self.smoother = smoother
        self.batch_size = int(batch_size)
        self.clock = clock
        self._ring = RingBuffer(self.window, len(self.channel_names))
        self._next_end = self.window  # the stream length at which the next window is complete
        self._decisions = 0
        self.stats = StreamStats(self.rate_hz)

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "cpu", **kwargs) -> StreamClassifier:
        """Load a SensorLLM run/checkpoint or a baseline run directory
        (:func:`~sensorllm.infer.artifact.load_model`) and wrap it (``kwargs`` as for the constructor)."""
        return cls(load_model(path, device, command="stream"), **kwargs)

    @property
    def samples_seen(self) -> int:
        return self._ring.total

    def samples_to_next_decision(self) -> int:
        """How many more samples complete the next window."""
        return self._next_end - self._ring.total

    def push(self, samples: np.ndarray, arrival: float | np.ndarray | None = None) -> list[Decision]:
        """Append samples and classify every window they complete.

        Args:
            samples: ``(n, C)`` (or ``(C,)`` for one sample) values in ``self.channel_names`` order.
            arrival: when the samples arrived (clock seconds): one time for all, or ``(n,)`` per sample;
                default now.

        Returns:
            The decisions completed by these samples, in order (often none).

        Raises:
            DataError: wrong shape, or a NaN/inf value (naming the stream sample index and channel).
        """
        t0, c0 = self.clock(), time.process_time()
        x = np.asarray(samples, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        names = self.channel_names
        if x.ndim != 2 or x.shape[1] != len(names):
            raise DataError(f"expected samples of shape (n, {len(names)}) for channels {names}, "
                            f"got {tuple(np.shape(samples))}")
        bad = ~np.isfinite(x)
        if bad.any():
            i, j = map(int, np.argwhere(bad)[0])
            raise DataError(f"sample {self._ring.total + i}, channel {self.channel_names[j]!r}: value {x[i, j]} "
                            "is not finite (streams need every sample)")
        n = len(x)
        arr = np.full(n, t0) if arrival is None else np.broadcast_to(np.asarray(arrival, np.float64), (n,))
        pending: list[_Pending] = []
        pos = 0
        while pos < n:
            take = min(self._next_end - self._ring.total, n - pos)
            self._ring.extend(x[pos : pos + take])
            pos += take
            if self._ring.total == self._next_end:
                last_arrival = float(arr[pos - 1])  # the sample completing this window
                w = self._ring.window()
                if self._decisions == 0 and self.first_window_check is not None:
                    self.first_window_check(w)
                pending.append(_Pending(self._decisions, self._next_end, w, last_arrival))
                self._decisions += 1
                self._next_end += self.hop
        out: list[Decision] = []
        for a in range(0, len(pending), self.batch_size):
            out += self._classify(pending[a : a + self.batch_size])
        self.stats.samples += n
        self.stats.busy_s += self.clock() - t0
        self.stats.cpu_s += time.process_time() - c0
        return out

    def _classify(self, batch: list[_Pending]) -> list[Decision]:
        # the same predict_proba as predict_input: for a SensorLLM, window p.index gets the same text seed,
        # settings and channel order, and is scored in the training's precision under inference mode
        probs = self.classifier.predict_proba(np.stack([p.window for p in batch]), [p.index for p in batch],
                                              len(batch))
        done = self.clock()
        out = []
        for p, pr in zip(batch, probs, strict=True):
            k = int(np.argmax(pr))
            sk, sp = self.smoother.update(pr) if self.smoother is not None else (None, None)
            latency = (done - p.arrival) * 1000.0
            self.stats.latencies_ms.append(latency)
            start = p.end - self.window
            out.append(Decision(
                index=p.index, start_sample=start, end_sample=p.end, start_s=start / self.rate_hz,
                end_s=p.end / self.rate_hz, label=self.class_names[k], prob=float(pr[k]),
                probs=tuple(float(v) for v in pr), smooth_label=None if sk is None else self.class_names[sk],
                smooth_prob=sp, latency_ms=latency))
        return out
