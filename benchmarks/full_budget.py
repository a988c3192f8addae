"""SensorLLM in the recommended configuration at a large training budget, scored on every test window.

Rows (all on UCI-HAR, `configs/recommended/uci-har/` with the row's overrides, SmolLM2-135M-Instruct; encoders
without pretrained weights: `docs/encoders.md`):

- ``rocket``: the recommended configuration as shipped: Stage 1 (``--stage1-examples`` single-channel QA pairs,
  1 epoch) through the ``rocket`` encoder (MiniRocket features of each channel, fitted, not trained; fitted in
  Stage 1 for its longest window, 200 samples), then Stage 2 from it;
- ``rocket-no-stage1``: Stage 2 from scratch (the paper's "without alignment" ablation; the encoder fitted on the
  Stage-2 windows, 128 samples); ``rocket-no-text``: Stage 1 (shared with ``rocket``) then Stage 2 without the
  statistics text (the paper's "without prompt"); ``rocket-no-stage1-no-text``: neither;
- ``conv-no-stage1``: Stage 2 from scratch with the ``conv`` encoder (a 1-D CNN per channel, trained);
- ``chronos``, ``chronos-no-stage1``, ``chronos-no-text``: the same three with the frozen random-init
  Chronos-T5-tiny (mean-scaling tokeniser, pool 16), the recommended configuration before the rocket encoder.

Stage 2 trains ``--epochs`` epochs over all 6,269 training windows (the paper: 8), selects its model on
``--val`` validation windows, and ``sensorllm evaluate`` scores all 2,996 test windows once.

    python benchmarks/full_budget.py --epochs 2 --tag cpu-2ep                 # what fits a 2-core sitting
    python benchmarks/full_budget.py --epochs 8 --tag paper-budget --seeds 0 1 2 --set run.mixed_precision=bf16
    python benchmarks/full_budget.py --dry-run ...                            # the commands only

Runs resume from their checkpoints (``runs/full/<tag>/...``). Each finished row is recorded in
``benchmarks/records/full/<tag>/<row>/seed<N>.json`` (test metrics, validation curve, times, the commands),
and the table between the markers of ``docs/results.md`` is rewritten from every record.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from _common import ROOT, ensure_prepared, read_csv_floats, replace_between, run_logged

RECORDS = ROOT / "benchmarks" / "records" / "full"
DOC = ROOT / "docs" / "results.md"
LEARNING_DOC = ROOT / "docs" / "learning.md"
CFG = "configs/recommended/uci-har"
# the rocket encoder: MiniRocket features of each channel (fitted on training series, frozen; docs/encoders.md)
ROCKET = ("encoder.kind=rocket", "encoder.trainable=false", "encoder.tokenizer=null", "projector.pool=1")


@dataclass(frozen=True)
class Row:
    """One row: the Stage-1 run it starts from (a key of ``STAGE1``; None: Stage 2 from scratch) and its
    Stage-2 overrides."""

    stage1: str | None
    overrides: tuple[str, ...] = ()


# the frozen random-init Chronos-T5-tiny as the recommended configuration read it before the rocket encoder
CHRONOS = ("encoder.kind=chronos", "encoder.trainable=false", "encoder.tokenizer.kind=mean_scale", "projector.pool=16")
CONV = ("encoder.kind=conv", "encoder.trainable=true", "encoder.tokenizer=null", "projector.pool=1")

# Stage-1 runs shared by rows: name → (run folder prefix, Stage-1 overrides). The rocket encoder's dilations are
# fitted for one length, so its Stage 1 reads the longest Stage-1 window (200 samples, what the recommended
# configuration takes from the data) and Stage 2 keeps that fit.
STAGE1: dict[str, tuple[str, tuple[str, ...]]] = {
    "rocket-ctx200": ("stage1-rocket-ctx200", (*ROCKET, "encoder.context_length=200")),
    "chronos": ("stage1", CHRONOS),
}
ROCKET_S1 = (*ROCKET, "encoder.context_length=200")  # Stage 2 from the rocket Stage 1: its fit
ROWS: dict[str, Row] = {
    # the recommended configuration as shipped: Stage 1 through the rocket encoder, then Stage 2 from it
    "rocket": Row("rocket-ctx200", ROCKET_S1),
    # its ablations: Stage 2 from scratch (the encoder fitted on the Stage-2 windows, 128 samples), no statistics
    # text (with and without Stage 1)
    "rocket-no-stage1": Row(None, ("init_from=null", *ROCKET, "encoder.context_length=128")),
    "rocket-no-text": Row("rocket-ctx200", (*ROCKET_S1, "data.preprocess_type=none")),
    "rocket-no-stage1-no-text": Row(None, ("init_from=null", *ROCKET, "encoder.context_length=128",
                                           "data.preprocess_type=none")),
    # the conv encoder (trained with the projector; docs/encoders.md), no Stage 1
    "conv-no-stage1": Row(None, ("init_from=null", *CONV)),
    # the recommended configuration while it read the frozen random-init Chronos-T5, and its ablations
    "chronos": Row("chronos", CHRONOS),
    "chronos-no-stage1": Row(None, ("init_from=null", *CHRONOS)),
    "chronos-no-text": Row("chronos", (*CHRONOS, "data.preprocess_type=none")),
}
# the paper's UCI-HAR F1-macro (Tables 2, 3) beside the recommended row and its ablations
PAPER = {"rocket": 91.2, "rocket-no-stage1": 82.0, "rocket-no-text": 89.2}


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "sensorllm.cli.main", *args]


def plan(row: str, seed: int, args) -> list[tuple[str, list[str], Path]]:
    """The commands of one row and seed: (what, command, the directory whose presence means it is done)."""
    base = args.out / args.tag
    common = [f"data.prepared={args.data}", f"run.seed={seed}", f"run.threads={args.threads}", *args.set]
    s2 = base / row / f"seed{seed}"
    steps: list[tuple[str, list[str], Path]] = []
    spec = ROWS[row]
    s1 = stage1_dir(spec, seed, args)
    if s1 is not None:
        s1_overrides = STAGE1[spec.stage1][1]
        steps.append(("stage 1", cli("align", "--config", f"{CFG}/stage1.yaml", *common, f"run.out_dir={s1}",
                                     f"data.max_train_examples={args.stage1_examples}", *s1_overrides, *args.set1),
                      s1 / "metrics.json"))
    steps.append(("stage 2", cli("tune", "--config", f"{CFG}/stage2.yaml", *common, f"run.out_dir={s2}",
                                 f"optim.epochs={args.epochs}", f"data.max_val_examples={args.val}",
                                 *([f"init_from={s1 / 'model'}"] if s1 is not None else []), *spec.overrides),
                  s2 / "train_summary.json"))
    steps.append(("test", cli("evaluate", "--model", str(s2), "--data", str(args.data), "--split", "test",
                              "--batch-size", "16"), s2 / "eval-test" / "metrics.json"))
    return steps


def stage1_dir(spec: Row, seed: int, args) -> Path | None:
    """The Stage-1 run a row starts from (shared by the rows naming the same Stage 1), or None."""
    return None if spec.stage1 is None else args.out / args.tag / f"{STAGE1[spec.stage1][0]}-seed{seed}"


def record(row: str, seed: int, args, steps) -> dict:
    s2 = args.out / args.tag / row / f"seed{seed}"
    test = json.loads((s2 / "eval-test" / "metrics.json").read_text())
    summary = json.loads((s2 / "train_summary.json").read_text())
    curve = read_csv_floats(s2 / "val_log.csv")
    config = yaml.safe_load((s2 / "config.yaml").read_text())
    optim = config["optim"]
    s1_time = 0.0
    if (s1_dir := stage1_dir(ROWS[row], seed, args)) is not None:
        s1_time = json.loads((s1_dir / "metrics.json").read_text())["train_time_s"]
    return {"row": row, "seed": seed, "tag": args.tag, "date": dt.date.today().isoformat(),
            "test_f1_macro": test["f1_macro"], "test_accuracy": test["accuracy"], "test_n": test["n"],
            "per_class_f1": {k: v["f1"] for k, v in test["per_class"].items()},
            "best_val_f1_macro": summary.get("best_val_f1_macro"), "best_step": summary["best_step"],
            "steps": summary["steps"], "windows_per_step": optim["batch_size"] * optim["grad_accum"],
            "val_curve": curve, "stage1_train_time_s": s1_time,
            "stage2_train_time_s": summary["train_time_s"], "device": summary.get("device"),
            "epochs": args.epochs, "stage1_examples": args.stage1_examples if ROWS[row].stage1 else 0,
            "encoder": encoder_name(config["encoder"]),
            "commands": [" ".join(["sensorllm", *c[3:]]) for _, c, _ in steps]}


def encoder_name(encoder: dict) -> str:
    """The encoder column: its kind, and whether it trained (records made before this field: frozen Chronos-T5)."""
    kind = encoder.get("kind", "chronos")
    if kind == "rocket":  # fitted on training windows, never trained
        return "rocket (fitted)"
    return f"{kind} ({'trained' if encoder.get('trainable') else 'frozen'})"


def record_path(tag: str, row: str, seed: int) -> Path:
    return RECORDS / tag / row / f"seed{seed}.json"


def write_doc() -> None:
    """The recommended-configuration table of docs/results.md (between its markers), from every record."""
    lines = ["| budget (tag) | row | encoder | seeds | test F1-macro (%) | test accuracy (%) | test windows "
             "| Stage-2 epochs | Stage-1 QA pairs | train time (s, Stage 1 + 2) | device | paper F1 (%) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for tag_dir in sorted(RECORDS.glob("*")):
        for row in ROWS:
            recs = [json.loads(p.read_text()) for p in sorted((tag_dir / row).glob("seed*.json"))]
            if not recs:
                continue
            f1 = [100 * r["test_f1_macro"] for r in recs]
            acc = [100 * r["test_accuracy"] for r in recs]

            def ms(v: list[float]) -> str:
                m = sum(v) / len(v)
                sd = (sum((x - m) ** 2 for x in v) / (len(v) - 1)) ** 0.5 if len(v) > 1 else 0.0
                return f"{m:.1f} ± {sd:.1f}" if len(v) > 1 else f"{m:.1f}"

            t = sum(r["stage1_train_time_s"] + r["stage2_train_time_s"] for r in recs) / len(recs)
            seeds = ", ".join(str(r["seed"]) for r in recs)
            enc = recs[0].get("encoder", "chronos (frozen)")
            enc = "rocket (fitted)" if enc == "rocket (frozen)" else enc  # the cpu-1ep records' older label
            lines.append(f"| {tag_dir.name} | `{row}` | {enc} | {seeds} | {ms(f1)} | {ms(acc)} | {recs[0]['test_n']} "
                         f"| {recs[0]['epochs']:g} | {recs[0]['stage1_examples']} | {t:.0f} | {recs[0]['device']} "
                         f"| {PAPER.get(row, '')} |")
    replace_between(DOC, "<!-- recommended table -->", "<!-- end recommended table -->", lines)
    curve = ["| budget (tag) | row | seed | windows seen | validation F1-macro |", "|---|---|---|---|---|"]
    for p in sorted(RECORDS.glob("*/*/seed*.json")):
        r = json.loads(p.read_text())
        for c in r["val_curve"]:
            seen = int(c["step"]) * r["windows_per_step"]
            curve.append(f"| {r['tag']} | `{r['row']}` | {r['seed']} | {seen:,} | {c['f1_macro']:.3f} |")
    replace_between(LEARNING_DOC, "<!-- budget -->", "<!-- end budget -->", curve)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", nargs="*", default=list(ROWS), choices=list(ROWS))
    ap.add_argument("--seeds", nargs="*", type=int, default=[0])
    ap.add_argument("--epochs", type=float, default=8.0, help="Stage-2 epochs over all training windows")
    ap.add_argument("--stage1-examples", type=int, default=4000, help="Stage-1 QA pairs (1 epoch)")
    ap.add_argument("--val", type=int, default=300, help="validation windows for model selection")
    ap.add_argument("--tag", default="paper-budget", help="name of this budget in the records and the table")
    ap.add_argument("--data", type=Path, default=ROOT / "runs" / "uci-har" / "data")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "full")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--set", nargs="*", default=[], help="overrides for both stages (KEY=VALUE)")
    ap.add_argument("--set1", nargs="*", default=[], help="overrides for Stage 1 only")
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("--doc-only", action="store_true", help="rewrite the docs/results.md table from the records")
    args = ap.parse_args()
    if not args.doc_only:
        if not args.dry_run:
            ensure_prepared("uci-har", "UCI-HAPT/RawData", args.data, args.out / "prepare.log")
        for seed in args.seeds:
            for row in args.rows:
                if record_path(args.tag, row, seed).exists():
                    print(f"{args.tag} {row} seed {seed}: recorded")
                    continue
                steps = plan(row, seed, args)
                for what, cmd, done in steps:
                    if args.dry_run:
                        print("$", " ".join(cmd))
                    elif not done.exists():
                        log = args.out / args.tag / f"{row}-seed{seed}.log"
                        log.parent.mkdir(parents=True, exist_ok=True)
                        print(f"{row} seed {seed}: {what}", flush=True)
                        run_logged(cmd, log)
                if args.dry_run:
                    continue
                rec = record(row, seed, args, steps)
                record_path(args.tag, row, seed).parent.mkdir(parents=True, exist_ok=True)
                record_path(args.tag, row, seed).write_text(json.dumps(rec, indent=1) + "\n")
                print(f"{row} seed {seed}: test F1-macro {rec['test_f1_macro']:.3f} on {rec['test_n']} windows",
                      flush=True)
    if not args.dry_run:
        write_doc()


if __name__ == "__main__":
    main()
