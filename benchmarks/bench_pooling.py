"""Sensor-token compression modes (``projector.pool_mode``: mean / strided / learned) side by side in one run:
seconds per Stage-2 training sample, peak RSS and the validation F1-macro each reaches in the same short budget.

Every (k, mode) runs the project's own Stage-2 program (``sensorllm tune``, i.e. ``sensorllm.train.tune``
and its ``train_loop``) in a child process, from scratch (``init_from=null``), with the same seed, the same
seeded subset of training windows, the same batches, the same initial projector MLP and head, and one
validation at the end on the same seeded subset of validation windows. Only ``projector.pool_mode`` differs.

Before each child starts, the parent fills the frozen-encoder embedding cache for exactly the windows the
child will read (through the same ``build_model`` and ``SensorLLM.encode`` path), so the timed steps measure
the training step and not the one-off encoder pass; the benchmark checks that the child added no entry.

    python benchmarks/bench_pooling.py --data runs/uci-har/data --pools 8 --steps 16 --val-windows 96

Prints, per k and mode: sensor tokens per window, trainable projector parameters, seconds per training
sample (first step excluded), peak RSS, validation F1-macro and accuracy, and the ratios to ``mean``. Also
prints the F1-macro of constant and uniformly random predictions on the same validation windows, for scale.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import math
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import torch
from _common import ROOT, run_peak_rss

from sensorllm.data import Stage2Items, TextSettings, collate_items, stage2_items
from sensorllm.datasets import open_prepared
from sensorllm.eval.metrics import classification_metrics
from sensorllm.model.projector import POOL_MODES
from sensorllm.train.common import build_model
from sensorllm.train.config import Stage2Config, load_config


def tune_overrides(args: argparse.Namespace, pool: int, mode: str, out: Path, cache: Path) -> list[str]:
    """The ``sensorllm tune`` overrides of one (k, mode) run; only the projector keys differ between runs."""
    return [
        f"data.prepared={args.data}", "init_from=null", f"run.seed={args.seed}",
        f"data.max_train_examples={args.train_windows}", f"data.max_val_examples={args.val_windows}",
        f"optim.max_steps={args.steps}", f"optim.batch_size={args.batch}", "optim.grad_accum=1",
        f"projector.pool={pool}", f"projector.pool_mode={mode}",
        f"run.out_dir={out}", f"run.cache_dir={cache}", f"run.threads={args.threads}",
        f"run.eval_every={10**9}", f"run.save_every={10**9}", "run.log_every=1",
    ]


def load_items(cfg: Stage2Config, normalized: bool = True,
               channels: list[str] | None = None) -> tuple[Stage2Items, Stage2Items]:
    """The training and validation windows ``run_tune`` will read for ``cfg`` (same seeded subsets; the texts
    are ``run_tune``'s when ``normalized`` and ``channels`` are the model's ``encoder.normalizes_series`` and
    ``channels``)."""
    data = open_prepared(cfg.data.prepared)
    d = cfg.data
    text = TextSettings(d.preprocess_type, d.trend_mode, d.stat_digits, cfg.run.seed, normalized)
    train = stage2_items(data, d.train_split, text, d.max_train_examples, channels=channels)
    val = stage2_items(data, d.val_split, text, d.max_val_examples, channels=channels)
    return train, val


def prewarm_cache(cfg: Stage2Config, cache: Path) -> int:
    """Fill the embedding cache for the training and validation windows ``run_tune`` will read for ``cfg``
    through the model's own encode path; returns entries on disk."""
    data = open_prepared(cfg.data.prepared)
    model = build_model(cfg, data, labels=True)
    with torch.no_grad():
        for items in load_items(cfg, model.encoder.normalizes_series, model.channels):
            for a in range(0, len(items), 32):
                model.encode(collate_items(model.prompts, items[a : a + 32]))
    assert model.cache is not None
    n = len(model.cache)
    del model
    gc.collect()
    return n


def run_child(args: argparse.Namespace, pool: int, mode: str, tmp: Path) -> dict:
    """One ``sensorllm tune`` run in a child process (peak RSS sampled every 0.1 s); returns its numbers."""
    out, cache = tmp / f"k{pool}-{mode}", tmp / "cache"
    overrides = tune_overrides(args, pool, mode, out, cache)
    cfg = load_config(Stage2Config, ROOT / args.config, overrides)
    t = time.time()
    warm = prewarm_cache(cfg, cache)
    print(f"[k={pool} {mode}] cache prewarmed ({warm} entries on disk) in {time.time() - t:.1f}s", flush=True)
    on_disk = len(list(cache.glob("*/*/*.safetensors")))  # every namespace
    cmd = [sys.executable, "-m", "sensorllm.cli.main", "tune", "--config", str(ROOT / args.config), *overrides]
    t = time.time()
    with open(tmp / f"k{pool}-{mode}.log", "w") as log:
        returncode, peak = run_peak_rss(cmd, log)
    wall = time.time() - t
    if returncode != 0:
        tail = (tmp / f"k{pool}-{mode}.log").read_text()[-3000:]
        raise RuntimeError(f"k={pool} {mode}: tune failed ({returncode}):\n{' '.join(cmd)}\n{tail}")
    rows = list(csv.DictReader(open(out / "train_log.csv")))
    steady = rows[1:] or rows
    s_per_sample = float(np.mean([1.0 / float(r["examples_per_s"]) for r in steady]))
    val_metrics = json.loads((out / "metrics_val.json").read_text())
    summary = json.loads((out / "train_summary.json").read_text())
    added = len(list(cache.glob("*/*/*.safetensors"))) - on_disk
    res = {
        "pool": pool, "mode": mode, "s_per_sample": s_per_sample, "peak_rss_gib": peak / 2**30,
        "f1_macro": float(val_metrics["f1_macro"]), "accuracy": float(val_metrics["accuracy"]),
        "projector_params": int(summary["trainable"]["projector"]), "train_time_s": summary["train_time_s"],
        "child_wall_s": wall, "cache_entries_added_by_child": added, "final_loss": float(rows[-1]["loss"]),
    }
    print(f"[k={pool} {mode}] {json.dumps(res)}", flush=True)
    return res


def reference_f1(labels: list[int], class_names: list[str], seed: int) -> tuple[float, float]:
    """F1-macro of the best constant prediction and of uniform random guesses (mean of 100 seeded draws)."""
    k = len(class_names)
    const = max(classification_metrics(labels, [c] * len(labels), class_names)["f1_macro"] for c in range(k))
    rng = np.random.default_rng(seed)
    rand = [classification_metrics(labels, rng.integers(0, k, len(labels)), class_names)["f1_macro"]
            for _ in range(100)]
    return float(const), float(np.mean(rand))


def print_table(res: list[dict], args: argparse.Namespace, channels: int, length: int) -> None:
    print(f"\n{args.data}: {channels} channels x {length} samples; {args.steps} steps x batch {args.batch} "
          f"on {args.train_windows} seeded training windows, validation on {args.val_windows} seeded windows; "
          f"seed {args.seed}; {args.threads} torch thread(s); {platform.machine()}, {psutil.cpu_count()} CPUs")
    print("| k | mode | sensor tokens/window | projector params | s/sample | peak RSS GiB | val F1-macro "
          "| val acc | speed vs mean | F1 − F1(mean) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in res:
        base = next(b for b in res if b["pool"] == r["pool"] and b["mode"] == "mean") if any(
            b["pool"] == r["pool"] and b["mode"] == "mean" for b in res) else r
        tokens = channels * math.ceil((length + 1) / r["pool"])
        print(f"| {r['pool']} | {r['mode']} | {tokens} | {r['projector_params']:,} | {r['s_per_sample']:.3f} "
              f"| {r['peak_rss_gib']:.2f} | {r['f1_macro']:.4f} | {r['accuracy']:.4f} "
              f"| {base['s_per_sample'] / r['s_per_sample']:.2f}× | {r['f1_macro'] - base['f1_macro']:+.4f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="runs/uci-har/data")
    ap.add_argument("--config", default="configs/here/uci-har/stage2.yaml", help="Stage-2 YAML (SmolLM2-135M)")
    ap.add_argument("--pools", type=int, nargs="+", default=[8], help="group sizes k (e.g. 8 16)")
    ap.add_argument("--modes", nargs="+", default=list(POOL_MODES), choices=POOL_MODES)
    ap.add_argument("--steps", type=int, default=16, help="training budget: optimiser steps per mode")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--train-windows", type=int, default=None, help="seeded training subset (default steps x batch)")
    ap.add_argument("--val-windows", type=int, default=96, help="seeded validation subset for the F1")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads, parent and children")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    args.train_windows = args.train_windows or args.steps * args.batch
    torch.set_num_threads(args.threads)
    m = open_prepared(args.data).manifest
    channels, length = len(m["channels"]), int(m["window"])
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        res = [run_child(args, k, mode, Path(tmp)) for k in args.pools for mode in args.modes]
        cfg = load_config(Stage2Config, ROOT / args.config, tune_overrides(args, args.pools[0], "mean",
                                                                           Path(tmp), Path(tmp)))
        _, val = load_items(cfg)
    names = list(open_prepared(args.data).class_names)
    const, rand = reference_f1(val.labels.tolist(), names, args.seed)
    print_table(res, args, channels, length)
    print(f"\nreference on the same validation windows: constant prediction F1-macro {const:.4f}, "
          f"uniform random guess {rand:.4f} (mean of 100 draws); total {time.time() - t0:.0f}s")
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "results": res,
                                         "reference_f1": {"constant": const, "random": rand}}, indent=1))


if __name__ == "__main__":
    main()
