"""The frozen-feature probe against pre-training steps.

One sitting of this script:

1. prepares UCI-HAR once (``runs/uci-har/data``; the scored dataset);
2. probes every snapshot of the pre-training that has no record yet (a previous sitting's);
3. unless the curve is done, runs ONE sitting of ``sensorllm pretrain-encoder`` (``run.max_time_s`` =
   ``--sitting-s``; it resumes from its newest checkpoint, so the same command continues the run) with
   ``run.snapshot_every`` set, so the model alone is kept every N steps (and at step 0);
4. probes the new snapshots: the paper's Chronos+MLP (the ``chronos-mlp`` baseline, exactly as
   ``sensorllm baseline chronos-mlp --model-arg pretrained=<snapshot>`` fits it; the snapshot's own mean-scaling
   tokeniser) fitted on the training windows, its epoch chosen on the VALIDATION windows, scored on the
   validation windows only (the test windows are not read);
5. when the curve is done (the pre-training finished or stopped on its validation loss, or ``--patience``
   probed snapshots in a row brought no better validation F1-macro), scores the TEST split ONCE, with
   ``sensorllm baseline chronos-mlp`` on the snapshot with the best validation F1-macro (earliest on ties);
6. writes ``curve.json`` and ``curve.png`` (probe validation F1-macro and pre-training validation loss
   against steps) and the table of ``docs/learning.md`` ("Pre-training curve"; ``--doc-only`` rewrites it from
   ``curve.json``).

Paths are relative to the repository root. Records (git-tracked, small): ``benchmarks/records/pretrain-curve/<tag>/step-NNNNNN.json`` per probed snapshot,
``test.json`` (the one test score), ``curve.json``, ``curve.png``; ``<tag>`` is the config's file name. The
runs (checkpoints, snapshots, probe and test run directories) are under ``--out``, not in git.

    python benchmarks/pretrain_curve.py --config configs/here/uci-har/pretrain-encoder-all.yaml   # a sitting
    python benchmarks/pretrain_curve.py ... --dry-run            # print the commands only
    python benchmarks/pretrain_curve.py probe --model SNAPSHOT --data DIR --record FILE.json   # one probe

Rerun the same command until it prints ``curve done``; each sitting trains at most ``--sitting-s`` seconds plus
its probes (each embeds the 6,269 training and 1,146 validation windows of UCI-HAR; the test run adds the 2,996
test windows).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import sys
from pathlib import Path

from _common import ROOT, ensure_prepared, replace_between, run_logged, step_of

DEFAULT_CONFIG = "configs/here/uci-har/pretrain-encoder-all.yaml"
RECORDS = Path("benchmarks/records/pretrain-curve")  # relative to the repository root (main() goes there)
PROBE = "chronos-mlp"
DOC = Path("docs/learning.md")  # its table between the pre-training curve markers
MARKERS = ("<!-- pretrain curve -->", "<!-- end pretrain curve -->")


# ---- one probe (the `probe` subcommand) ------------------------------------------------------------------


def probe(model: Path, data: Path, record: Path, run_dir: Path, seed: int, threads: int) -> dict:
    """Fit ``chronos-mlp`` on ``model``'s frozen features of the training windows (epoch chosen on the
    validation windows; its ``val_history.csv`` goes to ``run_dir``) and write its validation scores to
    ``record``; the test split is not read."""
    from sensorllm.baselines import get_baseline
    from sensorllm.baselines.config import command_line, resolve_config
    from sensorllm.baselines.fit import fit_features
    from sensorllm.baselines.splits import load_splits
    from sensorllm.datasets import open_prepared

    ds = open_prepared(data)
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg = resolve_config(PROBE, str(data), str(run_dir), seed=seed, threads=threads,
                         model_args={"pretrained": str(model)})
    splits = load_splits(ds, cfg, need_val=True, with_test=False)
    train = splits.train
    _, _, extras = fit_features(get_baseline(PROBE), cfg, ds, splits, run_dir, print)
    meta = json.loads((model / "config.json").read_text()).get("sensorllm_pretrain", {})
    rec = {
        "step": meta.get("step", step_of(model.name) if model.name.startswith("step-") else None),
        "split": "val", "val_f1_macro": extras["val_f1_macro"], "val_accuracy": extras["val_accuracy"],
        "pretrain_val_loss": meta.get("val_loss"), "model": str(model), "data": str(data), "seed": seed,
        "train_windows": len(train[1]), "val_windows": len(splits.val[1]),  # type: ignore[index]
        "best_epoch": extras.get("best_epoch"), "epochs_run": extras.get("epochs_run"),
        "fit_time_s": extras["train_time_s"], "embed_time_s": extras.get("embed_time_s"),
        "threads": threads, "baseline_command": command_line(cfg), "date": dt.date.today().isoformat(),
    }
    record.parent.mkdir(parents=True, exist_ok=True)
    tmp = record.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(rec, indent=1) + "\n")
    tmp.replace(record)
    print(f"step {rec['step']}: validation F1-macro {rec['val_f1_macro']:.4f} -> {record}", flush=True)
    return rec


# ---- the curve -------------------------------------------------------------------------------------------


def records_dir(args: argparse.Namespace) -> Path:
    return Path(args.records) if args.records else RECORDS / Path(args.config).stem


def snapshots(out: Path) -> list[Path]:
    d = out / "pretrain" / "snapshots"
    return sorted(p for p in d.glob("step-*") if p.is_dir() and (p / "config.json").exists()) if d.is_dir() else []


def curve_points(recs: Path) -> list[dict]:
    return sorted((json.loads(p.read_text()) for p in recs.glob("step-*.json")), key=lambda r: r["step"])


def best_point(points: list[dict]) -> dict | None:
    """The point with the best validation F1-macro (the earliest on ties)."""
    return max(points, key=lambda r: (r["val_f1_macro"], -r["step"])) if points else None


def pretrain_state(out: Path) -> dict:
    p = out / "pretrain" / "pretrain_summary.json"
    return json.loads(p.read_text()) if p.exists() else {}


def done_reason(points: list[dict], state: dict, patience: int) -> str | None:
    """Why the curve is finished (None: not yet): the pre-training reached its last step or stopped on its
    validation loss, or ``patience`` probed snapshots after the best brought no better validation F1."""
    if state.get("stopped_by_patience"):
        return f"pre-training stopped on its validation loss at step {state['steps']}"
    if state and state.get("steps", 0) >= state.get("max_steps", float("inf")):
        return f"pre-training finished ({state['steps']} steps)"
    best = best_point(points)
    if best is not None and sum(1 for r in points if r["step"] > best["step"]) >= patience:
        return (f"{patience} probed snapshots after step {best['step']} brought no better validation "
                "F1-macro")
    return None


def pretrain_command(args: argparse.Namespace) -> list[str]:
    cmd = [sys.executable, "-m", "sensorllm.cli.main", "pretrain-encoder", "--config", args.config,
           f"data.prepared={args.data}", f"run.out_dir={args.out / 'pretrain'}",
           f"run.max_time_s={args.sitting_s:g}", f"run.threads={args.threads}", f"run.device={args.device}"]
    if args.snapshot_every:
        cmd.append(f"run.snapshot_every={args.snapshot_every}")
    return cmd + list(args.set)


def probe_command(snap: Path | str, args: argparse.Namespace) -> list[str]:
    name = Path(snap).name
    return [sys.executable, "benchmarks/pretrain_curve.py", "probe", "--model", str(snap), "--data", str(args.data),
            "--record", str(records_dir(args) / f"{name}.json"), "--run-dir", str(args.out / "probes" / name),
            "--seed", str(args.seed), "--threads", str(args.threads)]


def score_command(snap: Path | str, args: argparse.Namespace) -> list[str]:
    return [sys.executable, "-m", "sensorllm.cli.main", "baseline", PROBE, "--data", str(args.data),
            "--out", str(args.out / f"test-{Path(snap).name}"), "--seed", str(args.seed),
            "--threads", str(args.threads), "--model-arg", f"pretrained={snap}"]


def probe_missing(args: argparse.Namespace) -> None:
    recs = records_dir(args)
    for snap in snapshots(args.out):
        if not (recs / f"{snap.name}.json").exists():
            run_logged(probe_command(snap, args), args.out / "probe.log")


def score_test_once(best: dict, reason: str, args: argparse.Namespace) -> None:
    """The test split, once: for the snapshot chosen on validation; a second call only reports it."""
    recs = records_dir(args)
    test = recs / "test.json"
    if test.exists():
        old = json.loads(test.read_text())
        print(f"test already scored once, at step {old['step']} (F1-macro {old['f1_macro']:.4f}); not again",
              flush=True)
        return
    snap = Path(best["model"])
    cmd = score_command(snap, args)
    run_logged(cmd, args.out / "test.log")
    metrics = json.loads((args.out / f"test-{snap.name}" / "metrics.json").read_text())
    rec = {"step": best["step"], "chosen_on": "validation F1-macro of the probe", "stop_reason": reason,
           "val_f1_macro": best["val_f1_macro"], "f1_macro": metrics["f1_macro"], "accuracy": metrics["accuracy"],
           "metrics": metrics, "command": shlex.join(["sensorllm", *cmd[3:]]), "date": dt.date.today().isoformat()}
    test.write_text(json.dumps(rec, indent=1) + "\n")
    print(f"test (once) at step {best['step']}: F1-macro {rec['f1_macro']:.4f} -> {test}", flush=True)


def write_curve(args: argparse.Namespace, reason: str | None) -> None:
    """``curve.json`` and ``curve.png`` from the probe records and the pre-training's validation curve."""
    recs = records_dir(args)
    points = curve_points(recs)
    if not points:
        return
    state = pretrain_state(args.out)
    best = best_point(points)
    test = json.loads((recs / "test.json").read_text()) if (recs / "test.json").exists() else None
    doc = {"config": args.config, "probe": f"{PROBE} (frozen features, epoch chosen on validation)",
           "points": [{k: r[k] for k in ("step", "val_f1_macro", "val_accuracy", "pretrain_val_loss")}
                      for r in points],
           "best_step": best["step"] if best else None, "done": reason,
           "pretrain_val_curve": state.get("val_curve", []), "pretrain_steps": state.get("steps"),
           "pretrain_train_time_s": state.get("train_time_s"), "sources": state.get("sources"),
           "test": None if test is None else {k: test[k] for k in ("step", "f1_macro", "accuracy")}}
    (recs / "curve.json").write_text(json.dumps(doc, indent=1) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot([p["step"] for p in points], [100 * p["val_f1_macro"] for p in points], "o-", color="C0",
            label="Chronos+MLP probe, validation F1-macro")
    if best is not None:
        ax.axvline(best["step"], color="C0", ls=":", lw=1)
    ax.set_xlabel("pre-training step")
    ax.set_ylabel("probe validation F1-macro (%)", color="C0")
    if doc["pretrain_val_curve"]:
        ax2 = ax.twinx()
        s, v = zip(*doc["pretrain_val_curve"])
        ax2.plot(s, v, ".-", color="C1", label="pre-training validation loss")
        ax2.set_ylabel("pre-training validation loss (nats / target token)", color="C1")
    title = f"{Path(args.config).stem}: frozen-feature probe"
    if test is not None:
        title += f" (test, once, step {test['step']}: F1 {100 * test['f1_macro']:.1f})"
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(recs / "curve.png", dpi=110)
    plt.close(fig)
    print(f"wrote {recs / 'curve.json'} and curve.png", flush=True)


def write_doc(recs: Path, doc_path: Path = DOC) -> None:
    """The curve's table in ``doc_path`` (between ``MARKERS``), from ``recs/curve.json`` alone."""
    doc = json.loads((recs / "curve.json").read_text())
    losses = dict((int(s), v) for s, v in doc["pretrain_val_curve"])
    lines = [f"`python benchmarks/pretrain_curve.py --config {doc['config']}` (each call pre-trains for `--sitting-s` "
             f"seconds and resumes where the last stopped; `--doc-only` rewrites this table from `{recs}/curve.json`). Probe: {doc['probe']}, on the "
             "validation windows; the pre-training's own validation loss is on the same validation subjects.", "",
             "| pre-training step | pre-training validation loss | probe validation F1-macro | "
             "probe validation accuracy |", "|---|---|---|---|"]
    for pt in doc["points"]:
        loss = pt["pretrain_val_loss"] if pt["pretrain_val_loss"] is not None else losses.get(pt["step"])
        best = " (best)" if pt["step"] == doc["best_step"] else ""
        lines.append(f"| {pt['step']:,}{best} | {'n/a' if loss is None else f'{loss:.3f}'} | "
                     f"{100 * pt['val_f1_macro']:.1f} | {100 * pt['val_accuracy']:.1f} |")
    lines.append("")
    steps = doc.get("pretrain_steps")
    if doc["done"]:
        lines.append(f"Done: {doc['done']}.")
    else:
        lines.append(f"Not done: the pre-training is at step {steps if steps is not None else 'n/a'}; "
                     "the test split is scored once the curve is done.")
    if doc.get("test"):
        t = doc["test"]
        lines.append(f"Test (once, the snapshot of step {t['step']:,}, chosen on validation): F1-macro "
                     f"{100 * t['f1_macro']:.1f}, accuracy {100 * t['accuracy']:.1f}.")
    replace_between(doc_path, *MARKERS, lines)


def dry_run(args: argparse.Namespace) -> None:
    recs = records_dir(args)
    if not (args.data / "manifest.json").exists():
        print("$", shlex.join([sys.executable, "-m", "sensorllm.cli.main", "prepare", "uci-har", "--raw",
                               "../shared/datasets/UCI-HAPT/RawData", "--out", str(args.data), "-q"]))
    for snap in snapshots(args.out):
        if not (recs / f"{snap.name}.json").exists():
            print("$", shlex.join(probe_command(snap, args)))
    print("$", shlex.join(pretrain_command(args)))
    new = args.out / "pretrain" / "snapshots" / "step-NNNNNN"
    print("# then, for each new snapshot:")
    print("$", shlex.join(probe_command(new, args)))
    print("# once the curve is done, the test split once, at the snapshot chosen on validation:")
    print("$", shlex.join(score_command(new, args)))
    print(f"# records: {recs}/step-NNNNNN.json, test.json, curve.json, curve.png")


def sitting(args: argparse.Namespace) -> None:
    recs = records_dir(args)
    ensure_prepared("uci-har", "UCI-HAPT/RawData", args.data, args.out / "prepare.log")
    probe_missing(args)
    reason = done_reason(curve_points(recs), pretrain_state(args.out), args.patience)
    if reason is None and not args.skip_pretrain:
        run_logged(pretrain_command(args), args.out / "pretrain.log")
        probe_missing(args)
        reason = done_reason(curve_points(recs), pretrain_state(args.out), args.patience)
    if reason is not None and not args.no_test:
        best = best_point(curve_points(recs))
        if best is not None:
            score_test_once(best, reason, args)
    write_curve(args, reason)
    if (recs / "curve.json").exists():
        write_doc(recs)
    state = pretrain_state(args.out)
    best = best_point(curve_points(recs))
    print(f"pre-training at step {state.get('steps')} of {state.get('max_steps')}; best probe validation "
          f"F1-macro {best['val_f1_macro']:.4f} at step {best['step']}" if best else "no probe yet", flush=True)
    print(f"curve done: {reason}" if reason else "curve not done: run the same command again", flush=True)


def main(argv: list[str] | None = None) -> None:
    """Paths are relative to the repository root (the commands run there)."""
    os.chdir(ROOT)
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["probe"]:
        ap = argparse.ArgumentParser(prog="pretrain_curve.py probe", description=probe.__doc__)
        ap.add_argument("--model", type=Path, required=True, help="a snapshot (or any pretrain-encoder model dir)")
        ap.add_argument("--data", type=Path, required=True, help="the prepared scored dataset")
        ap.add_argument("--record", type=Path, required=True, help="the JSON record to write")
        ap.add_argument("--run-dir", type=Path, required=True, help="where the MLP's val_history.csv goes")
        ap.add_argument("--seed", type=int, default=0)
        ap.add_argument("--threads", type=int, default=1)
        a = ap.parse_args(argv[1:])
        probe(a.model, a.data, a.record, a.run_dir, a.seed, a.threads)
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default=DEFAULT_CONFIG, help=f"pre-training config (default {DEFAULT_CONFIG})")
    ap.add_argument("--data", type=Path, default=Path("runs/uci-har/data"), help="the prepared scored dataset")
    ap.add_argument("--out", type=Path, default=Path("runs/pretrain-curve"),
                    help="runs: pretrain/ (checkpoints, snapshots), probe and test run directories")
    ap.add_argument("--records", default=None, help="records folder (default benchmarks/records/pretrain-curve/"
                                                    "<config name>)")
    ap.add_argument("--sitting-s", type=float, default=3600, help="pre-training seconds in this sitting")
    ap.add_argument("--snapshot-every", type=int, default=None,
                    help="steps between probed snapshots (default: the config's run.snapshot_every)")
    ap.add_argument("--patience", type=int, default=3,
                    help="probed snapshots after the best without a better validation F1-macro before the curve "
                         "stops (default 3)")
    ap.add_argument("--seed", type=int, default=0, help="the probe's MLP seed")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="auto", help="the pre-training's run.device (the probe's encoder: auto)")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="pre-training config overrides")
    ap.add_argument("--skip-pretrain", action="store_true", help="only probe the snapshots there are")
    ap.add_argument("--no-test", action="store_true", help="never score the test split")
    ap.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    ap.add_argument("--doc-only", action="store_true", help=f"rewrite the table of {DOC} from curve.json")
    args = ap.parse_args(argv)
    if args.doc_only:
        write_doc(records_dir(args))
    elif args.dry_run:
        dry_run(args)
    else:
        sitting(args)


if __name__ == "__main__":
    main()
