"""Trend segmentation speed: a plain per-sample Python loop with the reference semantics (the baseline)
against the vectorised :func:`sensorllm.text.segment_batch`.

The baseline follows the reference notebooks: label every consecutive pair increase/decrease/steady, then
merge runs of equal labels into segments (it loops over Python floats, i.e. the fastest plain loop). Both
are run on the same windows; the script asserts that every (window, channel) gets identical segments
(boundaries, trends, start/end values) and prints the speed ratio and windows/s.

    python benchmarks/bench_trend.py                          # synthetic Stage-1-like windows
    python benchmarks/bench_trend.py --data PREPARED_DIR      # a prepared dataset's Stage-1 split
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from sensorllm.text.trend import segment_batch, segment_trends


def reference_segments(x: list[float]) -> list[tuple[int, int, int, float, float]]:
    """Segments ``(start_idx, end_idx, trend, start_value, end_value)`` of one channel, per-sample loop."""
    n = len(x)
    if n == 1:
        return [(0, 0, 0, x[0], x[0])]
    # pass 1: one labelled interval per consecutive pair (reference `analyze_trend`)
    pairs = []
    for i in range(n - 1):
        a, b = x[i], x[i + 1]
        trend = 0 if a == b else (1 if a < b else -1)
        pairs.append((i, i + 1, trend))
    # pass 2: merge adjacent intervals with the same label (reference `merge_adjacent_rows`)
    out = []
    s, e, t = pairs[0]
    for s2, e2, t2 in pairs[1:]:
        if t2 == t:
            e = e2
        else:
            out.append((s, e, t, x[s], x[e]))
            s, e, t = s2, e2, t2
    out.append((s, e, t, x[s], x[e]))
    return out


def load_windows(args) -> tuple[np.ndarray, np.ndarray, float, str]:
    if args.data:
        from sensorllm.datasets.prepared import open_prepared

        data = open_prepared(args.data)
        ws = data.stage1(args.split)
        n = len(ws) if args.windows is None else min(args.windows, len(ws))
        offs = np.asarray(ws.offsets[: n + 1], dtype=np.int64)
        vals = np.asarray(ws.values[: offs[-1]])
        return vals, offs, data.rate_hz, f"{args.data} stage1/{args.split}"
    rng = np.random.default_rng(args.seed)
    n = args.windows or 6000
    lengths = rng.integers(5, 201, size=n)  # UCI-HAR Stage-1 window lengths (5..200 samples)
    offs = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    t = offs[-1]
    # quantised noisy random walk: realistic mix of rises, falls and exact repeats (steady)
    walk = np.cumsum(rng.normal(0, 0.01, size=(t, 6)), axis=0) + rng.normal(0, 0.02, size=(t, 6))
    vals = (np.round(walk * 256) / 256).astype(np.float32)
    return vals, offs, 50.0, f"synthetic ({n} windows, lengths 5-200, 6 channels)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="prepared dataset directory (default: synthetic windows)")
    ap.add_argument("--split", default="train")
    ap.add_argument("--windows", type=int, default=None, help="number of windows (default: all / 6000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3, help="vectorised timing: best of N runs")
    args = ap.parse_args()

    vals, offs, rate, what = load_windows(args)
    n, c = offs.shape[0] - 1, vals.shape[1]
    print(f"data: {what}; {n} windows x {c} channels, {offs[-1]} samples per channel, rate {rate} Hz")

    t0 = time.perf_counter()
    ref = []
    for i in range(n):
        w = vals[offs[i]:offs[i + 1]]
        for ch in range(c):
            ref.append(reference_segments(w[:, ch].tolist()))
    t_loop = time.perf_counter() - t0

    t_vec = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        table = segment_batch(vals, offs, rate)
        t_vec = min(t_vec, time.perf_counter() - t0)

    t_full = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        arrays = segment_batch(vals, offs, rate).arrays()
        t_full = min(t_full, time.perf_counter() - t0)
    assert arrays["trend"].shape[0] == len(table)

    t0 = time.perf_counter()
    for i in range(min(n, 2000)):
        w = vals[offs[i]:offs[i + 1]]
        for ch in range(c):
            segment_trends(w[:, ch], rate)
    t_single = (time.perf_counter() - t0) * n / min(n, 2000)

    # identical segments
    k = 0
    n_segs = 0
    for i in range(n):
        for ch in range(c):
            s = table.get(i, ch)
            got = list(zip(s.start_idx.tolist(), s.end_idx.tolist(), s.trend.tolist(),
                           s.start_value.tolist(), s.end_value.tolist()))
            want = [(a, b, t, float(v0), float(v1)) for a, b, t, v0, v1 in ref[k]]
            assert got == want, f"window {i} channel {ch}: vectorised {got[:3]}... != loop {want[:3]}..."
            n_segs += len(got)
            k += 1
    print(f"identical segments: yes ({n_segs} segments in {n * c} window-channels)")
    print(f"python loop (reference semantics):  {t_loop:8.3f} s  {n / t_loop:12.0f} windows/s")
    print(f"vectorised segment_batch:           {t_vec:8.3f} s  {n / t_vec:12.0f} windows/s")
    print(f"vectorised + all local indices/values (arrays()): {t_full:8.3f} s  {n / t_full:12.0f} windows/s")
    print(f"segment_trends, one call per channel-window: {t_single:8.3f} s  {n / t_single:12.0f} windows/s (extrapolated)")
    print(f"speed-up (batch vs loop): {t_loop / t_vec:.1f}x; with arrays(): {t_loop / t_full:.1f}x  (goal >= 50x)")


if __name__ == "__main__":
    main()
