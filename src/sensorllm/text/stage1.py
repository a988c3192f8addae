"""Stage-1 trend QA for one channel of one window: question, answer (segment lines + counts) and summary.

The answer is one line per trend segment (``0.0s to 0.08s: increasing`` in one of several line formats),
followed — when more than one trend type occurs — by one count line per trend type (descending count,
ties in the order decrease, increase, steady). The summary paragraph gives the sensor and time span, the
number of distinct trend types and of trend *changes* (= segments − 1; the reference code printed the
number of segments), the total duration of each trend type (alphabetical, ``%.2f`` seconds) and, when there
is more than one segment, the overall direction (sign of last − first sample).

Every random choice is drawn from the ``numpy.random.Generator`` passed in, in a fixed order, so equal
generators give equal texts.
"""

from __future__ import annotations

import zlib
from typing import Iterator, Literal, Sequence

import numpy as np

from ..datasets.spec import ChannelSpec, DataError
from . import templates as T
from .numbers import capitalize_first, fix_articles, number_to_words, with_article
from .segments import TREND_ORDER, Segments, format_time
from .trend import DEFAULT_MIN_DURATION, DEFAULT_TOL, Mode, segment_batch, segment_trends

__all__ = [
    "stage1_qa",
    "iter_stage1_records",
    "record_rng",
    "stage1_text",
    "stage1_question",
    "trend_answer",
    "trend_summary",
    "render_number",
    "NumberStyle",
    "pick_option",
    "DEFAULT_SENSOR_PREFIX",
]

NumberStyle = Literal["mixed", "digits", "words"]
DEFAULT_SENSOR_PREFIX = "normalized "
"""The reference calls every sensor "normalized <channel>" (the model sees z-normalised values)."""

_TIME_CACHE: dict[float, list[str]] = {}


def record_rng(seed: int, stage: int, split: str, index: int, channel: int = -1) -> np.random.Generator:
    """The generator for one record: a function of ``(seed, stage, split, window index, channel)`` only,
    so texts do not depend on generation order, chunking or which other records are generated.
    ``channel=-1`` for per-window (Stage-2) records."""
    if seed < 0 or index < 0:
        raise ValueError(f"seed and index must be >= 0, got seed={seed}, index={index}")
    key = [int(seed), int(stage), zlib.crc32(split.encode("utf-8")), int(index), int(channel) + 1]
    return np.random.default_rng(np.random.SeedSequence(key))


def _times(rate: float, upto: int) -> list[str]:
    """``format_time(i, rate)`` for ``i <= upto`` (cached per rate)."""
    cache = _TIME_CACHE.get(rate)
    if cache is None or len(cache) <= upto:
        n = max(upto + 1, 2 * len(cache) if cache else 256)
        cache = [format_time(i, rate) for i in range(n)]
        _TIME_CACHE[rate] = cache
    return cache


def pick_option(rng: np.random.Generator, options):
    """One of ``options`` drawn uniformly with ``rng`` (one ``rng.integers`` call): how every template and
    wording choice of the Stage-1 and Stage-2 texts is made."""
    return options[int(rng.integers(len(options)))]


def render_number(n: int, rng: np.random.Generator, numbers: NumberStyle = "mixed") -> str:
    """``n`` as digits or English words (``mixed``: a fair coin from ``rng``)."""
    if numbers == "digits":
        return str(n)
    if numbers == "words":
        return number_to_words(n)
    if numbers != "mixed":
        raise ValueError(f"numbers must be 'mixed', 'digits' or 'words', got {numbers!r}")
    return number_to_words(n) if rng.random() < 0.5 else str(n)


def _counted(n: int, nouns: tuple[str, str], rng: np.random.Generator, numbers: NumberStyle) -> str:
    if n == 0:
        return f"no {nouns[1]}"
    return f"{render_number(n, rng, numbers)} {nouns[0] if n == 1 else nouns[1]}"


def stage1_question(rng: np.random.Generator) -> str:
    """One of the Stage-1 question phrasings (≥ 30) about the trend changes of the data."""
    template = pick_option(rng, T.STAGE1_QUESTIONS)
    return template.format(data=pick_option(rng, T.STAGE1_DATA_NOUNS))


def trend_answer(segs: Segments, syn: T.SynonymSet, rng: np.random.Generator) -> str:
    """Segment lines, then one count line per trend type when more than one type occurs."""
    line_fmt = pick_option(rng, T.SEGMENT_LINE_FORMATS)
    count_fmt = pick_option(rng, T.COUNT_LINE_FORMATS)
    ends = segs.end_idx.tolist()
    times = _times(segs.rate_hz, max(ends) if ends else 0)
    words = [syn.word(c) for c in (-1, 0, 1)]  # index code + 1
    lines = [
        line_fmt.format(s=times[a], e=times[b], w=words[t + 1])
        for a, b, t in zip(segs.start_idx.tolist(), ends, segs.trend.tolist())
    ]
    counts = segs.counts()
    if len(counts) > 1:
        order = sorted(counts, key=lambda c: (-counts[c], TREND_ORDER.index(c)))
        for c in order:
            w = words[c + 1]
            lines.append(count_fmt.format(w=w, W=capitalize_first(w), n=counts[c]))
    return "\n".join(lines)


def trend_summary(
    segs: Segments,
    syn: T.SynonymSet,
    rng: np.random.Generator,
    sensor: str | None = None,
    numbers: NumberStyle = "mixed",
) -> str:
    """The summary paragraph. Without ``sensor`` the sensor/time sentence is left out (Stage-2 trend text)."""
    parts = []
    if sensor is not None:
        tmpl = pick_option(rng, T.SENSOR_SENTENCES)
        end = format_time(segs.length - 1, segs.rate_hz)
        parts.append(tmpl.format(sensor=sensor, Sensor=capitalize_first(sensor), start="0.0", end=end))
    counts = segs.counts()
    n_types, n_changes = len(counts), segs.n_changes
    tmpl = pick_option(rng, T.TREND_COUNT_SENTENCES)
    trends = _counted(n_types, pick_option(rng, T.TREND_NOUNS), rng, numbers)
    changes = _counted(n_changes, pick_option(rng, T.CHANGE_NOUNS), rng, numbers)
    parts.append(tmpl.format(trends=trends, Trends=capitalize_first(trends), changes=changes,
                             be="is" if n_types == 1 else "are"))
    steps = segs.total_steps()
    lead = pick_option(rng, T.DURATION_LEADS)
    clauses = []
    for code in TREND_ORDER:
        if code not in steps:
            continue
        w = syn.word(code)
        clause = pick_option(rng, T.DURATION_CLAUSES)
        clauses.append(clause.format(w=w, a_w=with_article(w), d=f"{steps[code] / segs.rate_hz:.2f}"))
    if len(clauses) == 1:
        body = clauses[0]
    elif len(clauses) == 2:
        body = f"{clauses[0]}, and {clauses[1]}"
    else:
        body = ", ".join(clauses[:-1]) + f", and {clauses[-1]}"
    parts.append(capitalize_first(lead + body) + ".")
    if len(segs) > 1:
        w = syn.word(segs.overall())
        parts.append(pick_option(rng, T.OVERALL_SENTENCES).format(w=w, a_w=with_article(w)))
    return fix_articles(" ".join(parts))


def stage1_text(
    segs: Segments,
    description: str,
    rng: np.random.Generator,
    numbers: NumberStyle = "mixed",
    sensor_prefix: str = DEFAULT_SENSOR_PREFIX,
) -> dict:
    """Question, answer and summary for precomputed segments of the channel described by ``description``.

    Draw order from ``rng``: question, data noun, synonym set, line format, count format, summary choices.
    """
    question = stage1_question(rng)
    syn = pick_option(rng, T.STAGE1_SYNONYMS)
    answer = trend_answer(segs, syn, rng)
    summary = trend_summary(segs, syn, rng, sensor=f"{sensor_prefix}{description}", numbers=numbers)
    return {
        "question": question,
        "answer": answer,
        "summary": summary,
        "synonyms": list(syn),
        "n_segments": len(segs),
    }


def stage1_qa(
    window: np.ndarray,
    channel: ChannelSpec | str,
    rate_hz: float,
    rng: np.random.Generator,
    mode: Mode = "exact",
    tol: float = DEFAULT_TOL,
    min_duration: float = DEFAULT_MIN_DURATION,
    numbers: NumberStyle = "mixed",
    sensor_prefix: str = DEFAULT_SENSOR_PREFIX,
) -> dict:
    """Stage-1 QA for one channel of one window.

    Args:
        window: 1-D samples of the channel (length ≥ 1, finite).
        channel: its :class:`ChannelSpec` (``description`` is used in the text) or a description string.
        rate_hz: sampling rate.
        rng: the generator for every random choice (seed it per window and channel).
        mode, tol, min_duration: trend segmentation (see :mod:`sensorllm.text.trend`).
        numbers: counts in the summary as ``digits``, ``words`` or ``mixed`` (random per number).
        sensor_prefix: prepended to the description in the summary.

    Returns a dict with ``question``, ``answer``, ``summary``, ``segments`` (:class:`Segments`),
    ``n_segments`` and ``synonyms``.
    """
    if isinstance(channel, ChannelSpec):
        name, description = channel.name, channel.description
    else:
        name = description = str(channel)
    segs = segment_trends(np.asarray(window), rate_hz, mode, tol, min_duration, channel=name)
    out = stage1_text(segs, description, rng, numbers, sensor_prefix)
    out["segments"] = segs
    return out


def chunk_windows(ws, sel: np.ndarray, n_classes: int, where: str) -> Iterator[tuple[int, int, int, str, int]]:
    """``(k, window index, label, subject, start)`` for the windows ``sel`` of a prepared split, checking
    every label against ``n_classes`` (``where`` names the labels file in the error)."""
    labels = np.asarray(ws.labels[sel]).tolist()
    subjects = np.asarray(ws.subjects[sel]).tolist()
    starts = np.asarray(ws.starts[sel]).tolist()
    for k in range(len(sel)):
        i, label = int(sel[k]), int(labels[k])
        if not 0 <= label < n_classes:
            raise DataError(f"{where}: window {i} has label {label}, outside 0..{n_classes - 1}")
        yield k, i, label, str(subjects[k]), int(starts[k])


def iter_stage1_records(
    data,
    split: str,
    seed: int = 0,
    mode: Mode = "exact",
    tol: float = DEFAULT_TOL,
    min_duration: float = DEFAULT_MIN_DURATION,
    numbers: NumberStyle = "mixed",
    sensor_prefix: str = DEFAULT_SENSOR_PREFIX,
    limit: int | None = None,
    chunk: int = 2048,
    progress=None,
    indices: Sequence[int] | None = None,
) -> Iterator[dict]:
    """Stage-1 records of one split of a prepared dataset
    (:class:`~sensorllm.datasets.prepared.PreparedDataset`), one per (window, channel), in window then
    channel order. Each record is JSON-able:
    ``index, split, channel, description, subject, label, label_name, start, length, question, answer,
    summary, n_segments, trend_mode``. ``progress`` (optional) is called with the number of windows done
    after each chunk. ``indices`` (sorted window indices) restricts the records to those windows; each
    record is identical to the one a full run produces."""
    ws = data.stage1(split)
    channels = data.channels
    classes = data.class_names
    rate = data.rate_hz
    if ws.values.ndim != 2 or ws.values.shape[1] != len(channels):
        raise DataError(f"{data.root}/stage1/{split}/values.npy has shape {ws.values.shape}, "
                        f"expected (T, {len(channels)}) for channels {[c.name for c in channels]}")
    n = len(ws) if limit is None else min(len(ws), int(limit))
    names = [c.name for c in channels]
    order = np.arange(n) if indices is None else np.asarray(indices, dtype=np.int64)
    for a in range(0, len(order), chunk):
        b = min(a + chunk, len(order))
        sel = order[a:b]
        if indices is None:  # contiguous: one slice of the memmap
            offs = np.asarray(ws.offsets[sel[0]:sel[-1] + 2], dtype=np.int64)
            vals = np.asarray(ws.values[offs[0]:offs[-1]])
            offs = offs - offs[0]
        else:
            parts = [ws[int(i)] for i in sel]
            offs = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)
            vals = np.concatenate(parts) if parts else np.zeros((0, len(channels)), np.float32)
        table = segment_batch(vals, offs, rate, mode, tol, min_duration, names, first_window=int(sel[0]))
        where = f"{data.root}/stage1/{split}/labels.npy"
        for k, i, label, subject, start in chunk_windows(ws, sel, len(classes), where):
            for c, ch in enumerate(channels):
                segs = table.get(k, c)
                rng = record_rng(seed, 1, split, i, c)
                rec = stage1_text(segs, ch.description, rng, numbers, sensor_prefix)
                yield {
                    "index": i,
                    "split": split,
                    "channel": ch.name,
                    "description": ch.description,
                    "subject": subject,
                    "label": label,
                    "label_name": classes[label],
                    "start": start,
                    "length": segs.length,
                    "question": rec["question"],
                    "answer": rec["answer"],
                    "summary": rec["summary"],
                    "n_segments": rec["n_segments"],
                    "trend_mode": mode,
                }
        if progress is not None:
            progress(b - a)
