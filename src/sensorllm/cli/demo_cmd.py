"""``sensorllm demo``: prepare → qa → align → tune → evaluate → describe on the packaged UCI HAPT subset."""

from __future__ import annotations

import argparse


def _run(args: argparse.Namespace) -> int:
    from sensorllm.demo import run_demo

    run_demo(args.out, None if args.eval_limit == 0 else args.eval_limit, args.configs)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="end-to-end demo on the packaged UCI HAPT subset (real SmolLM2-135M)",
                       description=__doc__)
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--eval-limit", type=int, default=200, help="seeded subset of test windows (0 = all 618)")
    p.add_argument("--configs", help="directory with stage1.yaml / stage2.yaml (default: configs/demo)")
    p.set_defaults(func=_run)
