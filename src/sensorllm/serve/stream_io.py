"""The input side of streaming recognition: comma-separated text lines (from stdin, a file that grows, or a
recorded CSV replayed at a chosen speed) parsed into samples in the model's channel order, and the loops
that feed them to a :class:`~sensorllm.serve.stream.StreamClassifier` as they arrive."""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

from sensorllm.datasets.spec import DataError

from .recording import apply_channel_map
from .stream import Clock, Decision, StreamClassifier

__all__ = ["CsvRowParser", "LineChunk", "follow_lines", "replay", "run_stream", "text_lines"]

LineChunk = tuple[list[str], float]  # complete text lines and the clock time they were read


# ---- CSV input -------------------------------------------------------------------------------------------


def _split(line: str) -> list[str]:
    line = line.rstrip("\r\n")
    return next(csv.reader([line])) if '"' in line else line.split(",")


class CsvRowParser:
    """Comma-separated text lines → ``(n, C)`` samples in the model's channel order.

    The first non-blank line must be a header naming the columns; channels are matched by name (extra
    columns such as a timestamp are ignored, order does not matter). Blank lines are skipped. Every error
    names the source, the line number and, for values, the channel.

    Args:
        channels: the model's channel names, in the order samples are returned.
        source: name of the input for messages (a path or ``<stdin>``).
        channel_map: header name → model channel (``--channel-map``), applied to the header first.
    """

    def __init__(self, channels: Sequence[str], source: str, channel_map: dict[str, str] | None = None) -> None:
        self.channels = list(channels)
        self.source = source
        self.channel_map = dict(channel_map or {})
        self.lineno = 0
        self._cols: list[int] | None = None
        self._n_fields = 0

    def _header(self, line: str) -> None:
        names = [f.strip() for f in _split(line.lstrip("\ufeff"))]
        if all(_is_number(f) for f in names):
            raise DataError(f"{self.source}, line {self.lineno}: expected a header row naming the columns "
                            f"(the model's channels are {self.channels}), got numbers")
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise DataError(f"{self.source}, line {self.lineno}: duplicate columns {dup}")
        if self.channel_map:
            cols = apply_channel_map({n: np.zeros(0) for n in names}, self.channel_map, self.channels, self.source)
            names = list(cols)
        missing = [c for c in self.channels if c not in names]
        if missing:
            raise DataError(f"{self.source}: missing channels {missing}; the model expects {self.channels}, "
                            f"found {sorted(names)}")
        self._cols = [names.index(c) for c in self.channels]
        self._n_fields = len(names)

    def _row(self, line: str) -> np.ndarray:
        fields = _split(line)
        if len(fields) != self._n_fields:
            raise DataError(f"{self.source}, line {self.lineno}: {len(fields)} fields, the header has "
                            f"{self._n_fields}")
        out = np.empty(len(self.channels), dtype=np.float64)
        for j, (c, k) in enumerate(zip(self.channels, self._cols or [], strict=True)):
            raw = fields[k].strip()
            try:
                v = float(raw)
            except ValueError:
                what = "missing value" if not raw else f"non-numeric value {raw!r}"
                raise DataError(f"{self.source}, line {self.lineno}, channel {c!r}: {what}") from None
            if not np.isfinite(v):
                raise DataError(f"{self.source}, line {self.lineno}, channel {c!r}: value {raw!r} is not "
                                "finite (streams need every sample)")
            out[j] = v
        return out

    def feed(self, lines: Iterable[str]) -> np.ndarray:
        """Parse consecutive lines (the first non-blank one ever fed is the header): ``(n, C)`` samples."""
        rows = []
        for line in lines:
            self.lineno += 1
            if not line.strip():
                continue
            if self._cols is None:
                self._header(line)
            else:
                rows.append(self._row(line))
        return np.array(rows, dtype=np.float64).reshape(len(rows), len(self.channels))

    def finish(self) -> None:
        """Raise if the input ended before a header arrived."""
        if self._cols is None:
            raise DataError(f"{self.source}: no header row (the input was empty)")


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


# ---- line sources ------------------------------------------------------------------------------------------


def text_lines(stream: TextIO, clock: Clock = time.perf_counter) -> Iterator[LineChunk]:
    """Lines of a text stream (stdin) one at a time, each stamped with the time it was read."""
    for line in stream:
        yield [line], clock()


def follow_lines(path: str | Path, *, follow: bool = True, idle_timeout: float = 10.0, poll_s: float = 0.05,
                 clock: Clock = time.perf_counter, sleep: Callable[[float], None] = time.sleep
                 ) -> Iterator[LineChunk]:
    """Complete lines of a file that another process appends to (``tail -f``).

    Reads whatever is new, yields the complete lines (a partial last line waits for its newline), and polls
    every ``poll_s`` seconds. Stops at end of file when ``follow`` is False, else after ``idle_timeout``
    seconds without new bytes; an unterminated last line is then yielded as the final line.

    Raises:
        DataError: the file is missing, or shrinks while followed (truncated or replaced).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"missing file {path}")
    with open(path, "rb") as fh:
        tail = b""
        last = clock()
        while True:
            data = fh.read(1 << 16)
            if data:
                last = clock()
                *complete, tail = (tail + data).split(b"\n")
                if complete:
                    yield [b.decode("utf-8", errors="replace") for b in complete], last
                continue
            if os.fstat(fh.fileno()).st_size < fh.tell():
                raise DataError(f"{path} shrank while being followed (truncated or replaced)")
            if not follow or clock() - last >= idle_timeout:
                break
            sleep(poll_s)
        if tail.strip():
            yield [tail.decode("utf-8", errors="replace")], clock()


# ---- loops -----------------------------------------------------------------------------------------------


def run_stream(clf: StreamClassifier, chunks: Iterable[LineChunk], parser: CsvRowParser,
               emit: Callable[[Decision], None]) -> dict[str, float | int | None]:
    """Feed parsed lines to ``clf`` as they come and ``emit`` every decision at once; returns the summary."""
    t0 = clf.clock()
    for lines, arrival in chunks:
        x = parser.feed(lines)
        if len(x):
            for d in clf.push(x, arrival):
                emit(d)
    parser.finish()
    return clf.stats.summary(wall_s=clf.clock() - t0)


def replay(clf: StreamClassifier, path: str | Path, speed: float, emit: Callable[[Decision], None],
           sleep: Callable[[float], None] = time.sleep, channel_map: dict[str, str] | None = None
           ) -> dict[str, float | int | None]:
    """Replay a recorded CSV through ``clf`` at ``speed`` × real time (for tests and benchmarks).

    ``speed > 0``: sample ``i`` is due ``(i + 1) / (rate * speed)`` s after the start, and latencies count
    from that due time (so falling behind shows up as latency). Samples are handed over when the sample
    completing the next window is due. ``speed = 0``: as fast as possible, one window's worth of new samples
    per push, so each latency is the processing time of one decision.
    """
    if speed < 0:
        raise ValueError(f"--speed must be ≥ 0, got {speed}")
    path = Path(path)
    if not path.is_file():
        raise DataError(f"missing file {path}")
    parser = CsvRowParser(clf.channel_names, str(path), channel_map)
    x = parser.feed(path.read_text(errors="replace").splitlines())
    parser.finish()
    t0 = clf.clock()
    pos, n = 0, len(x)
    due = t0 + (np.arange(n) + 1.0) / (clf.rate_hz * speed) if speed > 0 else None
    while pos < n:
        end = min(pos + clf.samples_to_next_decision(), n)
        if due is None:
            arrival: float | np.ndarray | None = None
        else:
            wait = due[end - 1] - clf.clock()
            if wait > 0:
                sleep(wait)
            arrival = due[pos:end]
        for d in clf.push(x[pos:end], arrival):
            emit(d)
        pos = end
    return clf.stats.summary(wall_s=clf.clock() - t0)
