"""The grammar of a Stage-1 answer's segment block, as a character automaton for constrained decoding.

A Stage-1 answer (:func:`sensorllm.text.stage1.trend_answer`) starts with one line per trend segment in one of
:data:`~sensorllm.text.templates.SEGMENT_LINE_FORMATS` (``0.0s to 0.08s: increasing``), the same format on
every line, then — when more than one trend type occurs — one count line per type, then a blank line and the
summary. :class:`SegmentGrammar` accepts exactly the texts that begin with a well-formed segment block for a
window of ``length`` samples at ``rate_hz``:

* the first line starts at ``0.0``; every later line starts at the previous line's end time;
* end times are on the window's sampling grid, formatted as the answers format them
  (:func:`~sensorllm.text.segments.format_time`: ``str(round(i / rate, 2))``), later than the line's start and
  never past the last sample's time ``(L - 1) / rate`` (a 1-sample window has the one line
  ``0.0 … 0.0: <steady word>``);
* the trend word is one of the Stage-1 synonym words (:data:`~sensorllm.text.templates.STAGE1_SYNONYMS`), all
  from one synonym set (one word per trend, as the answers write them), and differs in trend from the previous
  line's (neighbouring segments never share a trend: runs are merged);
* every line but the last ends with a newline; the block ends with the line whose end time is the last
  sample's.

With ``counts=True`` (the default) the rest of the answer has the answers' shape too: the count lines of the
block's own segments (descending count, ties in the order decrease, increase, steady, one of
:data:`~sensorllm.text.templates.COUNT_LINE_FORMATS` for all; only their wording is free) when it has more than
one trend type, then the blank line, then the summary as the answers write it: one paragraph (no newline) that
opens with a capital letter and not like a segment line (``From <number>``, ``Between <number>``), so that
free text after the block is never read back as another segment line. The paragraph's words are free. With
``counts=False`` any text is accepted right after the block. The model still chooses the line format, the
boundaries, the trends and the wording.

States are hashable tuples; :meth:`SegmentGrammar.allowed` (the characters that may come next: a set, an
:class:`AnyBut` set of excluded characters, or ``None`` where any text may) and :meth:`SegmentGrammar.step` are
memoised per grammar, so walking a tokenizer's vocabulary against a state (:mod:`sensorllm.infer.constrained`)
stays cheap.
"""

from __future__ import annotations

from functools import lru_cache

from . import templates as T
from .numbers import capitalize_first
from .segments import TREND_ORDER, format_time

__all__ = ["AnyBut", "SegmentGrammar", "segment_grammar"]

# state kinds
LINE, COUNTS, OPENING, PARAGRAPH, FREE = "line", "counts", "opening", "paragraph", "free"
_UPPER = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_SPACES = frozenset(chr(i) for i in range(0x3001) if chr(i).isspace())
_DIGITS = frozenset(chr(i) for i in range(0x20000) if chr(i).isnumeric())  # the parser's \d, and ½, ² ...
_SEGMENT_OPENERS = ("from", "between")  # what the parser allows before a segment line's first time


class AnyBut(frozenset):
    """An allowed-character set given by what it excludes: any character but these."""


def _split_format(fmt: str) -> tuple[str, str, str]:
    """``"From {s}s to {e}s: {w}"`` → ``("From ", "s to ", "s: ")`` (text before {s}, between {s} and {e},
    between {e} and {w}); every segment-line format ends with ``{w}``."""
    a, rest = fmt.split("{s}")
    b, rest = rest.split("{e}")
    c, tail = rest.split("{w}")
    if tail:
        raise ValueError(f"segment line format {fmt!r} must end with {{w}}")
    return a, b, c


_FORMATS = tuple(_split_format(f) for f in T.SEGMENT_LINE_FORMATS)
_SYNONYMS = T.STAGE1_SYNONYMS
_TIME_CHARS = frozenset("0123456789.")


class SegmentGrammar:
    """The segment-block grammar of one window (module docstring): ``length`` samples at ``rate_hz``.

    A state is one of ``("line", start_idx, prev_code, synonym_sets, formats, counts, buf)`` (inside a segment
    line: ``buf`` is the line typed so far), ``("counts", candidates, buf)`` (the fixed text after the block),
    ``("opening", buf)`` (the first characters of the summary), ``("paragraph",)`` (the rest of it) and
    ``("free",)``.
    """

    def __init__(self, length: int, rate_hz: float, counts: bool = True):
        if int(length) < 1:
            raise ValueError(f"length must be >= 1, got {length}")
        if not rate_hz > 0:
            raise ValueError(f"rate_hz must be positive, got {rate_hz}")
        self.length = int(length)
        self.rate_hz = float(rate_hz)
        self.counts = bool(counts)
        self.times = [format_time(i, self.rate_hz) for i in range(self.length)]
        self.index_of: dict[str, int] = {}
        for i, t in enumerate(self.times):  # a string printed for several samples (rates > 100 Hz): the last
            self.index_of[t] = i
        self.last = self.length - 1
        self._allowed: dict[tuple, frozenset[str] | None] = {}
        self._step: dict[tuple[tuple, str], tuple | None] = {}
        self._ends: dict[int, dict[str, int]] = {}

    # ---- states --------------------------------------------------------------------------------------
    def start(self) -> tuple:
        """The state before the first character of the answer."""
        return (LINE, 0, None, tuple(range(len(_SYNONYMS))), tuple(range(len(_FORMATS))), (0, 0, 0), "")

    @staticmethod
    def is_free(state: tuple) -> bool:
        """True once any text is accepted (the constrained part is over)."""
        return state[0] == FREE

    @staticmethod
    def is_paragraph(state: tuple) -> bool:
        """True inside the summary paragraph past its opening: any character but a newline keeps the state."""
        return state[0] == PARAGRAPH

    def accepts_end(self, state: tuple) -> bool:
        """Whether the text may end here: after the block (the count lines not begun), in the summary or in the
        free part."""
        return state[0] in (FREE, OPENING, PARAGRAPH) or (state[0] == COUNTS and state[2] == "")

    def ends(self, start_idx: int) -> dict[str, int]:
        """End-time strings a line starting at sample ``start_idx`` may name → their sample index."""
        got = self._ends.get(start_idx)
        if got is None:
            got = {self.times[0]: 0} if self.length == 1 else {t: i for t, i in self.index_of.items() if i > start_idx}
            self._ends[start_idx] = got
        return got

    def words(self, syn: tuple[int, ...], prev: int | None) -> dict[str, int]:
        """Trend words allowed on a line (→ trend code), given the synonym sets still possible and the previous
        line's trend."""
        codes = (0,) if self.length == 1 else tuple(c for c in (-1, 0, 1) if c != prev)
        return {_SYNONYMS[k].word(c): c for k in syn for c in codes}

    # ---- the automaton -------------------------------------------------------------------------------
    def allowed(self, state: tuple) -> frozenset[str] | None:
        """Characters that may follow ``state``: a set, an :class:`AnyBut` (any character but those) or ``None``
        (any)."""
        got = self._allowed.get(state, False)
        if got is False:
            got = self._allowed[state] = self._compute_allowed(state)
        return got

    def step(self, state: tuple, ch: str) -> tuple | None:
        """The state after character ``ch`` (``None`` when ``ch`` may not come next)."""
        if state[0] == FREE:
            return state
        if state[0] == PARAGRAPH:
            return None if ch == "\n" else state
        key = (state, ch)
        if key in self._step:
            return self._step[key]
        allowed = self.allowed(state)
        ok = allowed is None or ((ch not in allowed) if isinstance(allowed, AnyBut) else (ch in allowed))
        nxt = self._advance(state, ch) if ok else None
        self._step[key] = nxt
        return nxt

    def feed(self, state: tuple | None, text: str) -> tuple | None:
        """The state after ``text`` (``None`` as soon as a character is refused)."""
        for ch in text:
            if state is None or state[0] == FREE:
                return state
            state = self.step(state, ch)
        return state

    def _line_parts(self, state: tuple):
        """For a line state: the possible ``(format, time text, time string, rest)`` splits of its buffer, as
        ``(format index, phase, detail)``; see :meth:`_compute_allowed`."""
        _, s, prev, syn, fmts, _, buf = state
        start = self.times[s]
        for f in fmts:
            a, b, c = _FORMATS[f]
            head = a + start + b
            if len(buf) < len(head):
                if head.startswith(buf):
                    yield f, "head", head[len(buf)]
                continue
            if not buf.startswith(head):
                continue
            rest = buf[len(head):]
            k = 0
            while k < len(rest) and rest[k] in _TIME_CHARS:
                k += 1
            t, rest = rest[:k], rest[k:]
            yield f, "time", (t, rest, c, s, prev, syn)

    def _compute_allowed(self, state: tuple) -> frozenset[str] | None:
        kind = state[0]
        if kind == FREE:
            return None
        if kind == COUNTS:
            _, cands, buf = state
            return frozenset(x[len(buf)] for x in cands if len(x) > len(buf) and x.startswith(buf))
        if kind == PARAGRAPH:
            return AnyBut({"\n"})
        if kind == OPENING:
            buf = state[1]
            if not buf:
                return _UPPER
            return AnyBut(_DIGITS | {"\n"} if self._opener_then_space(buf) else {"\n"})
        out: set[str] = set()
        for _, phase, d in self._line_parts(state):
            if phase == "head":
                out.add(d)
                continue
            t, rest, c, s, prev, syn = d
            ends = self.ends(s)
            if not rest:  # typing the end time
                out.update(e[len(t)] for e in ends if len(e) > len(t) and e.startswith(t))
                if t in ends:
                    out.add(c[0])
                continue
            if t not in ends:
                continue
            if len(rest) < len(c):
                if c.startswith(rest):
                    out.add(c[len(rest)])
                continue
            if not rest.startswith(c):
                continue
            w = rest[len(c):]
            for word in self.words(syn, prev):
                if len(word) > len(w) and word.startswith(w):
                    out.add(word[len(w)])
                elif word == w:  # word complete: a newline ends the line (the last line ends at the word)
                    out.add("\n")
        return frozenset(out)

    def _advance(self, state: tuple, ch: str) -> tuple:
        if state[0] == COUNTS:
            _, cands, buf = state
            buf += ch
            live = tuple(x for x in cands if x.startswith(buf))
            return (OPENING, "") if buf in live else (COUNTS, live, buf)
        if state[0] == PARAGRAPH:
            return state
        if state[0] == OPENING:
            buf = state[1] + ch
            watch = self._opener_then_space(buf) or any(w.startswith(buf.lower()) for w in _SEGMENT_OPENERS)
            return (OPENING, buf) if watch else (PARAGRAPH,)
        kind, s, prev, syn, fmts, counts, buf = state
        buf += ch
        fmts = tuple(f for f, _, _ in self._line_parts((kind, s, prev, syn, fmts, counts, buf)))
        done = self._line_done(s, prev, syn, fmts, buf)
        if done is None or (done[0] < self.last and not buf.endswith("\n")):
            return (kind, s, prev, syn, fmts, counts, buf)  # inside the line (or its word is waiting for "\n")
        e, code, word, f = done
        syn = tuple(k for k in syn if _SYNONYMS[k].word(code) == word)
        counts = tuple(n + (c == code) for n, c in zip(counts, (-1, 0, 1)))
        if e < self.last:
            return (LINE, e, code, syn, (f,), counts, "")
        if not self.counts:
            return (FREE,)
        return (COUNTS, self._count_texts(syn, counts), "")

    @staticmethod
    def _opener_then_space(buf: str) -> bool:
        """``From `` / ``Between `` (any case, one or more spaces): a number here would open a segment line."""
        head = buf.lower()
        return any(head.startswith(w) and len(head) > len(w) and all(c in _SPACES for c in head[len(w):])
                   for w in _SEGMENT_OPENERS)

    def _line_done(self, s, prev, syn, fmts, buf):
        """``(end index, code, word, format)`` when ``buf`` holds a complete word of a line, else ``None``."""
        for f in fmts:
            a, b, c = _FORMATS[f]
            head = a + self.times[s] + b
            body = buf[len(head):].rstrip("\n")
            t, sep, w = body.partition(c)
            if not sep or not buf.startswith(head):
                continue
            ends = self.ends(s)
            words = self.words(syn, prev)
            if t in ends and w in words:
                return ends[t], words[w], w, f
        return None

    def _count_texts(self, syn: tuple[int, ...], counts: tuple[int, int, int]) -> tuple[str, ...]:
        """What may follow the last segment line: its count lines (when the block has more than one trend type)
        in each count-line format, then the blank line before the summary."""
        n = dict(zip((-1, 0, 1), counts))
        present = [c for c in TREND_ORDER if n[c] > 0]
        if len(present) < 2:
            return ("\n\n",)
        order = sorted(present, key=lambda c: (-n[c], TREND_ORDER.index(c)))
        word = _SYNONYMS[syn[0]].word
        out = []
        for fmt in T.COUNT_LINE_FORMATS:
            lines = [fmt.format(w=word(c), W=capitalize_first(word(c)), n=n[c]) for c in order]
            out.append("\n" + "\n".join(lines) + "\n\n")
        return tuple(out)


@lru_cache(maxsize=256)
def segment_grammar(length: int, rate_hz: float, counts: bool = True) -> SegmentGrammar:
    """A shared :class:`SegmentGrammar` per ``(length, rate_hz, counts)`` (its memo tables are reused)."""
    return SegmentGrammar(length, rate_hz, counts)
