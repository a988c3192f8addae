"""Stage-1 diagnostic: can the describing LLM verbalise trends when its sensor tokens state them outright?

The trained Stage-1 models write the answer format and the times, but their trend words are near a fixed
answer (``docs/learning.md``, "Stage 1"). Either the encoder does not give the LLM the trends, or the LLM does
not learn to read them within the budget. This script separates the two: it trains the recommended describing
Stage 1 (``configs/recommended/uci-har/stage1-describe.yaml``) with an *oracle* encoder whose token for sample
``i`` holds exactly what the answer is computed from:

- the trend (increase / decrease / steady, one-hot) of the tolerant-mode segment that sample ``i`` starts or
  lies in (:func:`sensorllm.text.segment_trends`, the same call and settings the answers use);
- a flag on the samples where a new segment starts;
- the window's overall direction (one-hot, the same in every token);
- the sample's position ``i / (L - 1)``.

So the tokens carry the answer's content; if the LLM still does not write the right trends at the same number
of QA pairs, the limit is its reading, not the encoder. The oracle is not a usable encoder (it reads the
answer's own segmentation, and only at the rate given here); it is registered by this script only, never by
the library.

    python benchmarks/stage1_oracle_tokens.py --pairs 800 --seed 0 --threads 1
    python benchmarks/stage1_oracle_tokens.py --pairs 2400 --tag layers8 --set llm.num_layers=8
    python benchmarks/stage1_oracle_tokens.py --dry-run

The run writes ``runs/s1probe/oracle-tokens[-<tag>]-seed<N>`` (resumable, as every ``sensorllm align`` run) and copies
its ``metrics.json``, logs and config to ``benchmarks/records/stage1-probe/oracle-tokens[-<tag>]-seed<N>/``.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import torch

from _common import ROOT

CONFIG = ROOT / "configs" / "recommended" / "uci-har" / "stage1-describe.yaml"
RECORDS = ROOT / "benchmarks" / "records" / "stage1-probe"
KIND = "trend-oracle"
ORACLE_FEATURES = 8  # trend one-hot (3), segment start (1), overall direction one-hot (3), position (1)


def oracle_tokens(x: np.ndarray, rate_hz: float, mode: str = "tolerant") -> np.ndarray:
    """``(L, ORACLE_FEATURES)`` oracle features of one series (module docstring)."""
    from sensorllm.text import segment_trends

    segs = segment_trends(x, rate_hz, mode)
    length = x.shape[0]
    out = np.zeros((length, ORACLE_FEATURES), np.float32)
    # a boundary sample belongs to both neighbours: it takes the segment it starts (the later one)
    for start, end, trend in zip(segs.start_idx, segs.end_idx, segs.trend):
        out[start : end + 1, :3] = 0.0
        out[start : end + 1, 1 + int(trend)] = 1.0  # columns: decrease, steady, increase
        if start > 0:
            out[start, 3] = 1.0
    net = float(x[-1] - x[0])
    direction = 0 if abs(net) <= segs.steady_tol else (1 if net > 0 else -1)
    out[:, 5 + direction] = 1.0  # columns 4, 5, 6: decrease, steady, increase
    out[:, 7] = np.arange(length) / max(1, length - 1)
    return out


def oracle_encoder(rate_hz: float):
    """A :class:`~sensorllm.model.encoder.SensorEncoder` whose token per sample is :func:`oracle_tokens`."""
    from sensorllm.model.encoder import SensorEncoder

    class TrendOracleEncoder(SensorEncoder):
        extra_tokens = 0
        normalizes_series = True  # the answers call the data "normalized"; the oracle reads only its shape
        is_random_init = True

        def __init__(self) -> None:
            super().__init__()
            self.d_model, self.context_length, self.patch_size = ORACLE_FEATURES, 512, 1
            self.source = f"{KIND}:rate{rate_hz:g}"

        def encode_values(self, values: torch.Tensor) -> torch.Tensor:
            rows = [oracle_tokens(v[-self.context_length:].double().numpy(), rate_hz) for v in values.cpu()]
            return torch.from_numpy(np.stack(rows))

        def _identity_string(self) -> str:
            return f"{KIND}|rate{rate_hz:g}"

    return TrendOracleEncoder()


def register(rate_hz: float) -> None:
    """Register the oracle kind in the encoder registry (this process only)."""
    from sensorllm.model.encoder import register_encoder

    def check(cfg) -> list[str]:
        return [] if cfg.pretrained is None and not cfg.trainable else [f"{KIND}: no weights, nothing to train"]

    register_encoder(KIND, description="diagnostic: the answer's own trends as tokens", check=check)(
        lambda cfg: oracle_encoder(rate_hz))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="runs/uci-har/data")
    ap.add_argument("--pairs", type=int, default=800, help="Stage-1 QA pairs (1 epoch)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rate", type=float, default=50.0, help="the prepared data's sampling rate (Hz)")
    ap.add_argument("--out", default="runs/s1probe")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="more config overrides")
    ap.add_argument("--tag", default="", help="a name for runs with --set: oracle-tokens-<tag>-seed<N>")
    ap.add_argument("--dry-run", action="store_true", help="print the configuration and stop")
    args = ap.parse_args()

    out = Path(args.out) / f"oracle-tokens{'-' + args.tag if args.tag else ''}-seed{args.seed}"
    overrides = [f"data.prepared={args.data}", f"run.seed={args.seed}", f"run.threads={args.threads}",
                 f"data.max_train_examples={args.pairs}", f"run.out_dir={out}", f"encoder.kind={KIND}",
                 "encoder.tokenizer=null", *args.set]
    print(f"sensorllm align --config {CONFIG.relative_to(ROOT)} " + " ".join(overrides) + f"  # + {KIND} encoder")
    if args.dry_run:
        return
    from sensorllm.train.align import run_align
    from sensorllm.train.config import Stage1Config, load_config

    register(args.rate)
    run_align(load_config(Stage1Config, CONFIG, overrides))
    rec = RECORDS / out.name
    rec.mkdir(parents=True, exist_ok=True)
    for name in ("metrics.json", "train_log.csv", "val_log.csv", "config.yaml", "samples.jsonl"):
        if (out / name).exists():
            shutil.copy2(out / name, rec / name)
    print(f"records in {rec}")


if __name__ == "__main__":
    main()
