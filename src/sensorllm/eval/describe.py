"""A Stage-1 model's trend descriptions of windows, and their scores against the data-derived answers:
text similarity (BLEU, ROUGE, METEOR, SBERT) and the trend structure parsed back from the generated text."""

from __future__ import annotations

import sys
import time

import numpy as np
import torch

from sensorllm.text import parse_trend_answer, score_answer, segment_trends
from sensorllm.text.items import Stage1Item

from .textscore import text_scores

__all__ = ["describe_items", "score_descriptions"]


@torch.inference_mode()
def describe_items(model, items: list[Stage1Item], batch_size: int = 4, max_new_tokens: int = 256) -> list[str]:
    """Greedy trend descriptions for Stage-1 items (seeded decoding is deterministic)."""
    base = getattr(model, "module", model)
    device = next(base.projector.parameters()).device
    out: list[str] = []
    t0 = time.time()
    print(f"describing {len(items)} window(s): greedy, up to {max_new_tokens} new tokens each", file=sys.stderr,
          flush=True)
    for a in range(0, len(items), batch_size):
        exs = [base.prompts.stage1_window(it.channel, it.series, it.rate_hz, it.question, None)
               for it in items[a : a + batch_size]]
        batch = base.prompts.collate(exs, padding_side="left").to(device)
        out += base.generate(batch, max_new_tokens=max_new_tokens)
        print(f"described {len(out)}/{len(items)} windows ({time.time() - t0:.0f}s)", file=sys.stderr, flush=True)
    return out


def score_descriptions(items: list[Stage1Item], generated: list[str], trend_mode: str = "exact") -> dict:
    """Text similarity to the reference answers plus trend-structure scores from parsing the generations."""
    scores = text_scores(generated, [it.answer for it in items])
    structure = []
    for it, g in zip(items, generated):
        ref = segment_trends(it.series, it.rate_hz, mode=trend_mode)  # type: ignore[arg-type]
        s = score_answer(parse_trend_answer(g), ref)
        structure.append({
            "segment_count_abs_error": abs(s["parsed_segments"] - s["ref_segments"]),
            "step_accuracy": s["step_accuracy"],
            "segments_exact": float(s["segments_exact"]),
            "overall_ok": float(bool(s["overall_ok"])),  # a missing overall statement counts as wrong
        })
    for k in ("segment_count_abs_error", "step_accuracy", "segments_exact", "overall_ok"):
        scores[k] = float(np.mean([r[k] for r in structure])) if structure else None
    return scores
