"""Learning proxy: does a Stage-2 variant learn, and how fast? (issue "Make SensorLLM learn").

Every variant trains Stage 2 from scratch (no Stage 1, so only the classification path is measured) on the
same seeded UCI-HAR subsets: 2,000 training and 300 validation windows, a fixed number of windows seen
(default 150 steps of batch 8 = 1,200), validation F1-macro and loss every 50 steps. Variants are config
overrides on top of ``configs/here/uci-har/stage2.yaml``, so each row can be rerun by hand with
``sensorllm tune``. Random-init Chronos-T5-tiny (no pretrained weights here) and SmolLM2-135M-Instruct.

    python benchmarks/learning_proxy.py                       # every variant, seed 0; then docs/learning.md
    python benchmarks/learning_proxy.py --only recommended --seeds 0 1 2
    python benchmarks/learning_proxy.py --dry-run             # print the commands only

Each finished run is copied to ``benchmarks/records/learning/<variant>/seed<N>.json`` (validation curve,
seconds per training sample, the command), so a fresh checkout rebuilds the table without rerunning, and an
interrupted run resumes from its checkpoint (``runs/proxy/<variant>/seed<N>``). A run too long for one sitting can
keep its newest checkpoint in git (``--save-partial`` writes ``benchmarks/records/learning/<variant>/partial-seed<N>``);
the same command on a fresh checkout resumes from it, and the kept checkpoint is removed once the record is written.
"""

from __future__ import annotations

import argparse
import datetime as dt
import csv
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from _common import ROOT, checkpoint_step, ensure_prepared, read_csv_floats, replace_between, run_logged, step_of

RECORDS = ROOT / "benchmarks" / "records" / "learning"
DOC = ROOT / "docs" / "learning.md"
BASE_CONFIG = "configs/here/uci-har/stage2.yaml"


@dataclass(frozen=True)
class Variant:
    """A row: config overrides on top of the base config, and what it changes, in words."""

    overrides: tuple[str, ...]
    what: str


MEAN_SCALE = ("encoder.tokenizer.kind=mean_scale",)
RECOMMENDED = (
    *MEAN_SCALE, "projector.normalize=true", "stage2_layout=text_first", "data.preprocess_type=stats",
    "head_input=last+channel_mean", "head_standardize=true", "head_stats_windows=256", "llm.num_layers=8",
    "projector.pool=16",
)


def _without(*keys: str, add: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The recommended overrides less those whose key is in ``keys``, plus ``add``."""
    return tuple(o for o in RECOMMENDED if o.split("=")[0] not in keys) + add


# The two old rows, the recommended configuration, and the recommended configuration with one of its parts
# taken back at a time (what each part is worth, at the recommended configuration's cheap step).
VARIANTS: dict[str, Variant] = {
    "old-default": Variant((), "`configs/here` Stage 2 as it was: paper tokeniser (z-normalised), statistics with "
                               "up to 8 decimals + question after the sensor block, pool 8, last-token head"),
    "paper-layout": Variant(("projector.pool=1", "optim.batch_size=4", "optim.grad_accum=2"),
                            "old default at k = 1 (one sensor token per sample): the paper's layout, as "
                            "`bench_cost.py` times it; batch 4 × 2 accumulation steps (memory), same windows seen"),
    "mean-scale": Variant(MEAN_SCALE, "old default with Chronos' mean-scaling tokeniser (keeps the gravity offset)"),
    "recommended": Variant(RECOMMENDED, "mean scaling, projector normalisation, text first, compact statistics, "
                                        "head on last token + channel means (standardised), 8 layers, pool 16"),
    "rec-paper-tokeniser": Variant(_without("encoder.tokenizer.kind"), "recommended, paper's z-normalising tokeniser"),
    "rec-no-normalize": Variant(_without("projector.normalize"), "recommended, no projector normalisation"),
    "rec-paper-layout": Variant(_without("stage2_layout"), "recommended, text after the sensor block (paper)"),
    "rec-last-head": Variant(_without("head_input"), "recommended, head on the last token only (paper)"),
    "rec-raw-head": Variant(_without("head_standardize", "head_stats_windows"), "recommended, head not standardised"),
    "rec-no-text": Variant(_without("data.preprocess_type", add=("data.preprocess_type=none",)),
                           "recommended, no statistics text"),
    "rec-paper-text": Variant(_without("data.preprocess_type", add=("data.preprocess_type=smry+Q",)),
                              "recommended, the paper's statistics (8 decimals) + question"),
    "rec-layers4": Variant(_without("llm.num_layers", add=("llm.num_layers=4",)), "recommended, 4 LLM layers"),
    "rec-layers16": Variant(_without("llm.num_layers", add=("llm.num_layers=16",)), "recommended, 16 LLM layers"),
    "rec-layers30": Variant(_without("llm.num_layers"), "recommended, all 30 LLM layers"),
    "rec-pool8": Variant(_without("projector.pool"), "recommended, pool 8"),
    "rec-no-clip": Variant((*RECOMMENDED, "optim.grad_clip=0"), "recommended, no gradient clipping (1.0 before)"),
    "rec-bf16": Variant((*RECOMMENDED, "run.mixed_precision=bf16"),
                        "recommended, bf16 autocast (CPU): forward and backward in bfloat16, weights fp32"),
    # encoders that learn (docs/encoders.md): each trains with the projector in Stage 2
    "rec-conv": Variant(_without("encoder.tokenizer.kind", "projector.pool",
                                 add=("encoder.kind=conv", "encoder.trainable=true", "projector.pool=1")),
                        "recommended with the `conv` encoder (1-D CNN per channel, trained; one token per 16 samples, "
                        "pool 1) instead of the frozen Chronos-T5"),
    "rec-raw-patch": Variant(_without("encoder.tokenizer.kind", "projector.pool",
                                      add=("encoder.kind=raw-patch", "encoder.trainable=true", "projector.pool=1")),
                             "recommended with the `raw-patch` encoder (linear patches of 16 samples, trained; pool 1)"),
    "rec-rocket": Variant(_without("encoder.tokenizer.kind", "projector.pool",
                                   add=("encoder.kind=rocket", "encoder.context_length=128", "projector.pool=1")),
                          "recommended with the `rocket` encoder (MiniRocket features of each channel, fitted on "
                          "training windows, not trained; 4 tokens per channel, pool 1)"),
    "rec-trainable": Variant((*RECOMMENDED, "encoder.trainable=true"),
                             "recommended, Chronos-T5 trained too (the projector's learning rate)"),
    "rec-trainable-elr": Variant((*RECOMMENDED, "encoder.trainable=true", "optim.encoder_lr=1e-4"),
                                 "recommended, Chronos-T5 trained too at its own learning rate 1e-4"),
    "rec-bolt-trainable": Variant(_without("encoder.tokenizer.kind", "projector.pool",
                                           add=("encoder.kind=chronos-bolt", "encoder.trainable=true",
                                                "projector.pool=1")),
                                  "recommended with Chronos-Bolt-tiny (patches of 16, pool 1), trained too"),
}


def run_dir(out: Path, name: str, seed: int) -> Path:
    return out / name / f"seed{seed}"


def command(name: str, seed: int, args) -> list[str]:
    v = VARIANTS[name]
    steps = args.windows_seen // args.batch
    return [sys.executable, "-m", "sensorllm.cli.main", "tune", "--config", BASE_CONFIG,
            f"data.prepared={args.data}", "init_from=null", f"data.max_train_examples={args.train}",
            f"data.max_val_examples={args.val}", f"optim.batch_size={args.batch}", "optim.grad_accum=1",
            f"optim.max_steps={steps}", f"run.eval_every={args.eval_every}", f"run.save_every={args.save_every or args.eval_every}",
            f"run.threads={args.threads}", f"run.seed={seed}", "run.log_every=10",
            f"run.out_dir={run_dir(args.out, name, seed)}", *v.overrides]


def read_run(d: Path) -> dict | None:
    """The record of a finished run directory (None while unfinished)."""
    summary = d / "train_summary.json"
    if not summary.exists():
        return None
    s = json.loads(summary.read_text())
    curve = read_csv_floats(d / "val_log.csv")
    train = read_csv_floats(d / "train_log.csv")
    rates = [r["examples_per_s"] for r in train[1:] if r.get("examples_per_s")]  # first row pays the cache fill
    return {"steps": s["steps"], "best_val_f1_macro": s.get("best_val_f1_macro"), "best_step": s["best_step"],
            "val_curve": curve, "train_loss": [[r["step"], r["loss"]] for r in train],
            "s_per_sample": (len(rates) / sum(rates)) if rates else None, "train_time_s": s["train_time_s"],
            "last_train_log": s.get("last_train_log"), "trainable": s.get("trainable")}


def record_path(name: str, seed: int) -> Path:
    return RECORDS / name / f"seed{seed}.json"


def partial_path(name: str, seed: int) -> Path:
    """Where an unfinished run's newest checkpoint is kept in git, so that a fresh checkout resumes it."""
    return RECORDS / name / f"partial-seed{seed}"


def partial_step(name: str, seed: int) -> int | None:
    """The step of the kept checkpoint of an unfinished run (None when there is none)."""
    latest = partial_path(name, seed) / "checkpoints" / "latest"
    return checkpoint_step(latest) if latest.exists() else None


def resume_command(name: str, seed: int, args: argparse.Namespace) -> str:
    """The command that resumes this run with the settings it was started with (kept beside its checkpoint)."""
    return (f"python benchmarks/learning_proxy.py --only {name} --seeds {seed} --train {args.train} --val {args.val} "
            f"--windows-seen {args.windows_seen} --batch {args.batch} --eval-every {args.eval_every} "
            f"--save-every {args.save_every or args.eval_every} --threads {args.threads}")


def save_partial(name: str, seed: int, d: Path, resume: str) -> int | None:
    """Copy run ``d``'s newest complete checkpoint and its logs up to that step into the records, with the
    command (``resume``) that carries it on."""
    latest = d / "checkpoints" / "latest"
    if not latest.exists():
        return None
    ckpt = latest.read_text().strip()
    step = step_of(ckpt)
    dest = partial_path(name, seed)
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(d / "checkpoints" / ckpt, dest / "checkpoints" / ckpt)
    (dest / "checkpoints" / "latest").write_text(ckpt + "\n")
    (dest / "resume.txt").write_text(resume + "\n")
    for log in ("train_log.csv", "val_log.csv"):  # rows past the checkpoint are dropped: the resume redoes them
        if (d / log).exists():
            with open(d / log, newline="") as fh:
                reader = csv.DictReader(fh)
                rows = [r for r in reader if float(r["step"]) <= step]
                fields = reader.fieldnames or []
            with open(dest / log, "w", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=fields)
                w.writeheader()
                w.writerows(rows)
    return step


def restore_partial(name: str, seed: int, d: Path) -> None:
    """Start run ``d`` from the kept checkpoint when it has none of its own (a fresh checkout)."""
    src = partial_path(name, seed)
    if src.is_dir() and not (d / "checkpoints" / "latest").exists():
        shutil.copytree(src, d, dirs_exist_ok=True)
        print(f"{name} seed {seed}: resuming from the kept checkpoint (step {partial_step(name, seed)})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="*", default=None, help=f"variants (default all): {', '.join(VARIANTS)}")
    ap.add_argument("--seeds", nargs="*", type=int, default=[0])
    ap.add_argument("--data", type=Path, default=ROOT / "runs" / "uci-har" / "data")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "proxy")
    ap.add_argument("--train", type=int, default=2000)
    ap.add_argument("--val", type=int, default=300)
    ap.add_argument("--windows-seen", type=int, default=1200)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--save-every", type=int, default=None,
                    help="steps between checkpoints (default: --eval-every); smaller resumes with less lost")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    ap.add_argument("--save-partial", action="store_true",
                    help="copy each unfinished run's newest checkpoint into the records (a later checkout resumes it)")
    ap.add_argument("--doc-only", action="store_true", help="rewrite docs/learning.md from the records only")
    args = ap.parse_args()
    names = args.only or list(VARIANTS)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        ap.error(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    if not args.doc_only:
        if not args.dry_run:
            if not args.save_partial:
                ensure_prepared("uci-har", "UCI-HAPT/RawData", args.data, args.out / "prepare.log")
        for seed in args.seeds:
            for name in names:
                if record_path(name, seed).exists():
                    print(f"{name} seed {seed}: recorded")
                    continue
                cmd = command(name, seed, args)
                if args.dry_run:
                    print("$", " ".join(cmd))
                    continue
                d = run_dir(args.out, name, seed)
                if args.save_partial:
                    step = save_partial(name, seed, d, resume_command(name, seed, args))
                    print(f"{name} seed {seed}: kept checkpoint at step {step}")
                    continue
                d.mkdir(parents=True, exist_ok=True)
                restore_partial(name, seed, d)
                run_logged(cmd, d / "run.log")
                rec = read_run(d)
                if rec is None:
                    raise RuntimeError(f"{d}: finished without train_summary.json")
                rec.update({"variant": name, "seed": seed, "overrides": list(VARIANTS[name].overrides),
                            "command": " ".join(["sensorllm"] + cmd[3:]), "date": dt.date.today().isoformat(),
                            "windows_seen": args.windows_seen, "train_windows": args.train,
                            "val_windows": args.val, "threads": args.threads,
                            "eval_every": args.eval_every})
                record_path(name, seed).parent.mkdir(parents=True, exist_ok=True)
                record_path(name, seed).write_text(json.dumps(rec, indent=1) + "\n")
                shutil.rmtree(partial_path(name, seed), ignore_errors=True)
                print(f"{name} seed {seed}: best validation F1-macro {rec['best_val_f1_macro']:.3f}, "
                      f"{rec['s_per_sample']:.3f} s/sample", flush=True)
    if not (args.dry_run or args.save_partial):
        write_doc()


def _fmt(v: float | None, f: str = ".3f") -> str:
    return "–" if v is None else format(v, f)


def write_doc() -> None:
    """The proxy table of docs/learning.md (between its markers) from every record."""
    rows = []
    for name, v in VARIANTS.items():
        recs = [json.loads(p.read_text()) for p in sorted((RECORDS / name).glob("seed*.json"))]
        if not recs:
            continue
        r0 = recs[0]
        by_step = {int(c["step"]): c.get("f1_macro") for c in r0["val_curve"]}  # a run may validate less often
        curve = " / ".join(_fmt(by_step.get(s), ".2f") for s in (50, 100, 150))
        best = [r["best_val_f1_macro"] for r in recs]
        mean = sum(best) / len(best)
        last = r0.get("last_train_log") or {}
        rows.append(f"| `{name}` | {v.what} | {len(recs)} | {mean:.3f} | {curve} | {_fmt(r0['s_per_sample'], '.3f')} "
                    f"| {_fmt(last.get('grad_norm'), '.2g')} | {_fmt(last.get('sensor_rms_varying'), '.3f')} / "
                    f"{_fmt(last.get('text_rms'), '.3f')} |")
    table = "\n".join([
        "| variant | what changes | seeds | best val F1-macro (mean) | val F1-macro at steps 50 / 100 / 150 (seed 0) "
        "| s per training sample | grad norm (last step) | sensor-token varying RMS / text RMS (last step) |",
        "|---|---|---|---|---|---|---|---|", *rows])
    replace_between(DOC, "<!-- proxy table -->", "<!-- end proxy table -->", [table])


if __name__ == "__main__":
    main()
