"""Cross-dataset transfer: align (Stage 1) on UCI-HAR, tune (Stage 2) on the other real sets here, against
tuning them without any Stage 1 — the paper's Table 5 question on the data this machine has.

    python benchmarks/transfer.py --stage1 runs/results/stage1-pool8/seed0/model --seeds 0 1 2

Each (target, source, seed) run lives under ``--out`` and is skipped when its ``metrics.json`` exists, so the
command resumes after an interruption. Writes ``docs/transfer.md``. The paper's own USC-HAD ↔ UCI-HAR
configs are shipped in ``configs/transfer/paper-*`` (they need the paper's weights and data).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from _common import ROOT, ensure_prepared, run_logged

RAW = {"basicmotions": "UEA-BasicMotions", "epilepsy": "UEA-Epilepsy"}


def one(target: str, source: str, seed: int, args: argparse.Namespace) -> dict:
    d = Path(args.out) / target / source / f"seed{seed}"
    done = d / "metrics.json"
    if done.exists():
        return json.loads(done.read_text())
    d.mkdir(parents=True, exist_ok=True)
    data = Path(args.runs) / target / "data"
    ensure_prepared(target, RAW[target], data, d / "log.txt")
    init = f"init_from={args.stage1}" if source == "uci-har" else "init_from=null"
    t0 = time.time()
    run_logged([sys.executable, "-m", "sensorllm.cli.main", "tune", "--config",
                str(ROOT / "configs" / "transfer" / f"here-uci-har-to-{target}" / "stage2.yaml"), init,
                f"data.prepared={data}", f"run.out_dir={d}", f"run.seed={seed}", f"run.threads={args.threads}",
                f"run.cache_dir={Path(args.out) / 'embcache'}", f"optim.max_steps={args.steps}"], d / "log.txt")
    run_logged([sys.executable, "-m", "sensorllm.cli.main", "evaluate", "--model", str(d), "--data", str(data),
                "--out", str(d / "eval-test")], d / "log.txt")
    m = json.loads((d / "eval-test" / "metrics.json").read_text())
    m["train_time_s"] = time.time() - t0
    done.write_text(json.dumps(m, indent=1))
    return m


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage1", default="runs/results/stage1-pool8/seed0/model", help="Stage-1 model on UCI-HAR")
    ap.add_argument("--runs", default="runs")
    ap.add_argument("--out", default="runs/transfer")
    ap.add_argument("--targets", nargs="+", default=list(RAW))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--steps", type=int, default=100, help="Stage-2 optimiser steps (batch 4)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--table-only", action="store_true")
    args = ap.parse_args()
    sources = {"uci-har": "Stage 1 on UCI-HAR → Stage 2 on target", "none": "no Stage 1 → Stage 2 on target"}
    rows = ["| target | Stage 1 | seeds done | F1-macro (%) | accuracy (%) | time per run (s) |", "|---|---|---|---|---|---|"]
    for seed in args.seeds:
        for target in args.targets:
            for source in sources:
                if not args.table_only:
                    one(target, source, seed, args)
    for target in args.targets:
        for source, desc in sources.items():
            ms = [json.loads(p.read_text()) for s in args.seeds
                  if (p := Path(args.out) / target / source / f"seed{s}" / "metrics.json").exists()]
            if not ms:
                rows.append(f"| {target} | {desc} | 0/{len(args.seeds)} | not run yet | | |")
                continue
            f1 = 100 * np.array([m["f1_macro"] for m in ms])
            acc = 100 * np.array([m["accuracy"] for m in ms])
            t = np.mean([m["train_time_s"] for m in ms])
            dd = 1 if len(ms) > 1 else 0  # sample standard deviation over seeds (one seed: 0.0)
            rows.append(f"| {target} | {desc} | {len(ms)}/{len(args.seeds)} | {f1.mean():.1f} ± {f1.std(ddof=dd):.1f} | "
                        f"{acc.mean():.1f} ± {acc.std(ddof=dd):.1f} | {t:.0f} |")
    doc = ROOT / "docs" / "transfer.md"
    doc.write_text(f"""# Cross-dataset transfer

Produced by `python benchmarks/transfer.py --stage1 {args.stage1} --seeds {' '.join(map(str, args.seeds))} --steps {args.steps}`
on {platform.machine()} {platform.system()}, CPU only ({args.threads} torch thread per run). Stage 1 (alignment)
ran on UCI-HAR only (`benchmarks/results.py`); Stage 2 tunes the projector and a new head on each target's
train split for {args.steps} steps of batch 4, selects on its validation split and is scored once on its test
split. SmolLM2-135M-Instruct with a seeded **random-init** Chronos-T5-tiny (no pretrained encoder weights here);
configs: `configs/transfer/here-uci-har-to-<target>/stage2.yaml`. Channel tokens carry over by name
(`<x_acc_start>` … are the same tokens in every dataset here); Epilepsy has only the accelerometer.
Scores: mean ± sample standard deviation over seeds (ddof 1), in percent.

{chr(10).join(rows)}

The paper's cross-dataset table (Table 5; F1, Llama-3-8B, pretrained Chronos): Stage 2 on USC-HAD after Stage 1 on
UCI-HAR 61.6 ± 2.07 vs after Stage 1 on USC-HAD 61.2 ± 3.56; Stage 2 on UCI-HAR after Stage 1 on USC-HAD 91.0 ± 1.41
vs on UCI-HAR 91.2 ± 1.48. Those runs are configured in `configs/transfer/paper-uci-har-to-usc-had/` and
`configs/transfer/paper-usc-had-to-uci-har/` (USC-HAD is not obtainable on this machine).

The other direction, Stage 1 on BasicMotions → Stage 2 on UCI-HAR, is the
`sensorllm-mean-scale-s1-basicmotions` method of `benchmarks/results.py` (beside Stage 1 on UCI-HAR,
`sensorllm-mean-scale`, and no Stage 1, `sensorllm-mean-scale-no-stage1`, all on Chronos' mean-scaling
tokeniser); no result of it is kept (`python benchmarks/results.py … --only
sensorllm-mean-scale-s1-basicmotions,sensorllm-mean-scale,sensorllm-mean-scale-no-stage1` with the options of the
command in `docs/results.md` runs them).
""")
    print(doc.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
