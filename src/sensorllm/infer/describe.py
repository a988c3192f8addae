"""Stage-1 inference: a model's greedy trend descriptions of windows (:func:`describe_items`), optionally
decoded inside each window's answer grammar (:mod:`.constrained`). Their scores are
:func:`sensorllm.eval.describe.score_descriptions`."""

from __future__ import annotations

import sys
import time

import torch

from sensorllm.data import Stage1Item, collate

__all__ = ["describe_items"]


@torch.inference_mode()
def describe_items(model, items: list[Stage1Item], batch_size: int = 4, max_new_tokens: int = 256,
                   constrained: bool = False) -> list[str]:
    """Greedy trend descriptions for Stage-1 items (seeded decoding is deterministic).

    ``constrained``: decode the segment lines (and the count lines after them) inside the answer grammar of each
    item's window (:mod:`sensorllm.infer.constrained`); the summary after them is free.
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
