"""``sensorllm qa``: generate the annotation-free texts (Stage-1 trend QA or Stage-2 prompts) of a prepared
dataset as JSONL.

Writes ``OUT/stage{1|2}_{split}.jsonl`` per split (records described in ``docs/text.md``) and
``OUT/stage{1|2}_info.json`` (settings and record counts). Output depends only on the data and the
settings: the same seed gives byte-identical files.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from sensorllm.datasets.prepared import SPLITS, open_prepared
from sensorllm.text.stage1 import DEFAULT_SENSOR_PREFIX, iter_stage1_records
from sensorllm.text.stage2 import PREPROCESS_TYPES, iter_stage2_records
from sensorllm.text.trend import DEFAULT_MIN_DURATION, DEFAULT_TOL


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "qa",
        help="generate Stage-1 trend QA / Stage-2 texts (JSONL) from a prepared dataset",
        description="Generate the sensor-language texts of a prepared dataset: Stage 1 = one trend QA record "
        "per window and channel; Stage 2 = statistics, trend and correlation texts and a question per "
        "window. "
        "Writes OUT/stage{1,2}_{split}.jsonl and OUT/stage{1,2}_info.json.",
    )
    p.add_argument("--data", required=True, help="prepared dataset directory (from `sensorllm prepare`)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--stage", type=int, choices=(1, 2), required=True)
    p.add_argument("--seed", type=int, default=0, help="seed of every random phrasing choice (default 0)")
    p.add_argument("--trend-mode", choices=("exact", "tolerant"), default="exact",
                   help="exact: the paper's sample-by-sample trends (default); tolerant: ignore small "
                   "changes and merge short segments")
    p.add_argument("--tol", type=float, default=DEFAULT_TOL,
                   help="tolerant mode: steps up to TOL x the window's std count as steady "
                   f"(default {DEFAULT_TOL})")
    p.add_argument("--min-duration", type=float, default=DEFAULT_MIN_DURATION,
                   help="tolerant mode: merge segments shorter than this many seconds "
                   f"(default {DEFAULT_MIN_DURATION})")
    p.add_argument("--split", nargs="+", choices=SPLITS, default=None,
                   help="splits to generate (default: every split with windows)")
    p.add_argument("--preprocess-type", choices=PREPROCESS_TYPES, default="smry+Q",
                   help="Stage 2: which pieces form the `text` field (default smry+Q)")
    p.add_argument("--numbers", choices=("mixed", "digits", "words"), default="mixed",
                   help="counts in summaries/questions as digits, words or a seeded mix (default mixed)")
    p.add_argument("--sensor-prefix", default=DEFAULT_SENSOR_PREFIX,
                   help="Stage 1: prefix of the sensor name in summaries "
                   f"(default {DEFAULT_SENSOR_PREFIX!r})")
    p.add_argument("--limit", type=int, default=None, help="only the first N windows of each split")
    p.add_argument("--stat-digits", type=int, default=None,
                   help="Stage 2: significant digits of the statistics (default: up to 8 decimals, the reference)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _write_jsonl(path: Path, records) -> int:
    """Write records as JSON lines to ``path`` (via a temporary file: a failed run leaves no partial file)."""
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            for rec in records:
                f.write(json.dumps(rec, sort_keys=True, ensure_ascii=False))
                f.write("\n")
                n += 1
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return n


def run(args: argparse.Namespace) -> int:
    data = open_prepared(args.data)
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    if args.limit is not None and args.limit < 0:
        raise ValueError(f"--limit must be >= 0, got {args.limit}")
    key = "stage1_windows" if args.stage == 1 else "windows"
    split_info = data.manifest.get("splits", {})
    available = [
        s for s in SPLITS
        if (split_info.get(s, {}).get(key, split_info.get(s, {}).get("windows", 0)) or 0) > 0
    ]
    splits = args.split or available
    for s in splits:
        if s not in available:
            have = ", ".join(available) or "none"
            raise ValueError(f"split {s!r} has no windows in {data.root} (available: {have})")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stage = args.stage
    counts: dict[str, int] = {}
    from tqdm import tqdm

    for split in splits:
        n_windows = len(data.stage1(split) if stage == 1 else data.stage2(split))
        if args.limit is not None:
            n_windows = min(n_windows, args.limit)
        bar = tqdm(total=n_windows, desc=f"stage {stage} {split}", unit="win",
                   disable=True if args.no_progress else None, file=sys.stderr)
        common = dict(seed=args.seed, mode=args.trend_mode, tol=args.tol, min_duration=args.min_duration,
                      numbers=args.numbers, limit=args.limit, progress=bar.update)
        if stage == 1:
            records = iter_stage1_records(data, split, sensor_prefix=args.sensor_prefix, **common)
        else:
            records = iter_stage2_records(data, split, preprocess_type=args.preprocess_type,
                                          stat_digits=args.stat_digits, **common)
        path = out / f"stage{stage}_{split}.jsonl"
        try:
            counts[split] = _write_jsonl(path, records)
        finally:
            bar.close()
        print(f"{path}: {counts[split]} records")
    info = {
        "dataset": data.name,
        "data": str(Path(args.data)),
        "stage": stage,
        "seed": args.seed,
        "trend_mode": args.trend_mode,
        "tol": args.tol if args.trend_mode == "tolerant" else None,
        "min_duration": args.min_duration if args.trend_mode == "tolerant" else None,
        "numbers": args.numbers,
        "preprocess_type": args.preprocess_type if stage == 2 else None,
        "sensor_prefix": args.sensor_prefix if stage == 1 else None,
        "limit": args.limit,
        "rate_hz": data.rate_hz,
        "channels": data.channel_names,
        "classes": data.class_names,
        "records": counts,
    }
    info_text = json.dumps(info, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    (out / f"stage{stage}_info.json").write_text(info_text, encoding="utf-8")
    return 0
