"""Reading trend texts back: segments, counts and summary facts from a (generated or model-written) answer.

The parser accepts every line format and synonym of :mod:`sensorllm.text.templates` and is lenient about
spacing, case, bullets, ``s``/``sec``/``seconds`` and ``-``/``to``/``and`` between the times. Lines it
cannot read are kept in ``ParsedAnswer.unparsed`` (the summary paragraph ends up there too and is searched
for the number of trend types, number of changes, per-type durations and overall direction).

:func:`score_answer` compares a text against reference :class:`~sensorllm.text.segments.Segments` (Stage-1
evaluation).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .numbers import NUMBER_WORD_RE, words_to_number
from .segments import TREND_KEYS, Segments
from .templates import ALL_TREND_WORDS

__all__ = ["ParsedAnswer", "answer_weight_spans", "boundary_error", "end_time_spans", "parse_summary", "parse_trend_answer", "score_answer",
           "trend_code", "trend_word_spans"]

_WORDS = "|".join(sorted(ALL_TREND_WORDS, key=len, reverse=True))
_T = r"(\d+(?:\.\d+)?)"
_UNIT = r"(?:\s*(?:s|secs?|seconds?)\b)?"
_SEG_RE = re.compile(
    rf"^\s*(?:[-*\u2022]\s+)?(?:from\s+|between\s+)?{_T}{_UNIT}"
    rf"\s*(?:-|\u2013|\u2014|to|and|until)\s*{_T}{_UNIT}"
    rf"\s*[:,]?\s*(?:an?\s+)?([a-z]+)\b",
    re.IGNORECASE,
)
_NUM = rf"(\d+|no|{NUMBER_WORD_RE})"
_COUNT_RE = re.compile(
    rf"^\s*(?:[-*\u2022]\s+)?(?!\d)[^:]*?\b({_WORDS})\b[^:]*:\s*{_NUM}\s*\.?\s*$", re.IGNORECASE
)
_NTRENDS_RE = re.compile(
    rf"\b{_NUM}\s*(?:(?:distinct|unique|different)\s+trends?|trend\s+types?"
    rf"|(?:kinds?|types?)\s+of\s+trends?)\b",
    re.IGNORECASE,
)
_NCHANGES_RE = re.compile(
    rf"\b{_NUM}\s*(?:trend\s+(?:changes?|shifts?)|(?:changes?|shifts?)\s+(?:in|between|of)\s+trends?)\b",
    re.IGNORECASE,
)
_DUR_RE = re.compile(
    rf"\b({_WORDS})\s+(?:trends?|patterns?|tendency|tendencies|segments?|parts?)\b"
    rf"[^.]*?(\d+(?:\.\d+)?)\s*(?:s|sec|secs|seconds?)\b",
    re.IGNORECASE,
)
_OVERALL_RE = re.compile(rf"\b(?:overall|as a whole|net direction)\b[^.]*?\b({_WORDS})\b", re.IGNORECASE)


def trend_code(word: str) -> int | None:
    """Trend code (-1/0/+1) of a synonym (``rising`` → +1), or ``None``."""
    return ALL_TREND_WORDS.get(word.lower())


def _segment_line_spans(answer: str, group: int) -> list[tuple[int, int]]:
    """Character spans ``[a, b)`` of regex group ``group`` of every segment line in the answer's first block
    (before its first blank line: the segment and count lines, not the summary)."""
    spans, pos = [], 0
    for raw in answer.split("\n\n", 1)[0].split("\n"):
        lead = len(raw) - len(raw.lstrip())
        m = _SEG_RE.match(raw.strip())
        if m and trend_code(m.group(3)) is not None:
            spans.append((pos + lead + m.start(group), pos + lead + m.end(group)))
        pos += len(raw) + 1
    return spans


def trend_word_spans(answer: str) -> list[tuple[int, int]]:
    """Character spans ``[a, b)`` of the trend word of every segment line (``0.0s to 0.08s: increasing``) in
    the answer's first block. These are the words that only a model reading its sensor tokens can get right."""
    return _segment_line_spans(answer, 3)


def end_time_spans(answer: str) -> list[tuple[int, int]]:
    """Character spans ``[a, b)`` of the end time of every segment line (``0.08`` in ``0.0s to 0.08s:
    increasing``) in the answer's first block: where the data's trend changes (or the window ends). The start
    time of the next line repeats it."""
    return _segment_line_spans(answer, 2)


def answer_weight_spans(answer: str, trend_word_weight: float = 1.0, end_time_weight: float = 1.0
                        ) -> list[tuple[int, int, float]]:
    """``(a, b, weight)`` for the segment lines' trend words and end times of ``answer`` whose weight is not 1
    (the weighted spans of a Stage-1 training example; none at the paper's plain loss)."""
    spans = [(a, b, trend_word_weight) for a, b in trend_word_spans(answer)] if trend_word_weight != 1.0 else []
    if end_time_weight != 1.0:
        spans += [(a, b, end_time_weight) for a, b in end_time_spans(answer)]
    return spans


def _num(s: str) -> int | None:
    try:
        return words_to_number(s)
    except ValueError:
        return None


@dataclass
class ParsedAnswer:
    """What could be read from a trend text.

    Attributes:
        segments: ``(start_time, end_time, trend_code)`` per segment line, in text order.
        counts: trend code → count from the count lines.
        n_trends, n_changes: from the summary ("2 distinct trends", "three trend changes"), if present.
        durations: trend code → total seconds from the summary.
        overall: overall direction code from the summary.
        unparsed: the lines that were neither segment nor count lines (includes the summary).
    """

    segments: list[tuple[float, float, int]] = field(default_factory=list)
    counts: dict[int, int] = field(default_factory=dict)
    n_trends: int | None = None
    n_changes: int | None = None
    durations: dict[int, float] = field(default_factory=dict)
    overall: int | None = None
    unparsed: list[str] = field(default_factory=list)

    def indices(self, rate_hz: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Segment start/end sample indices (``round(t * rate)``; exact for rates ≤ 100 Hz, since times are
        printed with two decimals) and trend codes."""
        if not self.segments:
            z = np.zeros(0, np.int64)
            return z, z.copy(), np.zeros(0, np.int8)
        a = np.array([s[0] for s in self.segments]) * rate_hz
        b = np.array([s[1] for s in self.segments]) * rate_hz
        t = np.array([s[2] for s in self.segments], dtype=np.int8)
        return np.rint(a).astype(np.int64), np.rint(b).astype(np.int64), t

    def step_labels(self, rate_hz: float, length: int) -> np.ndarray:
        """Trend code per sample pair of a window of ``length`` samples; pairs no segment covers are 2."""
        out = np.full(max(length - 1, 0), 2, dtype=np.int8)
        for a, b, t in zip(*self.indices(rate_hz)):
            lo, hi = max(int(a), 0), min(int(b), length - 1)
            if hi > lo:
                out[lo:hi] = t
        return out


def parse_summary(text: str, into: ParsedAnswer | None = None) -> ParsedAnswer:
    """Read the summary facts (trend-type count, change count, durations, overall direction) from ``text``."""
    p = into if into is not None else ParsedAnswer()
    m = _NTRENDS_RE.search(text)
    if m:
        p.n_trends = _num(m.group(1))
    m = _NCHANGES_RE.search(text)
    if m:
        p.n_changes = _num(m.group(1))
    for m in _DUR_RE.finditer(text):
        code = trend_code(m.group(1))
        if code is not None and code not in p.durations:
            p.durations[code] = float(m.group(2))
    ms = list(_OVERALL_RE.finditer(text))
    if ms:
        p.overall = trend_code(ms[-1].group(1))
    return p


def parse_trend_answer(text: str) -> ParsedAnswer:
    """Parse an answer (segment lines, count lines and/or summary paragraph) into a :class:`ParsedAnswer`."""
    p = ParsedAnswer()
    rest = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        m = _SEG_RE.match(line)
        if m:
            code = trend_code(m.group(3))
            if code is not None:
                p.segments.append((float(m.group(1)), float(m.group(2)), code))
                continue
        m = _COUNT_RE.match(line)
        if m:
            code, n = trend_code(m.group(1)), _num(m.group(2))
            if code is not None and n is not None:
                p.counts[code] = p.counts.get(code, 0) + n
                continue
        rest.append(line)
    p.unparsed = rest
    if rest:
        parse_summary(" ".join(rest), p)
    return p


def boundary_error(parsed: ParsedAnswer, ref: Segments) -> float | None:
    """Timing error of a text's segment boundaries, in seconds (``None`` when it has no segment lines).

    The boundary times of a text are the start and end times of its segment lines; those of the reference are
    its segments' start and end times, as printed (two decimals; they include 0.0 and the window's end). The
    error is the mean of two averages: over the reference boundaries, the distance to the nearest boundary of
    the text, and over the text's boundaries, the distance to the nearest reference boundary. It is 0 exactly
    when both name the same set of times; a missed change point and an invented one both count.
    """
    if not parsed.segments:
        return None
    got = np.unique(np.array([t for s in parsed.segments for t in s[:2]], dtype=np.float64))
    want = np.unique(np.concatenate([ref.start_time, ref.end_time]).astype(np.float64)) if len(ref) \
        else np.zeros(1)
    d = np.abs(want[:, None] - got[None, :])
    return float(0.5 * (d.min(axis=1).mean() + d.min(axis=0).mean()))


def score_answer(text: str | ParsedAnswer, ref: Segments) -> dict:
    """Compare a trend answer with the reference segments of its window.

    Returns:
        ``parsed_segments`` / ``ref_segments`` (counts), ``segments_exact`` (same boundaries and trends),
        ``step_accuracy`` (fraction of sample pairs whose trend matches; uncovered pairs count as wrong),
        ``counts_exact`` (count lines equal the reference counts; a one-type window needs none),
        ``n_trends_ok``, ``n_changes_ok``, ``overall_ok`` (``None`` when the text has no such fact),
        ``duration_abs_error`` (mean absolute error in seconds over the reference trend types, ``None``
        without durations) and ``boundary_abs_error_s`` (:func:`boundary_error`: timing error of the
        segment boundaries in seconds, ``None`` without segment lines).
    """
    p = parse_trend_answer(text) if isinstance(text, str) else text
    rate, length = ref.rate_hz, ref.length
    a, b, t = p.indices(rate)
    exact = (
        len(p.segments) == len(ref)
        and np.array_equal(a, ref.start_idx)
        and np.array_equal(b, ref.end_idx)
        and np.array_equal(t, ref.trend)
    )
    ref_steps = ref.step_labels()
    if ref_steps.size:
        acc = float((p.step_labels(rate, length) == ref_steps).mean())
    else:  # one-sample window: nothing to label
        acc = 1.0 if exact else 0.0
    ref_counts = ref.counts()
    counts_exact = p.counts == ref_counts if len(ref_counts) > 1 else p.counts in ({}, ref_counts)
    ref_steps_per = ref.total_steps()
    dur_err = None
    if p.durations:
        errs = [abs(p.durations.get(c, 0.0) - s / rate) for c, s in ref_steps_per.items()]
        dur_err = float(np.mean(errs))
    return {
        "parsed_segments": len(p.segments),
        "ref_segments": len(ref),
        "segments_exact": bool(exact),
        "step_accuracy": acc,
        "counts_exact": bool(counts_exact),
        "n_trends_ok": None if p.n_trends is None else p.n_trends == len(ref_counts),
        "n_changes_ok": None if p.n_changes is None else p.n_changes == ref.n_changes,
        "overall_ok": None if p.overall is None else p.overall == ref.overall(),
        "duration_abs_error": dur_err,
        "boundary_abs_error_s": boundary_error(p, ref),
        "trend_keys": {TREND_KEYS[c]: n for c, n in sorted(ref_counts.items())},
    }
