"""`sensorllm predict` on a long real recording: real-time factor end to end, and one window's latency.

The recording is real: consecutive raw UCI-HAPT experiments (acc g + gyro rad/s, 50 Hz, 6 channels) joined
until it lasts ``--minutes``, written as the CSV a user would pass. The models are Stage-2 model
directories (``--model``, several timed one after the other in one run), and ``untrained`` (the default): an
UNTRAINED model built from ``--config`` (the recommended configuration) and saved with the metadata ``sensorllm
tune`` writes; speed does not depend on the weight values, and it scores in the precision its configuration
trains in.

    python benchmarks/bench_predict.py --minutes 30
    python benchmarks/bench_predict.py --model untrained runs/full/cpu-2ep/rocket-no-stage1/seed0

Times the CLI in a child process (``sensorllm predict --model M rec.csv --out pred.csv``: import, model load,
reading, text, encoder, LLM, writing), then, in this process, the same prediction (``read_input`` +
``predict_input``) on one window (median of ``--repeats``). Writes ``benchmarks/records/performance/predict.json``
and the table between the markers of ``docs/performance.md`` (``--doc-only`` rewrites the table from the record).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import ROOT, add_timing_args, ensure_prepared, hapt_experiment, replace_between

RECORD = ROOT / "benchmarks" / "records" / "performance" / "predict.json"
DOC = ROOT / "docs" / "performance.md"


def untrained_model(out: Path, config: str, overrides: list[str], data: Path) -> Path:
    """An untrained Stage-2 model of ``config``'s shape, saved with ``sensorllm tune``'s metadata."""
    from sensorllm.model.checkpoint import save_checkpoint
    from sensorllm.train.common import build_model, checkpoint_extra, open_data
    from sensorllm.train.config import Stage2Config, load_config

    cfg = load_config(Stage2Config, ROOT / config, [f"data.prepared={data}", "init_from=null",
                                                     f"run.out_dir={out}", f"run.cache_dir={out / 'cache'}",
                                                     *overrides])
    ds = open_data(cfg)
    model = build_model(cfg, ds, labels=True)
    save_checkpoint(model, out / "model", extra={**checkpoint_extra(cfg, ds, "stage2", init_from=None),
                                                 "note": "untrained, for speed measurements only"})
    return out / "model"


def long_recording(raw: Path, minutes: float, path: Path) -> tuple[Path, list[str], int]:
    """Raw UCI-HAPT experiments joined in order until ``minutes`` long, as a CSV named by channel."""
    from sensorllm.datasets import get_dataset_spec

    spec = get_dataset_spec("uci-har")
    need = int(minutes * 60 * spec.rate_hz)
    parts, used, n = [], [], 0
    for acc in sorted(raw.glob("acc_exp*.txt.gz")):
        exp = acc.name[len("acc_"):-len(".txt.gz")]
        x = hapt_experiment(raw, exp)
        parts.append(x)
        used.append(exp)
        n += len(x)
        if n >= need:
            break
    if n < need:
        raise SystemExit(f"{raw}: only {n / spec.rate_hz / 60:.1f} min of recordings, {minutes} asked")
    x = np.concatenate(parts)[:need]
    pd.DataFrame(x, columns=[c.name for c in spec.channels]).to_csv(path, index=False)
    return path, used, len(x)


def write_doc(rec: dict) -> None:
    lines = [f"`{rec['command']}` ({rec['date']}; {rec['threads']} threads; {rec['note']})", "",
             "| model | precision | `--workers` | recording | windows (stride) | `sensorllm predict` wall time "
             "| real-time factor | one window (median) |", "|---|---|---|---|---|---|---|---|"]
    for r in rec["rows"]:
        resolved = "bf16 autocast" if r.get("resolved") == "bf16" else "fp32"
        prec = f"{r['precision']} ({resolved})" if r["precision"] == "auto" else resolved
        lines.append(f"| {r['model']} | {prec} | {r.get('workers', 1)} | {r['minutes']:g} min of UCI-HAPT ({len(r['experiments'])} "
                     f"experiments) | {r['windows']:,} ({r['stride']}) | {r['cli_wall_s']:.1f} s | "
                     f"**{r['realtime_factor']:.1f}×** | {1000 * r['one_window_s']:.0f} ms |")
    replace_between(DOC, "<!-- predict table -->", "<!-- end predict table -->", lines)


def time_model(model_dir: Path, label: str, recording: tuple[Path, list[str], int], tmp: Path,
               args: argparse.Namespace) -> list[dict]:
    """One model's rows: the median latency of one window in this process, and ``sensorllm predict`` on the
    whole ``recording`` (path, experiments, samples) in a child process, for each precision and worker count."""
    from sensorllm.infer.artifact import load_sensorllm
    from sensorllm.infer.sensorllm import SensorLLMClassifier
    from sensorllm.infer.stage2 import training_precision
    from sensorllm.serve.predict import predict_input
    from sensorllm.serve.recording import read_input

    def predict_one(precision: str):  # what `sensorllm predict` does with a loaded model, on one window
        clf = SensorLLMClassifier(model, meta, precision)
        info = clf.info
        inp = read_input(one, info.channel_names, info.class_names, class_codes=info.class_codes)
        return predict_input(clf, inp, None, 8).frame

    rec_path, used, n = recording
    model, meta = load_sensorllm(model_dir, "cpu")
    window, rate = int(meta["extra"]["window"]), float(meta["extra"]["rate_hz"])
    seconds = n / rate
    one = tmp / "one.csv"
    pd.read_csv(rec_path, nrows=window).to_csv(one, index=False)
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    rows = []
    for precision in args.precision:
        predict_one(precision)  # warm-up
        lat = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            predict_one(precision)
            lat.append(time.perf_counter() - t)
        resolved = "bf16" if training_precision(meta["extra"], precision) == "bf16" else "fp32"
        for workers in args.workers:
            cmd = [sys.executable, "-m", "sensorllm.cli.main", "predict", "--model", str(model_dir), str(rec_path),
                   "--out", str(tmp / "pred.csv"), "--batch-size", str(args.batch_size), "--device", "cpu",
                   "--precision", precision, "--workers", str(workers)]
            t = time.perf_counter()
            subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
            wall = time.perf_counter() - t
            windows = len(pd.read_csv(tmp / "pred.csv"))
            row = {"model": label, "precision": precision, "resolved": resolved, "workers": workers,
                   "minutes": seconds / 60, "experiments": used, "windows": windows,
                   "stride": int(meta["extra"]["stride"]), "cli_wall_s": wall,
                   "realtime_factor": seconds / wall, "one_window_s": float(np.median(lat))}
            print(f"{label}, {precision}, {workers} worker(s): {windows} windows of {seconds / 60:.1f} min in "
                  f"{wall:.1f} s = {seconds / wall:.1f}x real time; one window {1000 * row['one_window_s']:.0f} ms",
                  flush=True)
            rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", nargs="+", default=["untrained"],
                    help="Stage-2 model directories, timed one after the other in one run; `untrained`: an "
                    "untrained model of --config's shape (the default)")
    ap.add_argument("--config", default="configs/recommended/uci-har/stage2.yaml")
    ap.add_argument("--set", nargs="*", default=[], help="overrides of --config (KEY=VALUE)")
    ap.add_argument("--data", type=Path, default=ROOT / "runs" / "uci-har" / "data")
    ap.add_argument("--raw", type=Path, default=ROOT.parent / "shared" / "datasets" / "UCI-HAPT" / "RawData")
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--precision", nargs="*", default=["auto"], choices=["auto", "fp32", "bf16"])
    ap.add_argument("--workers", type=int, nargs="*", default=[1],
                    help="`sensorllm predict --workers` values to time (batches scored at once)")
    ap.add_argument("--repeats", type=int, default=5)
    add_timing_args(ap)
    args = ap.parse_args()
    if args.doc_only:
        write_doc(json.loads(RECORD.read_text()))
        return
    import torch

    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        recording = long_recording(args.raw, args.minutes, tmp / "recording.csv")
        for name in args.model:
            if name != "untrained":
                model_dir, label = Path(name), f"`{name}`"
            else:
                ensure_prepared("uci-har", "UCI-HAPT/RawData", args.data, args.data.parent / "prepare.log")
                model_dir = untrained_model(tmp / "untrained", args.config, args.set, args.data)
                label = f"untrained, shape of `{args.config}`" + (f" ({' '.join(args.set)})" if args.set else "")
            rows += time_model(model_dir, label, recording, tmp, args)
    rec = {"date": dt.date.today().isoformat(), "threads": args.threads, "batch_size": args.batch_size,
           "note": args.note, "rows": rows,
           "command": "python benchmarks/bench_predict.py" + (f" --minutes {args.minutes:g}" if args.minutes != 30
                                                              else "")
           + (" --model " + " ".join(args.model) if args.model != ["untrained"] else "")
           + (" --precision " + " ".join(args.precision) if args.precision != ["auto"] else "")
           + (" --workers " + " ".join(map(str, args.workers)) if args.workers != [1] else "")}
    RECORD.parent.mkdir(parents=True, exist_ok=True)
    RECORD.write_text(json.dumps(rec, indent=1) + "\n")
    write_doc(rec)


if __name__ == "__main__":
    main()
