"""The pooling-factor sweep with k = 1 (the paper's one LLM token per sensor sample) on a subset that fits a CPU.

At the results table's budget (``benchmarks/results.py``: 100 Stage-1 + 300 Stage-2 steps, 600 test windows) a
k = 1 run takes most of a day on 2 cores, so this sweep runs every k on the same smaller budget instead: the same
methods of ``results.py`` (``sensorllm-mean-scale`` is k = 8, ``-pool1`` / ``-pool4`` / ``-pool16`` the others,
all on the mean-scaling tokeniser), the same prepared windows and seeded subsets, fewer steps and fewer validation
and test windows. It runs ``results.py``'s rows (``results.method``) through the same compare
library (:func:`sensorllm.compare.run_comparison`), so a run is resumable in the same way (a row whose
``metrics.json`` exists is skipped) and several invocations may share ``--out`` (each runs its own
``--pools``).

    python benchmarks/pool_sweep.py --data runs/uci-har/data --out runs/pool-sweep --pools 1 8 16 4 \
        --stage1-steps 50 --stage2-steps 80 --test-limit 200 \
        --set run.threads=1 data.max_val_examples=60 data.trend_mode=tolerant --set1 eval_generate=0

Writes ``--doc`` (default ``docs/pool-sweep.md``) from every finished k in ``--out`` with: sensor tokens per
window, test F1-macro and accuracy, the validation F1-macro the selected model reached, seconds per Stage-2
training step (from the run's ``train_log.csv``, validation excluded), training time and trainable parameters.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
from pathlib import Path

import numpy as np

import results
from _common import ROOT

from sensorllm.compare import CompareSettings, run_comparison

ROWS = {1: "sensorllm-mean-scale-pool1", 4: "sensorllm-mean-scale-pool4", 8: "sensorllm-mean-scale",
        16: "sensorllm-mean-scale-pool16"}
WINDOW, CHANNELS = 128, 6  # UCI-HAR windows (samples) and channels


def sensor_tokens(k: int) -> int:
    """LLM tokens the sensor embeddings of one window take: the encoder gives one per sample plus EOS, pooled by k."""
    return CHANNELS * math.ceil((WINDOW + 1) / k)


def seconds_per_step(run: Path) -> float:
    """Median seconds per Stage-2 optimiser step over the logged intervals (validation and checkpoints fall
    between log lines, so the median leaves them out); the first interval (warm-up) is dropped when others exist."""
    log = np.loadtxt(run / "train_log.csv", delimiter=",", skiprows=1, ndmin=2, usecols=(0, 4))
    steps, elapsed = np.concatenate([[0], log[:, 0]]), np.concatenate([[0], log[:, 1]])
    per = np.diff(elapsed) / np.diff(steps)
    return float(np.median(per[1:] if len(per) > 1 else per))


def done(k: int, seed: int, out: Path) -> bool:
    return (out / ROWS[k] / f"seed{seed}" / "metrics.json").exists()


def row(k: int, seed: int, out: Path) -> str | None:
    run = out / ROWS[k] / f"seed{seed}"
    if not done(k, seed, out):
        return None
    m = json.loads((run / "metrics.json").read_text())
    summary = json.loads((run / "train_summary.json").read_text())
    return (f"| {k} | {sensor_tokens(k)} | {100 * m['f1_macro']:.1f} | {100 * m['accuracy']:.1f} | "
            f"{100 * summary['best_val_f1_macro']:.1f} (step {summary['best_step']}) | "
            f"{seconds_per_step(run):.1f} | {m['train_time_s']:.0f} | {m['trainable_params']} |")


def rows_it_would_drop(doc: Path, out: Path, seed: int) -> list[int]:
    """The k the current ``--doc`` shows as finished but ``--out`` has no finished run for (``runs/`` is not in git,
    so a fresh checkout would otherwise rewrite the measured table as "not run yet")."""
    if not doc.exists():
        return []
    shown = [int(line.split("|")[1]) for line in doc.read_text().splitlines()
             if line.startswith("| ") and line.split("|")[1].strip().isdigit()]
    return [k for k in shown if k in ROWS and not done(k, seed, out)]


def setting(overrides: list[str], key: str, default: str) -> str:
    """The value ``--set`` gives ``key``, for the text (``default`` when it is not overridden)."""
    return next((kv.split("=", 1)[1] for kv in overrides if kv.startswith(key + "=")), default)


def run_row(k: int, args: argparse.Namespace) -> None:
    """Train and score row ``k`` as ``results.py`` runs its rows (Stage 1, Stage 2 from it, the test split),
    on this sweep's budget; a row whose ``metrics.json`` exists is skipped."""
    data = Path(args.data)
    settings = CompareSettings(
        data=data, out=Path(args.out), seeds=[args.seed], stage1_config=ROOT / args.stage1_config,
        stage2_config=ROOT / args.stage2_config, sensorllm_set=args.set,
        stage1_set=[*args.set1, f"optim.max_steps={args.stage1_steps}"],
        stage2_set=[f"optim.max_steps={args.stage2_steps}"], test_limit=args.test_limit or None,
        eval_batch_size=args.eval_batch, command=" ".join(["python benchmarks/pool_sweep.py", *sys.argv[1:]]))
    run_comparison(settings, [results.method(ROWS[k], data)], stop_on_error=True)


def write_doc(args: argparse.Namespace) -> Path:
    out, doc = Path(args.out), ROOT / args.doc
    if not args.overwrite_doc and (lost := rows_it_would_drop(doc, out, args.seed)):
        print(f"not rewriting {doc}: it shows finished runs for k = {', '.join(map(str, lost))} that {out} lacks. "
              "Run with the --out that produced it, or pass --overwrite-doc.", flush=True)
        return doc
    rows = [r for k in sorted(ROWS) if (r := row(k, args.seed, out))]
    missing = [str(k) for k in sorted(ROWS) if not done(k, args.seed, out)]
    cmd = " ".join(["python benchmarks/pool_sweep.py --data", args.data, "--out", args.out, "--pools 1 8 16 4 --seed",
                    str(args.seed), "--stage1-steps", str(args.stage1_steps), "--stage2-steps", str(args.stage2_steps),
                    "--test-limit", str(args.test_limit), *(["--set", *args.set] if args.set else []),
                    *(["--set1", *args.set1] if args.set1 else [])])
    n_val = setting(args.set, "data.max_val_examples", "all")
    doc.write_text(f"""# Pooling-factor sweep with k = 1, on a subset (UCI-HAR)

Produced by `{cmd}` (resumable; this file is rewritten from the finished runs in `{out}`).
Machine: {platform.machine()}, {platform.system()}, CPU only; seed {args.seed}.

The paper feeds the LLM one token per sensor sample (k = 1). This project mean-pools k encoder tokens into one
(`projector.pool`, `docs/deviations.md`) so that runs fit a CPU. k = 1 does not fit the budget of the short-budget
table of [`docs/results.md`](results.md) here, so this sweep runs every k on one smaller budget:
{args.stage1_steps} Stage-1 and {args.stage2_steps} Stage-2 steps of batch 4, {n_val} validation windows
(`data.max_val_examples`) and {args.test_limit or 'all'} test windows (`--test-limit`), the same seeded subsets for every
k, one validation at the end of Stage 2. Every row reads the series through Chronos' mean-scaling tokeniser
(`encoder.tokenizer.kind=mean_scale`) with a seeded **random-init** Chronos-T5-tiny and SmolLM2-135M-Instruct, so
these numbers are about the pooling factor at this scale, not the paper's accuracy. One seed: differences of a few
points are within seed noise (two seeds of one configuration differ by 14 points on the learning proxy of
`docs/learning.md`).

| k | sensor tokens per window | test F1-macro (%) | test accuracy (%) | validation F1-macro (%) | s per Stage-2 step | train time (s) | trainable params |
|---|---|---|---|---|---|---|---|
{chr(10).join(rows) if rows else '| | no finished runs yet | | | | | | |'}

{'Not run yet: k = ' + ', '.join(missing) + '.' if missing else 'Every k has finished.'}
Train time is Stage 1 plus Stage 2 with its validation (not the test scoring); seconds per step is the median over
the logged training intervals. Runs that share the 2 cores (two at a time) are slower than alone, so compare the
timing columns within this table only. Trainable parameters do not change with k (pooling has no weights in
`mean` mode).
""")
    return doc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="runs/uci-har/data")
    ap.add_argument("--out", default="runs/pool-sweep")
    ap.add_argument("--pools", type=int, nargs="+", default=[1, 8, 16, 4], choices=sorted(ROWS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--stage1-config", default="configs/here/uci-har/stage1.yaml")
    ap.add_argument("--stage2-config", default="configs/here/uci-har/stage2.yaml")
    ap.add_argument("--stage1-steps", type=int, default=50)
    ap.add_argument("--stage2-steps", type=int, default=80)
    ap.add_argument("--test-limit", type=int, default=200)
    ap.add_argument("--eval-batch", type=int, default=results.DEFAULT_EVAL_BATCH)
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides for both stages")
    ap.add_argument("--set1", nargs="*", default=[], metavar="KEY=VALUE", help="overrides for Stage 1 only")
    ap.add_argument("--doc", default="docs/pool-sweep.md")
    ap.add_argument("--table-only", action="store_true")
    ap.add_argument("--overwrite-doc", action="store_true",
                    help="rewrite --doc even where it shows finished runs that --out lacks")
    args = ap.parse_args()
    data = Path(args.data)
    if not args.table_only:
        if not (data / "manifest.json").exists():
            raise SystemExit(f"{data} is not prepared: sensorllm prepare uci-har --raw "
                             "../shared/datasets/UCI-HAPT/RawData --out " + str(data))
        for k in args.pools:
            run_row(k, args)
            write_doc(args)
    print(write_doc(args).read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
