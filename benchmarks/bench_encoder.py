"""Encoder throughput: one call per window (the reference way) vs batched calls vs the on-disk embedding cache.

Measured side by side in one run on the same UCI-HAR windows with a seeded random-init Chronos-T5-tiny
(no pretrained weights here; speed does not depend on the weight values).

    python benchmarks/bench_encoder.py --data runs/uci-har/data --windows 256 [--threads 2] [--batch 64]

Prints windows/s for each way and the ratios. Goal (issue 7): the cache makes a second pass >= 20x faster
than recomputing.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time

import numpy as np
import torch

from sensorllm.datasets import open_prepared
from sensorllm.model import EncoderConfig, build_encoder
from sensorllm.model.cache import EmbeddingCache
from sensorllm.utils import resolve_device


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="runs/uci-har/data")
    ap.add_argument("--split", default="val")
    ap.add_argument("--windows", type=int, default=256)
    ap.add_argument("--batch", type=int, default=64, help="windows per batched call")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or auto (the GPU when one is visible)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    ws = open_prepared(args.data).stage2(args.split)
    n = min(args.windows, len(ws))
    wins = torch.as_tensor(np.asarray(ws.windows[:n], dtype=np.float64))  # (n, L, C)
    device = resolve_device(args.device)
    enc = build_encoder(EncoderConfig(size="tiny", seed=0)).eval().to(device)

    def sync() -> None:  # GPU work is asynchronous: wait for it before reading the clock
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    per_window = [list(wins[i].T) for i in range(n)]  # C series per window

    with torch.inference_mode():
        enc.encode(per_window[0])  # warm-up
        t = time.perf_counter()
        for series in per_window:
            enc.encode(series)
        sync()
        t_single = time.perf_counter() - t

        t = time.perf_counter()
        for a in range(0, n, args.batch):
            enc.encode([s for series in per_window[a : a + args.batch] for s in series])
        sync()
        t_batch = time.perf_counter() - t

        root = tempfile.mkdtemp(prefix="embcache-")
        try:
            cache = EmbeddingCache(root, enc.identity())
            flat = [s for series in per_window for s in series]
            t = time.perf_counter()
            cache.get_or_compute(flat, enc.encode)
            t_fill = time.perf_counter() - t
            t = time.perf_counter()
            again = cache.get_or_compute(flat, enc.encode)
            t_hit = time.perf_counter() - t
            ref = enc.encode(flat[:6])
            # the cache returns CPU tensors; compare there (bit-equal on the CPU; on a GPU within kernel tolerance)
            same = (torch.equal if device.type == "cpu" else lambda a, b: torch.allclose(a, b, atol=1e-4, rtol=1e-4))
            assert all(same(a.cpu(), b.cpu()) for a, b in zip(again[:6], ref)), "cache hit differs from recomputation"
        finally:
            shutil.rmtree(root, ignore_errors=True)

    c = wins.shape[2]
    print(f"{n} windows x {c} channels x {wins.shape[1]} samples, torch threads {torch.get_num_threads()}, "
          f"device {torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}, "
          f"Chronos-T5-tiny (random init)")
    for name, sec in (("one call per window", t_single), (f"batched ({args.batch} windows/call)", t_batch),
                      ("cache: first pass (compute + store)", t_fill), ("cache: second pass (hit)", t_hit)):
        print(f"  {name:38s} {n / sec:9.1f} windows/s  ({sec:.2f} s)")
    print(f"ratio batched / per-window: {t_single / t_batch:.2f}x")
    print(f"ratio cache hit / recompute (per-window): {t_single / t_hit:.1f}x; vs batched: {t_batch / t_hit:.1f}x")


if __name__ == "__main__":
    main()
