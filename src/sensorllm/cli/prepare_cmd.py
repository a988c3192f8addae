"""``sensorllm prepare``: cut a dataset's raw files into Stage-1/Stage-2 windows with a manifest."""

from __future__ import annotations

import argparse
from pathlib import Path

from sensorllm.datasets import get_dataset_spec
from sensorllm.datasets.generic import spec_from_yaml
from sensorllm.datasets.prepare import PrepareOptions, prepare_dataset, summary_table


def run(args: argparse.Namespace) -> int:
    if args.spec:
        spec = spec_from_yaml(args.spec)
        if args.dataset not in ("generic", spec.name):
            raise ValueError(f"--spec describes dataset {spec.name!r}, but {args.dataset!r} was named")
    elif args.dataset == "generic":
        raise ValueError("the generic dataset needs --spec SPEC.yaml (see docs/datasets.md)")
    else:
        spec = get_dataset_spec(args.dataset)
    val = None
    if args.val_subjects is not None:
        if args.paper_split or args.val_fraction is not None:
            raise ValueError("--val-subjects cannot be combined with --paper-split or --val-fraction")
        val = tuple(s.strip() for s in args.val_subjects.split(",") if s.strip())
        if not val:
            raise ValueError(f"--val-subjects {args.val_subjects!r} names no subject")
    opts = PrepareOptions(
        seed=args.seed, paper_split=args.paper_split, val_subjects=val,
        val_fraction=args.val_fraction, max_gap=args.max_gap, progress=not args.quiet,
    )
    manifest = prepare_dataset(spec, Path(args.raw), Path(args.out), opts)
    print(summary_table(manifest))
    print(f"wrote {Path(args.out) / 'manifest.json'}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare", help="window a dataset's raw files", description=__doc__)
    p.add_argument("dataset", help="registered dataset name (see `sensorllm datasets`) or 'generic'")
    p.add_argument("--raw", required=True, help="directory with the raw files")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--spec", help="YAML spec for your own data (generic datasets)")
    p.add_argument("--seed", type=int, default=0, help="seed for validation subjects and Stage-1 lengths")
    p.add_argument("--paper-split", action="store_true", help="train/test only, as in the paper (no validation)")
    p.add_argument("--val-subjects", help="comma-separated validation subjects, e.g. s3,s7 (default: the spec's "
                   "val_subjects, else a seeded draw of val_fraction); at least 2 are recommended")
    p.add_argument("--val-fraction", type=float,
                   help="fraction of training subjects for validation, seeded (overrides the spec's val_subjects)")
    p.add_argument("--max-gap", type=int, help="longest gap of missing samples to interpolate (raw samples)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
