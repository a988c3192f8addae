"""Stage-2 texts for one multi-channel window: statistics, trend text, correlation text and question,
assembled according to ``preprocess_type``.

- ``smry`` (statistics): ``Statistics for each channel:`` then ``{description}: Mean={m} {unit},
  StdDev={s} {unit}`` per channel (population std, up to 8 decimals, trailing zeros stripped).
- ``trend_text``: ``Trend summary for each channel:`` then ``{description}: `` + the Stage-1 summary of that
  channel without its sensor/time sentence (own synonym set per channel).
- ``corr_text``: ``Pearson correlation for each channel pair:`` then one line per pair (channel order,
  i < j): strongly / moderately / weakly positively / negatively correlated at |r| ≥ 0.7 / 0.3 / 0.1, else
  not significantly correlated; a constant channel has no defined r and is reported as not significantly
  correlated (constant).
- ``Q``: "which activity does this N-channel window represent" in one of several phrasings.

``text`` = the pieces named by ``preprocess_type`` joined with newlines (the part of the model input that
follows the per-channel sensor-token block).
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from ..datasets.spec import ChannelSpec, DataError
from . import templates as T
from .numbers import capitalize_first
from .segments import Segments
from .stage1 import NumberStyle, chunk_windows, pick_option, record_rng, render_number, trend_summary
from .trend import DEFAULT_MIN_DURATION, DEFAULT_TOL, Mode, segment_windows

__all__ = [
    "PREPROCESS_TYPES",
    "stage2_text",
    "iter_stage2_records",
    "stage2_pieces",
    "window_pieces",
    "stage2_question",
    "statistics_text",
    "compact_statistics_text",
    "correlation_text",
    "correlation_matrix",
    "trend_text",
    "assemble_text",
    "correlation_strength",
]

PREPROCESS_TYPES = (
    "none", "smry", "smry+Q", "trend", "corr", "smry+trend", "smry+corr",
    "smry+trend+Q", "smry+corr+Q", "smry+trend+corr", "smry+trend+corr+Q",
    # not the paper: ``stats`` is the statistics in a compact form (compact_statistics_text)
    "stats", "stats+Q",
)

_PIECE_KEY = {"smry": "smry", "stats": "stats", "trend": "trend_text", "corr": "corr_text", "Q": "Q"}


def _bad_type(preprocess_type: str) -> str:
    return f"unknown preprocess_type {preprocess_type!r}; expected one of {', '.join(PREPROCESS_TYPES)}"


def _desc(ch: ChannelSpec | str) -> str:
    return ch.description if isinstance(ch, ChannelSpec) else str(ch)


def _unit(ch: ChannelSpec | str) -> str:
    return ch.unit if isinstance(ch, ChannelSpec) else ""


def _check_window(window: np.ndarray, channels: Sequence[ChannelSpec | str]) -> np.ndarray:
    w = np.asarray(window)
    if w.ndim != 2:
        raise ValueError(f"a Stage-2 window must be (L, C), got shape {w.shape}")
    if w.shape[0] == 0:
        raise ValueError("empty window: need at least one sample")
    if w.shape[1] != len(channels):
        raise ValueError(f"window has {w.shape[1]} channels but {len(channels)} channel specs were given")
    bad = ~np.isfinite(w)
    if bad.any():
        t, c = (int(v) for v in np.argwhere(bad)[0])
        name = channels[c].name if isinstance(channels[c], ChannelSpec) else str(channels[c])
        raise ValueError(f"non-finite value {w[t, c]} in channel {name!r} (sample {t})")
    return w.astype(np.float64)


def _fmt_stat(v: float, digits: int | None = None) -> str:
    """Up to 8 decimals, trailing zeros stripped (the reference); with ``digits``, that many significant
    digits in positional notation (shorter texts: every digit is a token for most LLM tokenizers)."""
    if digits is None:
        s = f"{v:.8f}".rstrip("0").rstrip(".")
    else:
        s = np.format_float_positional(v, precision=digits, unique=False, fractional=False, trim="-")
    return "0" if s in ("-0", "", "0.", "-0.") else s


def _channel_stats(window: np.ndarray, channels: Sequence[ChannelSpec | str]):
    """``(channel, mean, population std, unit)`` per channel of a checked window."""
    w = _check_window(window, channels)
    mean = w.mean(axis=0)
    std = np.sqrt(((w - mean) ** 2).mean(axis=0))
    return [(ch, m, s, _unit(ch)) for ch, m, s in zip(channels, mean.tolist(), std.tolist())]


def statistics_text(window: np.ndarray, channels: Sequence[ChannelSpec | str], digits: int | None = None) -> str:
    """Mean and (population) standard deviation of every channel, with units (``digits``: significant
    digits, ``None`` = up to 8 decimals as the reference)."""
    lines = [T.STATISTICS_HEADER]
    for ch, m, s, u in _channel_stats(window, channels):
        sep = f" {u}" if u else ""
        lines.append(f"{_desc(ch)}: Mean={_fmt_stat(m, digits)}{sep}, StdDev={_fmt_stat(s, digits)}{sep}")
    return "\n".join(lines)


def _fmt_2(v: float) -> str:
    s = f"{v:.2f}"
    return "0.00" if s == "-0.00" else s


def compact_statistics_text(window: np.ndarray, channels: Sequence[ChannelSpec | str]) -> str:
    """The statistics text in about a third of the tokens (not the paper): one line per channel,
    ``{name} {mean}, {std} {unit}``, two decimals, under a short header.

    The reference writes up to 8 decimals and repeats ``Mean=``/``StdDev=`` on every line; with LLM
    tokenizers that split numbers into single digits that is ~40 tokens a channel for the same information
    a linear read-out can use (``docs/performance.md``).
    """
    lines = [T.COMPACT_STATISTICS_HEADER]
    for ch, m, s, u in _channel_stats(window, channels):
        name = ch.name if isinstance(ch, ChannelSpec) else str(ch)
        lines.append(f"{name} {_fmt_2(m)}, {_fmt_2(s)}" + (f" {u}" if u else ""))
    return "\n".join(lines)


def correlation_matrix(window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pearson r ``(C, C)`` (NaN where a channel is constant) and the ``(C,)`` constant-channel mask."""
    w = np.asarray(window, dtype=np.float64)
    c = w - w.mean(axis=0)
    var = (c * c).mean(axis=0)
    scale = np.maximum(np.abs(w).max(axis=0), 1.0) if w.size else np.ones(w.shape[1])
    const = np.sqrt(var) <= 1e-12 * scale
    cov = (c.T @ c) / w.shape[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = cov / np.sqrt(np.outer(var, var))
    r = np.clip(r, -1.0, 1.0)
    r[const, :] = np.nan
    r[:, const] = np.nan
    return r, const


def correlation_strength(r: float) -> str:
    """Wording of a Pearson r: strongly/moderately/weakly positively/negatively correlated at |r| ≥ 0.7 /
    0.3 / 0.1, else not significantly correlated (also for NaN)."""
    if not np.isfinite(r) or abs(r) < 0.1:
        return "not significantly correlated"
    sign = "positively" if r > 0 else "negatively"
    a = abs(r)
    level = "strongly" if a >= 0.7 else "moderately" if a >= 0.3 else "weakly"
    return f"{level} {sign} correlated"


def correlation_text(window: np.ndarray, channels: Sequence[ChannelSpec | str]) -> str:
    """One line per channel pair (i < j in channel order)."""
    w = _check_window(window, channels)
    r, const = correlation_matrix(w)
    names = [_desc(ch) for ch in channels]
    lines = [T.CORRELATION_HEADER]
    n = len(names)
    for i in range(n):
        for j in range(i + 1, n):
            a, b = names[i], names[j]
            if const[i] or const[j]:
                if const[i] and const[j]:
                    which = "both are constant"
                else:
                    which = f"{a if const[i] else b} is constant"
                lines.append(f"{capitalize_first(a)} and {b} are not significantly correlated ({which}).")
            else:
                rv = float(r[i, j])
                rs = f"{rv:.2f}"
                rs = "0.00" if rs == "-0.00" else rs
                lines.append(f"{capitalize_first(a)} and {b} are {correlation_strength(rv)} (r={rs}).")
    return "\n".join(lines)


def trend_text(
    segments: Sequence[Segments],
    channels: Sequence[ChannelSpec | str],
    rng: np.random.Generator,
    numbers: NumberStyle = "mixed",
) -> str:
    """``{description}: <summary without the sensor sentence>`` per channel, each with its own synonym set."""
    lines = [T.TREND_HEADER]
    for ch, segs in zip(channels, segments, strict=True):
        syn = pick_option(rng, T.STAGE2_SYNONYMS)
        lines.append(f"{_desc(ch)}: {trend_summary(segs, syn, rng, sensor=None, numbers=numbers)}")
    return "\n".join(lines)


def stage2_question(n_channels: int, rng: np.random.Generator, numbers: NumberStyle = "mixed",
                    normalized: bool = True) -> str:
    """One phrasing of "which activity does this N-channel window represent". ``normalized``: the model sees
    z-normalised series (the paper's tokeniser), so the data may be called "normalized"; ``False`` (e.g.
    Chronos' mean scaling, which keeps the offset) draws from the nouns without that word (same draws)."""
    tmpl = pick_option(rng, T.STAGE2_QUESTIONS)
    data = pick_option(rng, T.STAGE2_DATA_NOUNS if normalized else T.STAGE2_PLAIN_DATA_NOUNS)
    n = render_number(n_channels, rng, numbers)
    return tmpl.format(data=data, n=n, channels="channel" if n_channels == 1 else "channels")


def assemble_text(pieces: dict, preprocess_type: str) -> str:
    """Join the pieces named in ``preprocess_type`` (``smry``, ``trend``, ``corr``, ``Q``) with newlines."""
    if preprocess_type not in PREPROCESS_TYPES:
        raise ValueError(_bad_type(preprocess_type))
    if preprocess_type == "none":
        return ""
    return "\n".join(pieces[_PIECE_KEY[p]] for p in preprocess_type.split("+"))


def stage2_pieces(
    window: np.ndarray,
    channels: Sequence[ChannelSpec | str],
    segments: Sequence[Segments],
    rng: np.random.Generator,
    numbers: NumberStyle = "mixed",
    stat_digits: int | None = None,
    normalized: bool = True,
) -> dict:
    """``Q``, ``smry``, ``trend_text`` and ``corr_text`` of one window with precomputed segments.
    Draw order from ``rng``: question, then the trend text. ``normalized``: see :func:`stage2_question`."""
    w = _check_window(window, channels)
    q = stage2_question(len(channels), rng, numbers, normalized)
    return {
        "Q": q,
        "smry": statistics_text(w, channels, stat_digits),
        "stats": compact_statistics_text(w, channels),
        "trend_text": trend_text(segments, channels, rng, numbers),
        "corr_text": correlation_text(w, channels),
    }


def stage2_text(
    window: np.ndarray,
    channels: Sequence[ChannelSpec | str],
    rate_hz: float,
    rng: np.random.Generator,
    preprocess_type: str = "smry+Q",
    mode: Mode = "exact",
    tol: float = DEFAULT_TOL,
    min_duration: float = DEFAULT_MIN_DURATION,
    numbers: NumberStyle = "mixed",
    stat_digits: int | None = None,
    normalized: bool = True,
) -> dict:
    """Stage-2 texts of one ``(L, C)`` window: dict with ``Q``, ``smry``, ``trend_text``, ``corr_text`` and
    ``text`` (assembled for ``preprocess_type``); all pieces are always computed, so they do not depend on
    ``preprocess_type``. ``normalized``: see :func:`stage2_question`."""
    if preprocess_type not in PREPROCESS_TYPES:
        raise ValueError(_bad_type(preprocess_type))
    w = _check_window(window, channels)
    names = [ch.name if isinstance(ch, ChannelSpec) else str(ch) for ch in channels]
    table = segment_windows(w[None], rate_hz, mode, tol, min_duration, channel_names=names)
    segs = [table.get(0, c) for c in range(w.shape[1])]
    out = stage2_pieces(w, channels, segs, rng, numbers, stat_digits, normalized)
    out["text"] = assemble_text(out, preprocess_type)
    return out


def window_pieces(
    windows: np.ndarray,
    channels: Sequence[ChannelSpec | str],
    rate_hz: float,
    rngs: Sequence[np.random.Generator],
    mode: Mode = "exact",
    tol: float = DEFAULT_TOL,
    min_duration: float = DEFAULT_MIN_DURATION,
    numbers: NumberStyle = "mixed",
    stat_digits: int | None = None,
    normalized: bool = True,
    first_window: int = 0,
) -> list[dict]:
    """:func:`stage2_pieces` of each of ``windows`` ``(N, L, C)`` (segmented together; ``rngs[k]`` draws window
    ``k``'s texts). A window's pieces do not depend on the other windows. ``first_window``: the number of
    ``windows[0]`` in error messages."""
    wins = np.asarray(windows, dtype=np.float64)
    names = [c.name if isinstance(c, ChannelSpec) else str(c) for c in channels]
    table = segment_windows(wins, rate_hz, mode, tol, min_duration, names, first_window=first_window)
    return [stage2_pieces(wins[k], channels, [table.get(k, c) for c in range(len(channels))], rngs[k], numbers,
                          stat_digits, normalized) for k in range(len(wins))]


def iter_stage2_records(
    data,
    split: str,
    seed: int = 0,
    preprocess_type: str = "smry+Q",
    mode: Mode = "exact",
    tol: float = DEFAULT_TOL,
    min_duration: float = DEFAULT_MIN_DURATION,
    numbers: NumberStyle = "mixed",
    limit: int | None = None,
    chunk: int = 1024,
    progress=None,
    indices: Sequence[int] | None = None,
    stat_digits: int | None = None,
    normalized: bool = True,
) -> Iterator[dict]:
    """Stage-2 records of one split of a prepared dataset, one per window:
    ``index, split, channels, subject, label, label_name, start, Q, smry, trend_text, corr_text, text,
    preprocess_type, trend_mode``. ``indices`` (sorted window indices) restricts the records to those
    windows; each record is identical to the one a full run produces."""
    if preprocess_type not in PREPROCESS_TYPES:
        raise ValueError(_bad_type(preprocess_type))
    ws = data.stage2(split)
    channels = data.channels
    classes = data.class_names
    names = [c.name for c in channels]
    if ws.windows.ndim != 3 or ws.windows.shape[2] != len(channels):
        raise DataError(f"{data.root}/stage2/{split}/windows.npy has shape {ws.windows.shape}, "
                        f"expected (N, L, {len(channels)}) for channels {names}")
    n = len(ws) if limit is None else min(len(ws), int(limit))
    order = np.arange(n) if indices is None else np.asarray(indices, dtype=np.int64)
    for a in range(0, len(order), chunk):
        b = min(a + chunk, len(order))
        sel = order[a:b]
        rngs = [record_rng(seed, 2, split, int(i)) for i in sel]
        pieces = window_pieces(ws.windows[sel], channels, data.rate_hz, rngs, mode, tol, min_duration, numbers,
                               stat_digits, normalized, first_window=int(sel[0]))
        where = f"{data.root}/stage2/{split}/labels.npy"
        for k, i, label, subject, start in chunk_windows(ws, sel, len(classes), where):
            yield {
                "index": i,
                "split": split,
                "channels": names,
                "subject": subject,
                "label": label,
                "label_name": classes[label],
                "start": start,
                **pieces[k],
                "text": assemble_text(pieces[k], preprocess_type),
                "preprocess_type": preprocess_type,
                "trend_mode": mode,
            }
        if progress is not None:
            progress(b - a)
