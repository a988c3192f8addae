"""Stage-2 training step: seconds per sample and peak memory for the paper's layout (pool k = 1, one LLM
token per sample) vs pooled sensor tokens (k = 4, 8, 16), measured side by side in one run.

Each k runs `sensorllm tune` (SmolLM2-135M, random-init Chronos-T5-tiny, from scratch) for a few steps in a
child process; its RSS is sampled every 0.1 s (psutil) and its `train_log.csv` gives examples/s.

    python benchmarks/bench_train_step.py --data runs/uci-har/data --pools 1 4 8 16 --steps 4

Prints, per k: sensor tokens per window, seconds per training sample, peak RSS (and peak GPU memory when the
runs train on a GPU, which `sensorllm tune` uses whenever one is visible), and the speed-up over k = 1.
`--set KEY=VALUE ...` passes config overrides to every run, e.g. `run.mixed_precision=bf16` or
`llm.attn_implementation=eager` on a GPU; `--compare KEY=VALUE ...` runs every k a second time with those
overrides added and prints the ratio (e.g. `--compare run.compile=true`).
(F1 at equal budget needs long runs: see benchmarks/results.py, methods sensorllm-pool4/-pool16.)
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import tempfile
from pathlib import Path

from sensorllm.datasets import open_prepared

from _common import ROOT, run_peak_rss


def run_one(args: argparse.Namespace, pool: int, tmp: Path, variant: list[str] = (), tag: str = "") -> dict:
    out = tmp / f"pool{pool}{tag}"
    cmd = [sys.executable, "-m", "sensorllm.cli.main", "tune", "--config", str(ROOT / args.config),
           f"data.prepared={args.data}", "init_from=null", f"optim.max_steps={args.steps}",
           f"optim.batch_size={args.batch}", f"projector.pool={pool}", "data.max_val_examples=2",
           f"run.out_dir={out}", f"run.cache_dir={tmp / 'cache'}", f"run.eval_every={10**6}", "run.log_every=1",
           f"run.save_every={10**6}", *args.set, *variant]
    log = tmp / f"pool{pool}{tag}.log"
    with open(log, "w") as fh:
        returncode, peak = run_peak_rss(cmd, stdout=fh)
    if returncode != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-15:])
        raise RuntimeError(f"pool {pool}: tune failed ({returncode}): {' '.join(cmd)}\n{tail}")
    rows = list(csv.DictReader(open(out / "train_log.csv")))
    steady = [float(r["examples_per_s"]) for r in rows[1:]] or [float(rows[0]["examples_per_s"])]
    summary = json.loads((out / "train_summary.json").read_text())
    return {"pool": pool, "s_per_sample": 1.0 / (sum(steady) / len(steady)), "peak_rss_gib": peak / 2**30,
            "device": summary.get("device", "cpu"), "peak_gpu_gib": summary.get("peak_gpu_mem_gib")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="runs/uci-har/data")
    ap.add_argument("--config", default="configs/here/uci-har/stage2.yaml")
    ap.add_argument("--pools", type=int, nargs="+", default=[1, 4, 8, 16])
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides for every run")
    ap.add_argument("--compare", nargs="*", default=[], metavar="KEY=VALUE",
                    help="also run every k with these overrides added (e.g. run.compile=true) and print the ratio")
    args = ap.parse_args()
    m = open_prepared(args.data).manifest
    c, length = len(m["channels"]), int(m["window"])
    with tempfile.TemporaryDirectory() as tmp:
        res = [run_one(args, k, Path(tmp)) for k in args.pools]
        alt = [run_one(args, k, Path(tmp), args.compare, "-b") for k in args.pools] if args.compare else []
    base = next((r for r in res if r["pool"] == 1), res[0])
    print(f"{m['dataset']}: {c} channels x {length} samples; batch {args.batch}; {args.steps} steps per k "
          f"(first step excluded); SmolLM2-135M, random-init Chronos-T5-tiny; device {res[0]['device']}; "
          f"overrides: {' '.join(args.set) or 'none'}")
    print(f"{'k':>3} {'sensor tokens':>14} {'s/sample':>9} {'peak RSS GiB':>13} {'peak GPU GiB':>13} {'speed-up':>9}")
    for r in res:
        tokens = c * math.ceil((length + 1) / r["pool"])
        gpu = f"{r['peak_gpu_gib']:.2f}" if r["peak_gpu_gib"] is not None else "-"
        print(f"{r['pool']:>3} {tokens:>14} {r['s_per_sample']:>9.4f} {r['peak_rss_gib']:>13.2f} {gpu:>13} "
              f"{base['s_per_sample'] / r['s_per_sample']:>8.2f}x")
    if alt:
        print(f"with {' '.join(args.compare)} added (same steps, first step excluded, so compilation is not counted):")
        print(f"{'k':>3} {'s/sample':>9} {'peak RSS GiB':>13} {'peak GPU GiB':>13} {'speed-up vs without':>20}")
        for r, b in zip(res, alt):
            gpu = f"{b['peak_gpu_gib']:.2f}" if b["peak_gpu_gib"] is not None else "-"
            print(f"{b['pool']:>3} {b['s_per_sample']:>9.4f} {b['peak_rss_gib']:>13.2f} {gpu:>13} "
                  f"{r['s_per_sample'] / b['s_per_sample']:>19.2f}x")


if __name__ == "__main__":
    main()
