"""Linear probe of a SensorLLM's Stage-2 features: how much class information reaches the state the head reads?

Runs the model (frozen, as it is) on seeded subsets of the training and validation windows, takes two
features per window from the final hidden states: the last non-pad token (what the Stage-2 head reads) and the
mean over all non-pad positions, and fits a standardised logistic regression on each (scikit-learn). A probe
well above the head's own validation score means the head/projector optimisation, not the features, is what
fails; a probe near chance means the information does not reach those states.

It also trains a fresh linear head (no bias, as the model's) with AdamW the way Stage 2 does (``--adam-steps``
steps of ``--adam-batch`` windows at ``--adam-lr``; several values of each give every combination), on the fixed
last-token features, raw and standardised: if
the raw features train far slower than standardised ones, the head's optimisation (feature scale and offset),
not the information in the features, limits Stage 2.

    python benchmarks/probe_stage2_features.py --model runs/results/sensorllm/seed0 --data runs/uci-har/data \\
        --train 240 --val 120

Prints: feature spread across windows, and the probe's validation accuracy and F1-macro for each feature next
to chance (the largest class share) and the model's own head on the same validation windows.
"""

from __future__ import annotations

import argparse
import itertools
import time
from dataclasses import replace

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sensorllm.data import TextSettings, collate_items, stage2_items
from sensorllm.datasets import open_prepared
from sensorllm.infer.artifact import load_sensorllm as load_model
from sensorllm.model import last_token_rows
from sensorllm.model.head import channel_run_means


@torch.inference_mode()
def features(model, items, batch_size: int) -> dict[str, np.ndarray]:
    """``last`` / ``mean`` hidden-state features and the head's predictions for ``items``."""
    device = next(model.projector.parameters()).device
    out: dict[str, list] = {"last": [], "mean": [], "head": []}
    for a in range(0, len(items), batch_size):
        chunk = items[a : a + batch_size]
        batch = collate_items(model.prompts, chunk, labels=False).to(device)
        h = model.sequence_hidden(batch).float()  # (B, S, H)
        m = batch.attention_mask.unsqueeze(-1).float()
        last = last_token_rows(h, batch.attention_mask)
        out["last"].append(last.cpu().numpy())
        out["mean"].append(((h * m).sum(1) / m.sum(1)).cpu().numpy())
        if model.head is not None:  # the head's input as SensorLLM.head_features builds it (head_input)
            kind = model.config.head_input
            parts = [last] if kind in ("last", "last+channel_mean") else []
            if kind in ("channel_mean", "last+channel_mean"):
                n_channels = len(model.config.channels)
                parts.append(channel_run_means(h, batch.input_ids, model.layout.ts_id, n_channels))
            out["head"].append(model.forward_head(torch.cat(parts, dim=-1)).argmax(-1).cpu().numpy())
    return {k: np.concatenate(v) for k, v in out.items() if v}


def adam_head(x: np.ndarray, y: np.ndarray, xv: np.ndarray, steps: int, batch: int, lr: float,
              standardise: bool) -> tuple[float, np.ndarray]:
    """Train ``Linear(H, K, bias=False)`` with AdamW on fixed features; returns (train loss, val predictions)."""
    x, xv = torch.as_tensor(x), torch.as_tensor(xv)
    if standardise:
        mu, sd = x.mean(0), x.std(0) + 1e-6
        x, xv = (x - mu) / sd, (xv - mu) / sd
    yt = torch.as_tensor(y, dtype=torch.long)
    gen = torch.Generator().manual_seed(0)
    head = torch.nn.Linear(x.shape[1], int(y.max()) + 1, bias=False)
    with torch.no_grad():
        head.weight.copy_(torch.randn(head.weight.shape, generator=gen) * 0.02)  # the model's head init
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=0.0)
    for _ in range(steps):
        idx = torch.randint(0, len(yt), (batch,), generator=gen)
        loss = torch.nn.functional.cross_entropy(head(x[idx]), yt[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return float(torch.nn.functional.cross_entropy(head(x), yt)), head(xv).argmax(1).numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="run or checkpoint directory (Stage 2, or Stage 1 for no head)")
    ap.add_argument("--data", default="runs/uci-har/data")
    ap.add_argument("--train", type=int, default=240, help="seeded training windows for the probe")
    ap.add_argument("--val", type=int, default=120, help="seeded validation windows")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    ap.add_argument("--adam-steps", type=int, default=250)
    ap.add_argument("--adam-batch", type=int, nargs="+", default=[16], help="one or more batch sizes")
    ap.add_argument("--adam-lr", type=float, nargs="+", default=[1e-3],
                    help="one or more learning rates (1e-3: the Stage-2 learning rate of the configs here)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model, meta = load_model(args.model, args.device)
    extra = meta["extra"]
    data = open_prepared(args.data)
    # the model's text settings, with text seed 0 (it also seeds the window subsets)
    text = replace(TextSettings.of_checkpoint(extra, model.encoder.normalizes_series), seed=0)
    t = time.time()
    sets = {}
    for split, n in (("train", args.train), ("val", args.val)):
        items = stage2_items(data, split, text, n, channels=model.channels)
        sets[split] = (features(model, items, args.batch_size), items.labels)
    (ftr, ytr), (fva, yva) = sets["train"], sets["val"]
    print(f"model {args.model}; {len(ytr)} train / {len(yva)} val windows of {data.name}; "
          f"features in {time.time() - t:.0f} s; text {text.preprocess_type}")
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
    for batch, lr, standardise in itertools.product(args.adam_batch, args.adam_lr, (False, True)):
        loss, pred = adam_head(ftr["last"], ytr, fva["last"], args.adam_steps, batch, lr, standardise)
        print(f"AdamW head on last-token state, {'standardised' if standardise else 'raw         '}: "
              f"{args.adam_steps} steps of {batch} at lr {lr:g}: training loss {loss:.3f}, "
              f"validation accuracy {np.mean(pred == yva):.3f}  F1-macro {f1_score(yva, pred, average='macro'):.3f}")


if __name__ == "__main__":
    main()
