"""Zero-shot label scoring: one shared prompt pass per window against one full pass per (window, label).

`LabelScorer` runs each window's prompt (system text, sensor tokens, question with the candidates) through the
LLM once and scores the K label answers on its key/value cache. The reference here is what that replaces:
the K complete Stage-1 sequences of a window, each a full forward pass. Both give the same scores (the largest
difference is printed); the ratio is the speed-up, measured in one run.

    python benchmarks/bench_zero_shot.py --model runs/results/stage1-pool8/seed0/model --data runs/uci-har/data

Prints seconds per window for both, their ratio, and the largest absolute score difference.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from sensorllm.data import collate
from sensorllm.datasets import open_prepared
from sensorllm.infer.artifact import load_sensorllm as load_model
from sensorllm.infer.openvocab import LabelScorer, LabelText
from sensorllm.model.prompts import IGNORE_INDEX


@torch.inference_mode()
def full_sequence_scores(scorer: LabelScorer, windows: list[dict], batch_size: int) -> np.ndarray:
    """``(N, K)`` mean answer log-probabilities from one full forward pass per (window, label)."""
    m = scorer.model
    exs = [e for w in windows for e in scorer._examples(w)]
    out = np.empty(len(exs))
    for a in range(0, len(exs), batch_size):
        batch = collate(m.prompts, exs[a : a + batch_size])
        logits = m.lm_logits(batch)[:, :-1].float()
        targets = batch.labels[:, 1:]
        mask = targets != IGNORE_INDEX
        lp = torch.log_softmax(logits, -1).gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        out[a : a + len(lp)] = ((lp * mask).sum(1) / mask.sum(1)).numpy()
    return out.reshape(len(windows), len(scorer.labels))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="a Stage-1 (or Stage-2) model directory")
    ap.add_argument("--data", required=True, help="a prepared dataset whose channels the model has")
    ap.add_argument("--windows", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=4, help="windows per pass (reference: sequences per pass "
                                                              "= this × K, the same work per call)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model, _ = load_model(args.model, "cpu")
    d = open_prepared(args.data)
    ws = d.stage2("test")
    channels = [c for c in model.channels if c in d.channel_names]
    idx = [d.channel_names.index(c) for c in channels]
    windows = [{c: np.asarray(ws.windows[i][:, j], np.float64) for c, j in zip(channels, idx, strict=True)}
               for i in range(args.windows)]
    scorer = LabelScorer(model, [LabelText(n) for n in d.class_names], d.rate_hz, batch_size=args.batch_size)
    K = len(scorer.labels)
    scorer.score(windows[:1])  # warm-up
    t = time.perf_counter()
    shared = scorer.score(windows)
    t_shared = time.perf_counter() - t
    t = time.perf_counter()
    full = full_sequence_scores(scorer, windows, args.batch_size * K)
    t_full = time.perf_counter() - t
    n = len(windows)
    print(f"model {args.model}, {n} windows of {d.name} x {K} labels, {torch.get_num_threads()} torch threads")
    print(f"full sequence per label: {t_full / n:.3f} s/window")
    print(f"shared prompt (LabelScorer): {t_shared / n:.3f} s/window")
    print(f"speed-up {t_full / t_shared:.2f}x; largest score difference {np.abs(full - shared).max():.2e}")


if __name__ == "__main__":
    main()
