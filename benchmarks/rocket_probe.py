"""What the ``rocket`` encoder's features carry: a ridge classifier on them, UCI-HAR, all test windows.

The encoder (``sensorllm.model.encoder_rocket``) is fitted as ``sensorllm tune`` fits it (on the channels of 256
seeded training windows); every channel of every window is encoded, the 4 × 2,499 standardised features of the
channels are concatenated, and a ridge classifier (penalty by leave-one-out cross-validation, as the
``minirocket`` baseline) is fitted on the training windows and scored on the validation and test windows. It
is the frozen-feature probe of ``docs/encoders.md``: an upper bound on what a linear reader of the sensor
tokens gets, with no LLM.

    python benchmarks/rocket_probe.py --seeds 0 1 2

Records: ``benchmarks/records/encoders/rocket-probe/seed<N>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

import numpy as np
import torch

from _common import ROOT, ensure_prepared

RECORDS = ROOT / "benchmarks" / "records" / "encoders" / "rocket-probe"
CALIBRATION_WINDOWS = 256


def features(enc, windows: np.ndarray) -> np.ndarray:
    """``(N, L, C)`` windows → ``(N, C · 9,996)`` standardised features (the encoder's own (B, C, L) entry)."""
    with torch.no_grad():
        out = enc.encode_windows(torch.as_tensor(np.ascontiguousarray(windows.transpose(0, 2, 1))))
    return out.reshape(len(windows), -1).numpy()


def probe(data: Path, seed: int, threads: int) -> dict:
    from sklearn.linear_model import RidgeClassifierCV
    from sklearn.metrics import f1_score

    from sensorllm.model import EncoderConfig, build_encoder

    torch.set_num_threads(threads)
    split = lambda s: (np.load(data / "stage2" / s / "windows.npy").astype(np.float32),  # noqa: E731
                       np.load(data / "stage2" / s / "labels.npy"))
    (xtr, ytr), (xva, yva), (xte, yte) = split("train"), split("val"), split("test")
    t = time.time()
    enc = build_encoder(EncoderConfig(kind="rocket", seed=0, context_length=xtr.shape[1]))
    pick = np.random.default_rng([seed, 47]).permutation(len(xtr))[:CALIBRATION_WINDOWS]
    enc.calibrate([torch.as_tensor(xtr[i, :, c]) for i in pick for c in range(xtr.shape[2])])
    ftr, fva, fte = features(enc, xtr), features(enc, xva), features(enc, xte)
    feat_s = time.time() - t
    ridge = RidgeClassifierCV(alphas=np.logspace(-3, 3, 10)).fit(ftr, ytr)
    f1 = lambda f, y: float(f1_score(y, ridge.predict(f), average="macro"))  # noqa: E731
    return {"seed": seed, "date": dt.date.today().isoformat(), "val_f1_macro": f1(fva, yva),
            "test_f1_macro": f1(fte, yte), "test_n": int(len(yte)), "ridge_alpha": float(ridge.alpha_),
            "n_features": int(ftr.shape[1]), "calibration_windows": CALIBRATION_WINDOWS,
            "feature_time_s": feat_s, "threads": threads,
            "command": f"python benchmarks/rocket_probe.py --seeds {seed} --threads {threads}"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", nargs="*", type=int, default=[0])
    ap.add_argument("--data", type=Path, default=ROOT / "runs" / "uci-har" / "data")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    ensure_prepared("uci-har", "UCI-HAPT/RawData", args.data, args.data.parent / "prepare.log")
    for seed in args.seeds:
        path = RECORDS / f"seed{seed}.json"
        if path.exists():
            print(f"seed {seed}: recorded ({path})")
            continue
        rec = probe(args.data, seed, args.threads)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rec, indent=1) + "\n")
        print(f"seed {seed}: validation F1-macro {rec['val_f1_macro']:.3f}, test {rec['test_f1_macro']:.3f} "
              f"on {rec['test_n']} windows", flush=True)


if __name__ == "__main__":
    main()
