"""Prediction latency for one window and throughput on a 1-hour recording (CPU, or a GPU with `--device cuda`), through `predict_file`.

Uses a Stage-2 model directory (e.g. the demo's `runs/demo/stage2`). The 1-hour recording is synthesised
by tiling real test windows of the model's dataset to 3600 s at its rate; a shorter `--seconds` is allowed.

    python benchmarks/bench_predict.py --model runs/demo/stage2 --data runs/demo/data --seconds 600

Prints: seconds per window (median of --repeats single-window calls), windows/s and the real-time factor
(recording seconds processed per wall-clock second) on the long recording.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from sensorllm.datasets import open_prepared
from sensorllm.eval.evaluate import load_model
from sensorllm.eval.predict import predict_file


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="runs/demo/stage2")
    ap.add_argument("--data", default="runs/demo/data")
    ap.add_argument("--seconds", type=float, default=3600.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--device", default="cpu", help="cpu, cuda or auto (the GPU when one is visible)")
    args = ap.parse_args()
    model, meta = load_model(args.model, args.device)
    extra = meta["extra"]
    rate, window = float(extra["rate_hz"]), int(extra["window"])
    d = open_prepared(args.data)
    w = np.asarray(d.stage2("test").windows, dtype=np.float64).reshape(-1, len(d.channel_names))
    with tempfile.TemporaryDirectory() as tmp:
        one = Path(tmp) / "one.npz"
        np.savez(one, **{n: w[:window, j] for j, n in enumerate(d.channel_names)})
        predict_file(model, meta, one)  # warm-up
        lat = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            predict_file(model, meta, one)
            lat.append(time.perf_counter() - t)
        n = int(args.seconds * rate)
        reps = -(-n // len(w))
        long = np.tile(w, (reps, 1))[:n]
        path = Path(tmp) / "long.npz"
        np.savez(path, **{c: long[:, j] for j, c in enumerate(d.channel_names)})
        t = time.perf_counter()
        df = predict_file(model, meta, path, batch_size=args.batch_size)
        total = time.perf_counter() - t
    print(f"model {args.model} ({meta['config']['llm']['name']}, pool {meta['config']['projector']['pool']}), "
          f"device {next(model.parameters()).device}, window {window} samples @ {rate:g} Hz")
    print(f"one window: {np.median(lat):.3f} s median over {args.repeats} (min {min(lat):.3f} s)")
    print(f"{args.seconds:.0f} s recording: {len(df)} windows in {total:.1f} s = {len(df) / total:.2f} windows/s, "
          f"real-time factor {args.seconds / total:.1f}x")


if __name__ == "__main__":
    main()
