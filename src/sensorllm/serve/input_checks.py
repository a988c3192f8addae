"""Checks of a recording at inference, before the model loads: what would make its labels wrong without any error.

:func:`check_recording` looks at a file read by :func:`~sensorllm.serve.recording.read_input` (``predict``,
``evaluate`` on a file, ``stream --replay``) and :func:`check_window` at the first window of a live stream.
Each finding is an :class:`InputIssue` with its kind, file, channel, count and value; :func:`enforce_input`
prints it as one warning line (and ``predict`` writes them into its report), or raises where the labels would
mean nothing:

* ``dead_channel``: a channel whose samples are all equal over whole windows (a gyroscope axis stuck at 0, an
  unplugged sensor), counted in windows. An error only when every channel is constant in every window (there
  is no signal at all).
* ``out_of_range``: samples beyond the sensor's full scale (``sensor_range`` of the model's channel spec, in its
  unit), counted, with the largest value; no sensor records them, so the file is in other units or corrupt.
* ``inf``: ``±inf`` cells, counted per channel. ``predict`` treats them as missing samples (short gaps are
  interpolated, windows on long ones are skipped and counted); a channel with no finite value at all is an
  error. A stream needs every sample and refuses an inf cell as it arrives, naming its line.
* ``rate``: the sampling rate measured from the file's time column (median interval between consecutive rows of
  a recording) against the model's rate. Off by more than :data:`RATE_TOLERANCE` it is an error (the windows
  would cover another duration and every frequency would shift): resample the file. Intervals that stray from
  the median by more than half (dropped samples, jitter) are counted in a warning.

``--force`` turns every error here into a warning, as it does for the unit check (:mod:`.units`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from sensorllm.datasets.spec import DataError

__all__ = ["RATE_TOLERANCE", "InputChecks", "InputIssue", "check_recording", "check_window", "enforce_input",
           "time_seconds"]

RATE_TOLERANCE = 0.02  # a measured rate more than 2 % from the model's is an error
IssueKind = Literal["dead_channel", "out_of_range", "inf", "rate", "irregular_time"]
_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


@dataclass
class InputIssue:
    """One finding: its ``kind``, the ``source`` file, the ``channel`` (``None`` for the time column), how many
    windows, samples, cells or intervals (``count``), a ``value`` (the constant, the largest, the measured rate)
    and the one-line ``message``; ``error``: the labels would be meaningless."""

    kind: IssueKind
    source: str
    channel: str | None
    count: int
    value: float | None
    message: str
    error: bool = False


@dataclass
class InputChecks:
    """What :func:`check_recording` found (``issues``) and what it measured without complaint (``notes``)."""

    issues: list[InputIssue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[InputIssue]:
        return [i for i in self.issues if i.error]

    def to_json(self) -> list[dict]:
        return [{k: (None if isinstance(v, float) and not math.isfinite(v) and k == "value" else v)
                 for k, v in asdict(i).items()} for i in self.issues]


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def _dead_channels(x: np.ndarray, starts: list[int], window: int, names: list[str], src: str) -> list[InputIssue]:
    """Windows (``starts``: the first row of each) in which a channel never changes."""
    if not starts:
        return []
    out = []
    first = np.asarray(starts, dtype=np.int64)
    dead_all = True
    for j, name in enumerate(names):
        lo, hi, seen = [], [], []
        for c in range(0, len(first), 4096):  # bounded memory: (4096, window) at a time
            w = x[:, j][first[c:c + 4096, None] + np.arange(window)[None, :]]
            fin = np.isfinite(w)
            seen.append(fin.any(axis=1))
            lo.append(np.where(fin, w, np.inf).min(axis=1))
            hi.append(np.where(fin, w, -np.inf).max(axis=1))
        lo, hi, seen = np.concatenate(lo), np.concatenate(hi), np.concatenate(seen)
        const = seen & (hi == lo)
        n = int(const.sum())
        dead_all &= bool(n == len(starts))
        if not n:
            continue
        vals, counts = np.unique(lo[const], return_counts=True)
        v = float(vals[np.argmax(counts)])
        what = f"value {_fmt(v)}" if len(vals) == 1 else f"mostly {_fmt(v)}, {len(vals)} different values"
        out.append(InputIssue("dead_channel", src, name, n, v,
                              f"{src}: channel {name!r} is constant ({what}) in {n} of {len(starts)} windows: a dead "
                              "or disconnected sensor? Those windows are classified without it"))
    if dead_all and out:
        values = ", ".join(f"{i.channel} = {_fmt(i.value)}" for i in out)  # type: ignore[arg-type]
        return [InputIssue("dead_channel", src, None, len(starts), None,
                           f"{src}: every channel is constant in every one of the {len(starts)} windows ({values}): "
                           "there is no signal to classify", error=True)]
    return out


def _value_checks(x: np.ndarray, info, src: str, stream: bool) -> list[InputIssue]:
    out = []
    specs = {c.name: c for c in (info.channels or [])}
    for j, name in enumerate(info.channel_names):
        col = x[:, j]
        inf = np.isinf(col)
        if inf.any() and not stream:  # a stream refuses them as they arrive, naming the line
            rows = np.flatnonzero(inf)
            shown = ", ".join(str(r + 1) for r in rows[:5]) + (", …" if len(rows) > 5 else "")
            v = float(col[rows[0]])
            if not np.isfinite(col).any():
                msg, err = "the channel has no finite value at all", True
            else:
                msg, err = "treated as missing samples (short gaps are interpolated, windows on long ones skipped)", False
            out.append(InputIssue("inf", src, name, int(inf.sum()), v,
                                  f"{src}: channel {name!r}: {int(inf.sum())} inf cell(s) at rows {shown} (first: "
                                  f"{_fmt(v)}): {msg}", error=err))
        rng = getattr(specs.get(name), "sensor_range", None)
        if rng:
            fin = col[np.isfinite(col)]
            beyond = np.abs(fin) > float(rng) * (1 + 1e-6)
            if beyond.any():
                big = float(fin[beyond][np.argmax(np.abs(fin[beyond]))])
                unit = specs[name].unit
                out.append(InputIssue("out_of_range", src, name, int(beyond.sum()), big,
                                      f"{src}: channel {name!r}: {int(beyond.sum())} of {len(fin)} samples beyond "
                                      f"the sensor's range ±{_fmt(float(rng))} {unit} (largest {_fmt(big)}): no "
                                      "such sensor records them; another unit, another sensor or a corrupt file?"))
    return out


def time_seconds(values: np.ndarray, column: str, rate_hz: float) -> tuple[np.ndarray, str]:
    """A time column in seconds and how it was read: datetimes, or numbers whose unit is the name's suffix
    (``_ms``, ``_us``, ``_ns``, ``_s``), else the one of s/ms/µs/ns that gives the rate nearest ``rate_hz``.

    Raises:
        DataError: a column that is neither numbers nor datetimes."""
    s = pd.Series(np.asarray(values).ravel())
    num = pd.to_numeric(s, errors="coerce")
    if num.notna().sum() >= max(1, int(0.9 * s.notna().sum())):
        t = num.to_numpy(dtype=np.float64)
        low = column.lower()
        unit = next((u for u in ("ms", "us", "ns") if low.endswith(u)), "s" if low.endswith("_s") else None)
        if unit is None:
            d = np.diff(t[np.isfinite(t)])
            d = d[d > 0]
            if not len(d):
                return t, "seconds"
            med = float(np.median(d))
            unit = min(_UNITS, key=lambda u: abs(math.log(1.0 / (med * _UNITS[u]) / rate_hz)))
        return t * _UNITS[unit], {"s": "seconds", "ms": "milliseconds", "us": "microseconds",
                                  "ns": "nanoseconds"}[unit]
    try:
        dt = pd.to_datetime(s, errors="raise")
    except (ValueError, TypeError) as exc:
        raise DataError(f"time column {column!r} holds neither numbers nor dates (first value {s.iloc[0]!r}); "
                        "name another with --time-column, or '' for none") from exc
    return (dt - dt.iloc[0]).dt.total_seconds().to_numpy(dtype=np.float64), "dates"


def _rate_check(inp, rate_hz: float, src: str) -> tuple[list[InputIssue], list[str]]:
    if inp.time is None:
        return [], []
    try:
        t, how = time_seconds(inp.time, inp.time_column, rate_hz)
    except DataError as exc:
        raise DataError(f"{src}: {exc}") from None
    diffs = np.concatenate([np.diff(t[s.start:s.end]) for s in inp.segments if s.end - s.start > 1] or [np.zeros(0)])
    diffs = diffs[np.isfinite(diffs)]
    pos = diffs[diffs > 0]
    if len(pos) < 2:
        return [], []
    med = float(np.median(pos))
    rate = 1.0 / med
    col = inp.time_column
    out = []
    if abs(rate / rate_hz - 1) > RATE_TOLERANCE:
        out.append(InputIssue(
            "rate", src, None, len(pos), rate,
            f"{src}: column {col!r} ({how}) gives {rate:.4g} Hz (median interval {med * 1000:.4g} ms), the model "
            f"was trained at {rate_hz:g} Hz: its windows would cover {rate_hz / rate:.3g}x the time they should; "
            f"resample the recording to {rate_hz:g} Hz (or name another --time-column, '' for none)", error=True))
    off = int((np.abs(diffs - med) > 0.5 * med).sum())
    if off:
        out.append(InputIssue("irregular_time", src, None, off, med,
                              f"{src}: column {col!r}: {off} of {len(diffs)} intervals between rows differ from the "
                              f"median {med * 1000:.4g} ms by more than half (dropped samples, pauses or jitter): "
                              "windows are cut by row, not by time"))
    note = f"sampling rate from column {col!r} ({how}): {rate:.4g} Hz, the model's {rate_hz:g} Hz"
    return out, [note] if not out or out[0].kind != "rate" else []


def _window_starts(inp, window: int, stride: int) -> list[int]:
    return [s.start + a for s in inp.segments if s.end - s.start >= window
            for a in range(0, s.end - s.start - window + 1, stride)]


def check_recording(inp, info, stride: int | None = None, stream: bool = False) -> InputChecks:
    """Check a recording file read by :func:`~sensorllm.serve.recording.read_input` against ``info`` (a
    :class:`~sensorllm.classifier.ModelInfo`: channel names and specs, window, stride, rate).
    ``stream``: the file is replayed as one stream (windows run across recordings; inf cells are left to the
    stream's own error, which names the line)."""
    src = str(inp.path)
    names = list(info.channel_names)
    window, rate = int(info.window), float(info.rate_hz)
    stride = int(stride or info.stride or max(1, window // 2))
    checks = InputChecks()
    checks.issues += _value_checks(inp.x, info, src, stream)
    starts = list(range(0, len(inp.x) - window + 1, stride)) if stream else _window_starts(inp, window, stride)
    checks.issues += _dead_channels(inp.x, starts, window, names, src)
    issues, notes = _rate_check(inp, rate, src)
    checks.issues += issues
    checks.notes += notes
    return checks


def check_window(w: np.ndarray, info, source: str) -> InputChecks:
    """The checks that apply to one window of a live stream ``(window, C)``: dead channels and the sensor range."""
    x = np.asarray(w, dtype=np.float64)
    checks = InputChecks()
    checks.issues += _value_checks(x, info, source, True)
    checks.issues += _dead_channels(x, [0], len(x), list(info.channel_names), source)
    return checks


def enforce_input(checks: InputChecks, force: bool = False, log: Callable[[str], None] = print,
                  command: str = "predict") -> list[str]:
    """Print each issue as a ``warning:`` line and raise :class:`DataError` with the errors (all of them, in one
    line), unless ``force`` (then they are warnings too). Returns the warning lines (for the report)."""
    errors = checks.errors
    if errors and not force:
        raise DataError("; ".join(i.message for i in errors) + f". Fix the input, or pass --force to {command} "
                        "anyway")
    lines = []
    for i in checks.issues:
        line = i.message + (" (continuing: --force)" if i.error else "")
        log(f"warning: {line}")
        lines.append(line)
    return lines
