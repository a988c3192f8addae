"""Linear probe of a SensorLLM's Stage-2 features: how much class information reaches the state the head reads?

Runs the model (frozen, as it is) on seeded subsets of the training and validation windows, takes two
features per window from the final hidden states: the last non-pad token (what the Stage-2 head reads) and the
mean over all non-pad positions, and fits a standardised logistic regression on each (scikit-learn). A probe
well above the head's own validation score means the head/projector optimisation, not the features, is what
fails; a probe near chance means the information does not reach those states.

    python benchmarks/probe_stage2_features.py --model runs/results/sensorllm/seed0 --data runs/uci-har/data \\
        --train 240 --val 120

Prints: feature spread across windows, and the probe's validation accuracy and F1-macro for each feature next
to chance (the largest class share) and the model's own head on the same validation windows.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sensorllm.datasets import open_prepared
from sensorllm.eval.evaluate import load_model
from sensorllm.train.data import stage2_items


@torch.inference_mode()
def features(model, items, batch_size: int) -> dict[str, np.ndarray]:
    """``last`` / ``mean`` hidden-state features and the head's predictions for ``items``."""
    device = next(model.projector.parameters()).device
    out: dict[str, list] = {"last": [], "mean": [], "head": []}
    for a in range(0, len(items), batch_size):
        chunk = items[a : a + batch_size]
        batch = model.prompts.collate([model.prompts.stage2(it.series, text=it.text) for it in chunk]).to(device)
        h = model.sequence_hidden(batch).float()  # (B, S, H)
        m = batch.attention_mask.unsqueeze(-1).float()
        last = (batch.attention_mask * torch.arange(h.shape[1], device=h.device)).argmax(dim=1)
        out["last"].append(h[torch.arange(h.shape[0]), last].cpu().numpy())
        out["mean"].append(((h * m).sum(1) / m.sum(1)).cpu().numpy())
        if model.head is not None:
            out["head"].append(model.forward_head(h[torch.arange(h.shape[0]), last]).argmax(-1).cpu().numpy())
    return {k: np.concatenate(v) for k, v in out.items() if v}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="run or checkpoint directory (Stage 2, or Stage 1 for no head)")
    ap.add_argument("--data", default="runs/uci-har/data")
    ap.add_argument("--train", type=int, default=240, help="seeded training windows for the probe")
    ap.add_argument("--val", type=int, default=120, help="seeded validation windows")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model, meta = load_model(args.model, args.device)
    extra = meta["extra"]
    data = open_prepared(args.data)
    text = (extra.get("preprocess_type") or "smry+Q", extra.get("trend_mode", "exact"))
    t = time.time()
    sets = {}
    for split, n in (("train", args.train), ("val", args.val)):
        items = stage2_items(data, split, 0, *text, n, channels=model.channels, stat_digits=extra.get("stat_digits"))
        sets[split] = (features(model, items, args.batch_size), np.array([it.label for it in items]))
    (ftr, ytr), (fva, yva) = sets["train"], sets["val"]
    print(f"model {args.model}; {len(ytr)} train / {len(yva)} val windows of {data.name}; "
          f"features in {time.time() - t:.0f} s; text {text[0]}")
    chance = np.bincount(yva).max() / len(yva)
    print(f"chance (largest validation class): accuracy {chance:.3f}")
    if "head" in fva:
        print(f"the model's own head:  accuracy {np.mean(fva['head'] == yva):.3f}  "
              f"F1-macro {f1_score(yva, fva['head'], average='macro'):.3f}")
    for name in ("last", "mean"):
        spread = np.median(ftr[name].std(0)) / (np.abs(ftr[name]).mean() + 1e-12)
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(ftr[name], ytr)
        pred = probe.predict(fva[name])
        print(f"probe on {name:4s} token state: accuracy {np.mean(pred == yva):.3f}  F1-macro "
              f"{f1_score(yva, pred, average='macro'):.3f}  (spread across windows / mean |x|: {spread:.3f})")


if __name__ == "__main__":
    main()
