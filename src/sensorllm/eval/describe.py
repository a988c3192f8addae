"""A Stage-1 model's trend descriptions of windows, and their scores against the data-derived answers:
text similarity (BLEU, ROUGE, METEOR, SBERT) and the trend structure parsed back from the generated text.

Structure scores per description (:func:`structure_scores`), each against the reference segments of its window
in the scoring trend mode:

* ``segment_count_abs_error``: |segment lines in the text − reference segments| (no segment line: the
  reference count);
* ``step_accuracy``: fraction of the window's sample pairs whose trend the text states correctly (pairs no
  segment line covers count as wrong);
* ``segments_exact``: same boundaries and trends as the reference;
* ``boundary_abs_error_s``: timing error of the segment boundaries in seconds
  (:func:`sensorllm.text.parse.boundary_error`; ``None`` without segment lines, left out of the mean);
* ``overall_ok``: the direction the text gives for the whole window equals the reference's (sign of last −
  first sample; steady within the tolerance in tolerant mode). The text's direction is its "overall" sentence,
  or, for a text of exactly one segment line and no such sentence, that segment's trend (the reference states
  no overall sentence for a one-segment window either); anything else counts as wrong;
* invented content (:func:`invented_content`): ``time_outside`` (the text names a time later than the window's
  end), ``trend_not_in_data`` (it gives a segment, count or duration to a trend type that the reference
  segmentation of the window does not contain) and ``invented`` (either).
"""

from __future__ import annotations

import re
import sys
import time

import numpy as np
import torch

from sensorllm.data import Stage1Item, collate
from sensorllm.text import parse_trend_answer, score_answer, segment_trends
from sensorllm.text.parse import ParsedAnswer
from sensorllm.text.segments import Segments
from sensorllm.text.stage1 import iter_stage1_records

from .textscore import text_scores

__all__ = ["TIME_TOLERANCE_S", "describe_items", "invented_content", "score_descriptions", "stage1_eval_items",
           "structure_scores"]

TIME_TOLERANCE_S = 0.005
"""A named time counts as outside the window when it exceeds the window's end by more than this (half the
0.01 s resolution at which the texts print times)."""

_TIME_WITH_UNIT = re.compile(r"(\d+(?:\.\d+)?)\s*(?:s|secs?|seconds?)\b", re.IGNORECASE)
_STRUCTURE_KEYS = ("segment_count_abs_error", "step_accuracy", "segments_exact", "overall_ok", "time_outside",
                   "trend_not_in_data", "invented")


@torch.inference_mode()
def describe_items(model, items: list[Stage1Item], batch_size: int = 4, max_new_tokens: int = 256,
                   constrained: bool = False) -> list[str]:
    """Greedy trend descriptions for Stage-1 items (seeded decoding is deterministic).

    ``constrained``: decode the segment lines (and the count lines after them) inside the answer grammar of each
    item's window (:mod:`sensorllm.eval.constrained`); the summary after them is free.
    """
    base = getattr(model, "module", model)
    device = next(base.projector.parameters()).device
    out: list[str] = []
    t0 = time.time()
    how = "greedy, constrained to the answer grammar" if constrained else "greedy"
    print(f"describing {len(items)} window(s): {how}, up to {max_new_tokens} new tokens each", file=sys.stderr,
          flush=True)
    for a in range(0, len(items), batch_size):
        part = items[a : a + batch_size]
        exs = [base.prompts.stage1_window(it.channel, it.series, it.rate_hz, it.question, None) for it in part]
        batch = collate(base.prompts, exs, padding_side="left").to(device)
        kw = {}
        if constrained:
            from transformers import LogitsProcessorList

            from .constrained import Stage1GrammarProcessor

            proc = Stage1GrammarProcessor(base.tokenizer, [len(it.series) for it in part],
                                          [it.rate_hz for it in part], base.hf_model.generation_config.eos_token_id)
            kw["logits_processor"] = LogitsProcessorList([proc])
        out += base.generate(batch, max_new_tokens=max_new_tokens, **kw)
        print(f"described {len(out)}/{len(items)} windows ({time.time() - t0:.0f}s)", file=sys.stderr, flush=True)
    return out


def stage1_eval_items(data, split: str = "test", n: int = 200, seed: int = 0,
                      trend_mode: str = "exact") -> list[Stage1Item]:
    """``n`` Stage-1 items of ``split`` from ``n`` distinct seeded windows, one seeded channel each (all windows
    when the split has fewer). Windows and channels depend on ``seed`` only, and each item's question and answer
    (+ blank line + summary) are the record ``sensorllm qa --seed SEED`` writes for that window and channel."""
    ws = data.stage1(split)
    names = data.channel_names
    rng = np.random.default_rng([seed, 2003])
    k = min(n, len(ws))
    windows = np.sort(rng.choice(len(ws), size=k, replace=False))
    channel = dict(zip(windows.tolist(), rng.integers(len(names), size=k).tolist()))
    items = []
    for r in iter_stage1_records(data, split, seed=seed, mode=trend_mode, indices=windows):  # type: ignore[arg-type]
        c = names.index(r["channel"])
        if channel[r["index"]] != c:
            continue
        items.append(Stage1Item(
            index=r["index"], channel=r["channel"], series=np.asarray(ws[r["index"]][:, c], dtype=np.float64),
            question=r["question"], answer=r["answer"] + "\n\n" + r["summary"], rate_hz=data.rate_hz,
        ))
    return items


def invented_content(text: str | ParsedAnswer, ref: Segments, raw: str | None = None) -> dict:
    """Whether a description names a time outside its window or a trend type its window does not contain.

    Times named: the start and end of every segment line, every per-trend duration of the summary, and every
    number followed by a seconds unit (``s``, ``sec``, ``secs``, ``second(s)``) anywhere in the text. One of
    them later than the window's end, ``(L - 1) / rate``, by more than :data:`TIME_TOLERANCE_S` is
    ``time_outside``. Trend types named: those of the segment lines, of count lines with a count above 0 and of
    summary durations above 0; one that no reference segment has is ``trend_not_in_data`` (the overall
    direction is not counted: it may be steady in a window without a steady segment). ``raw`` is the text when
    ``text`` is already parsed.
    """
    p = parse_trend_answer(text) if isinstance(text, str) else text
    raw = text if isinstance(text, str) else (raw or "")
    end = ref.span + TIME_TOLERANCE_S
    times = [t for s in p.segments for t in s[:2]] + list(p.durations.values())
    times += [float(m.group(1)) for m in _TIME_WITH_UNIT.finditer(raw)]
    present = {int(t) for t in np.unique(ref.trend)}
    named = {s[2] for s in p.segments} | {c for c, n in p.counts.items() if n > 0} \
        | {c for c, d in p.durations.items() if d > 0}
    outside = any(t > end for t in times)
    absent = bool(named - present)
    return {"time_outside": outside, "trend_not_in_data": absent, "invented": outside or absent}


def structure_scores(text: str, ref: Segments) -> dict:
    """The structure scores of one description against its window's reference segments (module docstring)."""
    p = parse_trend_answer(text)
    s = score_answer(p, ref)
    said = p.overall
    if said is None and len(p.segments) == 1:
        said = p.segments[0][2]
    return {
        "parsed_segments": s["parsed_segments"],
        "ref_segments": s["ref_segments"],
        "segment_count_abs_error": abs(s["parsed_segments"] - s["ref_segments"]),
        "step_accuracy": s["step_accuracy"],
        "segments_exact": bool(s["segments_exact"]),
        "boundary_abs_error_s": s["boundary_abs_error_s"],
        "overall_ok": said is not None and said == ref.overall(),
        **invented_content(p, ref, raw=text),
    }


def score_descriptions(items: list[Stage1Item], generated: list[str], trend_mode: str = "exact",
                       per_item: bool = False, sbert: bool = True) -> dict:
    """Text similarity to the reference answers plus the mean structure scores of the generations.

    Besides the means of :func:`structure_scores` (booleans as fractions), ``boundary_abs_error_s`` is the mean
    over the descriptions with at least one segment line and ``parsed_fraction`` the share of those. With
    ``per_item`` the result also holds ``items``: per description its window, channel, length and scores.
    """
    scores = text_scores(generated, [it.answer for it in items], sbert=sbert)
    rows = []
    for it, g in zip(items, generated):
        ref = segment_trends(it.series, it.rate_hz, mode=trend_mode)  # type: ignore[arg-type]
        rows.append(structure_scores(g, ref))
    for k in _STRUCTURE_KEYS:
        scores[k] = float(np.mean([float(r[k]) for r in rows])) if rows else None
    timed = [r["boundary_abs_error_s"] for r in rows if r["boundary_abs_error_s"] is not None]
    scores["boundary_abs_error_s"] = float(np.mean(timed)) if timed else None
    scores["parsed_fraction"] = len(timed) / len(rows) if rows else None
    if per_item:
        scores["items"] = [{"index": it.index, "channel": it.channel, "length": len(it.series), **r}
                           for it, r in zip(items, rows)]
    return scores
