"""Streaming latency and real-time factor of `sensorllm stream` on a replayed UCI-HAPT recording (CPU).

Builds (once) an UNTRAINED Stage-2 model for speed measurements in the shape of ``--config`` (default the
recommended configuration: SmolLM2-135M, 8 layers, random-init Chronos-T5-tiny, k = 16, compact statistics
first), saved with the metadata `sensorllm tune` writes (``checkpoint_extra`` on the prepared UCI-HAR data).
Its labels are meaningless; its speed is that of a trained model of the same shape. Then it cuts the first ``--seconds`` of one raw UCI-HAPT experiment
(acc + gyro, 50 Hz) into a CSV and replays it through :func:`sensorllm.serve.stream_io.replay`, the code behind
`sensorllm stream --replay`, as fast as possible (``--speed 0``) and at real time (``--speed 1``).

    python benchmarks/bench_stream.py --out runs/stream-bench --seconds 120 --realtime-seconds 60

Prints per run: decisions, latency median / p95 / max (ms), processing time (wall and process CPU) and the
real-time factor (signal seconds per processing second), and the equivalent `sensorllm stream` command.
Writes ``benchmarks/records/performance/stream.json`` and the table between the markers of
``docs/streaming.md`` (``--doc-only`` rewrites the table from the record).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from _common import add_timing_args, hapt_experiment, replace_between

from sensorllm.datasets import get_dataset_spec

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "benchmarks" / "records" / "performance" / "stream.json"
DOC = ROOT / "docs" / "streaming.md"


def build_untrained_model(out: Path, data: str, config: str) -> Path:
    """Save an untrained Stage-2 checkpoint of ``config``'s shape to ``out/model``."""
    from sensorllm.model.checkpoint import save_checkpoint
    from sensorllm.train.common import build_model, checkpoint_extra, open_data
    from sensorllm.train.config import Stage2Config, load_config

    model_dir = out / "model"
    if (model_dir / "config.json").is_file():
        return model_dir
    cfg = load_config(Stage2Config, ROOT / config, [f"data.prepared={data}", "init_from=null",
                                                    f"run.out_dir={out}", f"run.cache_dir={out / 'cache'}"])
    ds = open_data(cfg)
    model = build_model(cfg, ds, labels=True)
    save_checkpoint(model, model_dir, extra={**checkpoint_extra(cfg, ds, "stage2", init_from=None),
                                            "note": "untrained, for speed measurements only"})
    return model_dir


def write_recording(raw: Path, exp: str, seconds: float, path: Path) -> Path:
    """The first ``seconds`` of experiment ``exp`` (e.g. ``exp01_user01``) as a CSV named by channel."""
    spec = get_dataset_spec("uci-har")
    x = hapt_experiment(raw, exp)[: int(seconds * spec.rate_hz)]
    pd.DataFrame(x, columns=[c.name for c in spec.channels]).to_csv(path, index=False)
    return path


def write_doc(rec: dict) -> None:
    lines = [f"`{rec['command']}` ({rec['date']}; {rec['threads']} torch thread(s); {rec['note']}; model: untrained, "
             f"shape of `{rec['config']}`; window {rec['window']} samples, hop {rec['hop']} = a decision every "
             f"{rec['hop_s']:g} s)", "",
             "| replay | decisions | latency median | p95 | max | processing (CPU) | real-time factor |",
             "|---|---|---|---|---|---|---|"]
    for r in rec["runs"]:
        s = r["summary"]
        lines.append(f"| `--speed {r['speed']:g}`, {s['signal_s']:.0f} s | {s['decisions']} | "
                     f"{s['latency_median_ms']:.0f} ms | {s['latency_p95_ms']:.0f} ms | {s['latency_max_ms']:.0f} ms | "
                     f"{s['busy_s']:.1f} s ({s['cpu_s']:.1f} s) | {s['real_time_factor']:.1f}× |")
    replace_between(DOC, "<!-- stream table -->", "<!-- end stream table -->", lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "runs" / "stream-bench"))
    ap.add_argument("--config", default="configs/recommended/uci-har/stage2.yaml")
    ap.add_argument("--data", default=str(ROOT / "runs" / "uci-har" / "data"),
                    help="prepared UCI-HAR (for the checkpoint metadata)")
    ap.add_argument("--raw", default=str(ROOT.parent / "shared" / "datasets" / "UCI-HAPT" / "RawData"))
    ap.add_argument("--exp", default="exp01_user01")
    ap.add_argument("--seconds", type=float, default=120.0, help="recording replayed at --speed 0")
    ap.add_argument("--realtime-seconds", type=float, default=60.0,
                    help="its first part replayed at --speed 1 (0 = skip)")
    add_timing_args(ap)
    args = ap.parse_args()
    if args.doc_only:
        write_doc(json.loads(RECORD.read_text()))
        return
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model_dir = build_untrained_model(out, args.data, args.config)
    fast = out / f"{args.exp}_{args.seconds:g}s.csv"
    runs = [(0.0, write_recording(Path(args.raw), args.exp, args.seconds, fast))]
    if args.realtime_seconds > 0:
        rt = out / f"{args.exp}_{args.realtime_seconds:g}s.csv"
        runs.append((1.0, write_recording(Path(args.raw), args.exp, args.realtime_seconds, rt)))

    from sensorllm.infer.artifact import load_sensorllm as load_model
    from sensorllm.serve.stream import StreamClassifier, format_summary
    from sensorllm.serve.stream_io import replay

    t = time.perf_counter()
    model, meta = load_model(model_dir)
    mc = meta["config"]
    print(f"model {model_dir}: {mc['llm']['name']}, Chronos-T5-{mc['encoder']['size']} "
          f"(random-init {meta['encoder']['is_random_init']}), pool k = {mc['projector']['pool']}, "
          f"UNTRAINED; loaded in {time.perf_counter() - t:.1f} s; torch threads {torch.get_num_threads()}; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    StreamClassifier(model, meta).push(np.zeros((int(meta["extra"]["window"]), 6)))  # warm-up
    done = []
    for speed, path in runs:
        clf = StreamClassifier(model, meta)
        print(f"\n$ sensorllm stream --model {model_dir} --replay {path} --speed {speed:g} "
              f"--threads {args.threads}")
        print(f"window {clf.window} samples, hop {clf.hop} samples "
              f"({clf.hop / clf.rate_hz:g} s at {clf.rate_hz:g} Hz)")
        s = replay(clf, path, speed, lambda d: None)
        print(format_summary(s))
        done.append({"speed": speed, "summary": s})
    rec = {"date": dt.date.today().isoformat(), "threads": args.threads, "note": args.note, "config": args.config,
           "window": clf.window, "hop": clf.hop, "hop_s": clf.hop / clf.rate_hz, "runs": done,
           "command": f"python benchmarks/bench_stream.py --seconds {args.seconds:g} "
                      f"--realtime-seconds {args.realtime_seconds:g}"}
    RECORD.parent.mkdir(parents=True, exist_ok=True)
    RECORD.write_text(json.dumps(rec, indent=1) + "\n")
    write_doc(rec)


if __name__ == "__main__":
    main()
