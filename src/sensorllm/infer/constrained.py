"""Constrained decoding of Stage-1 descriptions: a ``transformers`` logits processor that keeps the segment lines
of every generated description inside the answer grammar of its own window
(:class:`sensorllm.text.grammar.SegmentGrammar`: lines that tile ``[0, (L-1)/rate]`` on the sampling grid, in
the answers' time format, with the answers' trend words; by default also the count lines that follow and a
summary paragraph that cannot be read back as another segment line).

How it works: for each row of a batch the processor keeps the grammar state of the text generated so far (the
per-token strings of the generated ids, fed character by character). At each step it walks the tokenizer's
vocabulary, sorted as strings, against that state — a depth-first walk over shared prefixes, following only
the characters the grammar allows next, with a binary search for each prefix's range of tokens — and sets the
logit of every token that would leave the text outside the grammar to ``-inf``. In the summary paragraph every
token without a newline is allowed (one precomputed mask); with ``counts=False`` the row decodes freely after
the block. Special tokens other than EOS
are never allowed inside the block; EOS is allowed where the grammar may end. The model still chooses the line
format, every boundary, every trend and the wording; only invalid continuations are removed.

Why a hand-written processor rather than a grammar library (``transformers-cfg``, ``outlines``,
``lm-format-enforcer``, all installable): the grammar differs per row of a batch (window length and rate set
the time grid), it carries state across lines (each line starts where the previous one ended, one synonym set,
count lines that agree with the lines), and it covers only the answer's first block, with free text after it.
As a regular expression or CFG that means a grammar per row enumerating every (start, end) pair — thousands of
alternatives — recompiled per window, while these libraries apply one grammar to a whole batch (or need a
per-row callback over their own compiled automata). ``outlines`` also pulls in a compiled core, pydantic,
jinja2 and more; ``transformers-cfg`` pins sentencepiece and protobuf. The automaton here is ~200 lines of
Python with no dependency, and its cost per step is a walk over the few vocabulary prefixes the grammar allows.
"""

from __future__ import annotations

import weakref
from bisect import bisect_left
from typing import Sequence

import numpy as np
import torch
from transformers import LogitsProcessor

from sensorllm.text.grammar import AnyBut, SegmentGrammar, segment_grammar

__all__ = ["Stage1GrammarProcessor", "TokenStrings", "token_strings"]


class TokenStrings:
    """The decoded string of every token of a tokenizer, sorted, for prefix-range lookups.

    Special tokens (and tokens that decode to nothing) are left out: they are never part of the constrained
    text.
    """

    def __init__(self, tokenizer):
        n = len(tokenizer)
        special = set(getattr(tokenizer, "all_special_ids", []) or [])
        strs = tokenizer.batch_decode([[i] for i in range(n)], skip_special_tokens=False,
                                      clean_up_tokenization_spaces=False)
        self.by_id: list[str] = strs
        keep = [i for i in range(n) if i not in special and strs[i]]
        keep.sort(key=lambda i: strs[i])
        self.ids = np.asarray(keep, dtype=np.int64)
        self.strings = [strs[i] for i in keep]
        self.no_newline = np.asarray(["\n" not in x for x in self.strings], dtype=bool)

    def prefix_range(self, prefix: str, lo: int = 0, hi: int | None = None) -> tuple[int, int]:
        """``[a, b)``: the positions in :attr:`strings` (within ``[lo, hi)``) of the tokens starting with
        ``prefix`` (non-empty)."""
        hi = len(self.strings) if hi is None else hi
        a = bisect_left(self.strings, prefix, lo, hi)
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        b = bisect_left(self.strings, upper, a, hi)
        return a, b

    def children(self, depth: int, lo: int, hi: int):
        """``(character, a, b)`` for each distinct character at position ``depth`` of the strings in
        ``[lo, hi)`` (which share their first ``depth`` characters and are all longer)."""
        strs = self.strings
        while lo < hi:
            p = strs[lo][: depth + 1]
            a, b = self.prefix_range(p, lo, hi)
            yield p[-1], a, b
            lo = b

    def allowed(self, grammar: SegmentGrammar, state: tuple) -> np.ndarray:
        """Ids of the tokens whose text keeps ``state`` inside the grammar (every one when it is free)."""
        if grammar.is_free(state):
            return self.ids
        if grammar.is_paragraph(state):
            return self.ids[self.no_newline]
        out: list = []
        stack = [(state, "", 0, len(self.strings))]
        strs = self.strings
        while stack:
            st, prefix, lo, hi = stack.pop()
            chars = grammar.allowed(st)
            if isinstance(chars, AnyBut):
                steps = ((ch, a, b) for ch, a, b in self.children(len(prefix), lo, hi) if ch not in chars)
            else:
                steps = ((ch, *self.prefix_range(prefix + ch, lo, hi)) for ch in chars or ())
            for ch, a, b in steps:
                p = prefix + ch
                if a == b:
                    continue
                nxt = grammar.step(st, ch)
                if nxt is None:
                    continue
                if grammar.is_free(nxt):
                    out.append(self.ids[a:b])
                    continue
                if grammar.is_paragraph(nxt):
                    out.append(self.ids[a:b][self.no_newline[a:b]])
                    continue
                j = a
                while j < b and strs[j] == p:
                    j += 1
                if j > a:
                    out.append(self.ids[a:j])
                if j < b:
                    stack.append((nxt, p, j, b))
        return np.concatenate(out) if out else np.zeros(0, np.int64)


_TABLES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def token_strings(tokenizer) -> TokenStrings:
    """The :class:`TokenStrings` of ``tokenizer`` (built once per tokenizer object, ~1 s for a 49k vocabulary)."""
    table = _TABLES.get(tokenizer)
    if table is None:
        table = _TABLES[tokenizer] = TokenStrings(tokenizer)
    return table


class Stage1GrammarProcessor(LogitsProcessor):
    """Masks the logits of every token that would take a row's description outside the Stage-1 answer grammar
    of its window (module docstring).

    Args:
        tokenizer: the model's tokenizer.
        lengths: samples of each row's window (rows in batch order).
        rates_hz: sampling rate of each row (one number for all rows).
        eos_token_ids: tokens that end a description (allowed where the grammar may end).
        counts: also hold what follows the segment block to the answers' shape (count lines that agree with it,
            a blank line, a one-paragraph summary); ``False``: free text after the block.

    One processor serves one ``generate`` call: it reads the generated ids from the length of ``input_ids`` at
    its first call on (for a generation from ``inputs_embeds`` that is 0). A row whose text leaves the grammar
    anyway (another processor or sampling setting forced a token) decodes freely from there on.
    """

    def __init__(self, tokenizer, lengths: Sequence[int], rates_hz: float | Sequence[float],
                 eos_token_ids: int | Sequence[int] | None = None, counts: bool = True):
        rates = [float(rates_hz)] * len(lengths) if np.ndim(rates_hz) == 0 else [float(r) for r in rates_hz]
        if len(rates) != len(lengths):
            raise ValueError(f"{len(lengths)} window lengths but {len(rates)} rates")
        self.table = token_strings(tokenizer)
        self.grammars = [segment_grammar(int(n), r, counts) for n, r in zip(lengths, rates)]
        self.states: list[tuple | None] = [g.start() for g in self.grammars]
        if eos_token_ids is None:
            eos_token_ids = tokenizer.eos_token_id
        eos = [eos_token_ids] if isinstance(eos_token_ids, int) else list(eos_token_ids or [])
        self.eos = torch.tensor(eos, dtype=torch.long)
        self.eos_set = set(eos)
        self.offset: int | None = None
        self.seen = [0] * len(lengths)

    def _update(self, row: int, ids: list[int]) -> None:
        st = self.states[row]
        for t in ids:
            if st is None or self.grammars[row].is_free(st):
                break
            if t in self.eos_set or t >= len(self.table.by_id):
                st = None  # the row ended
                break
            st = self.grammars[row].feed(st, self.table.by_id[t])
        self.states[row] = st

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if input_ids.shape[0] != len(self.grammars):
            raise ValueError(f"the processor was built for {len(self.grammars)} rows, generation has "
                             f"{input_ids.shape[0]} (beam search and several sequences per prompt are not supported)")
        if self.offset is None:
            self.offset = int(input_ids.shape[1])
        new = input_ids[:, self.offset:].tolist()
        for row, g in enumerate(self.grammars):
            self._update(row, new[row][self.seen[row]:])
            self.seen[row] = len(new[row])
            st = self.states[row]
            if st is None or g.is_free(st):
                continue
            ids = self.table.allowed(g, st)
            keep = torch.as_tensor(ids, dtype=torch.long, device=scores.device)
            if g.accepts_end(st) and len(self.eos):
                keep = torch.cat([keep, self.eos.to(scores.device)])
            if keep.numel() == 0:  # nothing in the vocabulary continues the grammar: leave the row free
                self.states[row] = None
                continue
            masked = torch.full_like(scores[row], float("-inf"))
            masked[keep] = scores[row, keep]
            scores[row] = masked
        return scores
