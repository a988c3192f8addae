"""The timeline example of docs/streaming.md and docs/cli.md: raw UCI HAPT recordings of the test subjects as
one labelled multi-recording CSV, as a user's own study would hand them to `sensorllm predict`.

    python benchmarks/timeline_example.py --out runs/timeline-example/test-subjects.csv

writes one row per sample with `recording` (experiment), `subject`, `time` (s), `label` (class name; empty where
the recording is between activities) and the six channels in g and rad/s, for the test subjects (2 and 4) of
the packaged subset (`--raw` for other recordings). The commands around it are in docs/streaming.md.
"""

from __future__ import annotations

import argparse
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd

from sensorllm.datasets import get_dataset_spec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--raw", default=str(files("sensorllm") / "demo_data" / "uci-hapt-subset"),
                    help="UCI HAPT RawData directory (default: the packaged subset of subjects 1-5)")
    ap.add_argument("--subjects", nargs="+", default=["2", "4"])
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    spec = get_dataset_spec("uci-har")
    names = {c.raw_id: c.name for c in spec.classes}
    parts = []
    for k, rec in enumerate(spec.loader(spec, Path(args.raw))):
        if rec.subject not in args.subjects:
            continue
        df = pd.DataFrame(rec.data, columns=spec.channel_names)
        df.insert(0, "label", [names.get(int(v), "") for v in rec.labels])
        df.insert(0, "time", np.round(np.arange(len(df)) / spec.raw_rate_hz, 4))
        df.insert(0, "subject", rec.subject)
        df.insert(0, "recording", Path(rec.source.split(" + ")[0]).name.split(".")[0].replace("acc_", ""))
        parts.append(df)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pd.concat(parts, ignore_index=True).to_csv(out, index=False, float_format="%.6g")
    print(f"{sum(len(p) for p in parts)} rows of {len(parts)} recordings -> {out}")


if __name__ == "__main__":
    main()
