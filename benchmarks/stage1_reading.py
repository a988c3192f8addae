"""Does a Stage-1 model read its sensor tokens? The answer loss with each window's own series against the same
window's series reversed in time.

A describing model that reads the window should find the true answer (its segment lines, counts and summary)
much likelier after the window's own sensor tokens than after the same samples in reverse order, whose trends
run the other way (increasing becomes decreasing, the segments come in reverse order). The prompt (channel,
span, question) and the answer are the same in both; only the sensor tokens differ. A model that ignores its
sensor tokens scores both the same.

    python benchmarks/stage1_reading.py --model runs/s1probe/describe-span/model --data runs/uci-har/data
    python benchmarks/stage1_reading.py --model runs/s1probe/oracle-tokens-seed0/model   # the oracle encoder

Prints the mean answer loss (nats per answer token) of both, their difference and on how many windows the
window's own series gave the lower loss, over every answer token and over the trend words of the segment lines
only (the word after the colon of each line, ``0.0s to 0.08s: increasing``): most answer tokens are format and
wording that do not depend on the window, so the trend-word loss shows reading long before the whole answer's
does. ``--out FILE`` writes them as JSON. ``--model`` may also be a checkpoint's ``model`` directory
(``<run>/checkpoints/step-N/model``), to follow reading through a run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from _common import ROOT


MARK = 2.0  # the weight the trend words get in the examples built here; only the mask it leaves is used


def trend_word_labels(ex) -> list[int]:
    """``ex.labels`` with every answer token outside the segment lines' trend words set to -100, for an example
    built with ``weighted_spans=answer_weight_spans(answer, trend_word_weight=MARK)`` (the tokens
    ``trend_word_weight`` weighs)."""
    weights = ex.label_weights or [0.0] * len(ex.labels)
    return [y if w == MARK else -100 for y, w in zip(ex.labels, weights, strict=True)]


def answer_loss(model, items, reverse: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per-item mean loss (nats per token) over the whole answer and over its trend words, with each series
    as it is or reversed in time (NaN for the trend words of an answer that has none)."""
    from sensorllm.data import collate
    from sensorllm.text import answer_weight_spans

    whole, words = [], []
    with torch.inference_mode():
        for it in items:
            series = np.asarray(it.series)[::-1].copy() if reverse else it.series
            ex = model.prompts.stage1_window(it.channel, series, it.rate_hz, it.question, it.answer,
                                             weighted_spans=answer_weight_spans(it.answer, trend_word_weight=MARK))
            plain = dataclasses.replace(ex, label_weights=None)
            whole.append(float(model.forward_stage1(collate(model.prompts, [plain])).loss))
            labels = trend_word_labels(ex)
            if all(y == -100 for y in labels):
                words.append(float("nan"))
                continue
            ex_words = dataclasses.replace(plain, labels=labels)
            words.append(float(model.forward_stage1(collate(model.prompts, [ex_words])).loss))
    return np.array(whole), np.array(words)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True, help="a Stage-1 model directory")
    ap.add_argument("--data", default="runs/uci-har/data")
    ap.add_argument("--split", default="val")
    ap.add_argument("--n", type=int, default=48, help="seeded single-channel examples of the split")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, help="write the numbers as JSON here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from sensorllm.data import stage1_items
    from sensorllm.datasets.prepared import open_prepared
    from sensorllm.model import load_checkpoint, read_checkpoint_config

    meta = read_checkpoint_config(args.model)
    data = open_prepared(args.data)
    if meta["config"]["encoder"]["kind"] == "trend-oracle":  # stage1_oracle_tokens.py's, registered by that script
        import stage1_oracle_tokens

        stage1_oracle_tokens.register(float(data.manifest["rate_hz"]))
    model = load_checkpoint(args.model).eval()
    mode = meta.get("extra", {}).get("trend_mode", "tolerant")
    items = stage1_items(data, args.split, args.seed, mode, args.n)
    # a reversed series of one sample, or of one trend that is steady, is the same window: leave those out
    items = [it for it in items if len(it.series) > 1 and np.ptp(np.asarray(it.series)) > 0]
    (own, own_w), (rev, rev_w) = answer_loss(model, items, False), answer_loss(model, items, True)
    has = ~np.isnan(own_w)
    res = {"model": str(args.model), "split": args.split, "n": len(items), "trend_mode": mode,
           "loss_own": float(own.mean()), "loss_reversed": float(rev.mean()),
           "difference": float((rev - own).mean()), "own_lower": int((own < rev).sum()),
           "trend_words": {"n": int(has.sum()), "loss_own": float(own_w[has].mean()),
                           "loss_reversed": float(rev_w[has].mean()),
                           "difference": float((rev_w[has] - own_w[has]).mean()),
                           "own_lower": int((own_w[has] < rev_w[has]).sum())}}
    print(json.dumps(res, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
