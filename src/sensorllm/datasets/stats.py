"""The per-channel magnitude of training windows (:func:`channel_scale_stats`), stored with every trained model
(SensorLLM: the checkpoint's ``extra["channel_stats"]``; baselines: the run's ``config.json``), against which
``sensorllm predict``/``stream`` check the units of their input (:mod:`sensorllm.serve.units`)."""

from __future__ import annotations

import numpy as np

__all__ = ["channel_scale_stats"]


def channel_scale_stats(windows, channel_names, max_windows: int = 20000, seed: int = 0) -> dict:
    """Per-channel magnitude of training windows ``(N, L, C)`` (memory-mapped arrays are fine): ``mean``,
    ``std`` and ``rms`` (root mean square, i.e. including the offset, such as gravity on an accelerometer axis)
    over every finite sample of at most ``max_windows`` windows (a seeded subset beyond that).

    Returns ``{"statistic": "rms", "windows": n, "channels": {name: {"mean", "std", "rms"}}}``: JSON-able, the
    format that the input unit check of ``sensorllm predict``/``stream`` (:mod:`sensorllm.serve.units`) reads.
    """
    n = int(windows.shape[0])
    names = list(channel_names)
    if windows.ndim != 3 or windows.shape[2] != len(names):
        raise ValueError(f"expected windows (N, L, {len(names)}), got {tuple(windows.shape)}")
    rows = np.arange(n) if n <= max_windows else np.sort(
        np.random.default_rng(seed).choice(n, size=max_windows, replace=False))
    c = len(names)
    count, total, squares = np.zeros(c), np.zeros(c), np.zeros(c)
    for a in range(0, len(rows), 1024):
        w = np.asarray(windows[rows[a:a + 1024]], dtype=np.float64).reshape(-1, c)
        ok = np.isfinite(w)
        w = np.where(ok, w, 0.0)
        count += ok.sum(0)
        total += w.sum(0)
        squares += (w * w).sum(0)
    safe = np.maximum(count, 1)
    mean, ms = total / safe, squares / safe
    std = np.sqrt(np.maximum(ms - mean**2, 0.0))
    return {"statistic": "rms", "windows": len(rows),
            "channels": {name: {"mean": float(mean[j]), "std": float(std[j]), "rms": float(np.sqrt(ms[j]))}
                         for j, name in enumerate(names) if count[j] > 0}}
