"""``sensorllm compare``: train and test several methods (HAR baselines and SensorLLM) over seeds on one prepared
dataset, into a folder of their own, and write a results table (Markdown, CSV, JSON) and a bar plot there.

Resumable: a finished (method, seed) is skipped; an interrupted SensorLLM run continues from its checkpoint.
Run the same command again after an interruption, or with more methods or seeds to add them.

    sensorllm compare --data runs/my-study --methods features-rf,cnn1d,sensorllm --seeds 0 1 2 --out runs/cmp
"""

from __future__ import annotations

import argparse
import json
import shlex
from typing import Any

from sensorllm.configs import DEFAULT as DEFAULT_CONFIG


def _key_value(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        value = json.loads(raw)  # numbers, null, true/false, lists
    except json.JSONDecodeError:
        value = raw
    return key.strip().replace("-", "_"), value


def _command(args: argparse.Namespace) -> str:
    """The command line that reruns (resumes) this comparison, as results.md shows it."""
    argv = ["sensorllm", "compare", "--data", str(args.data), "--methods", args.methods,
            "--seeds", *map(str, args.seeds), "--out", str(args.out)]
    if args.sensorllm_config != DEFAULT_CONFIG:
        argv += ["--sensorllm-config", str(args.sensorllm_config)]
    for flag, values in (("--set", args.set), ("--set1", args.set1), ("--set2", args.set2),
                         ("--baseline-set", [f"{k}={json.dumps(v)}" for k, v in args.baseline_set])):
        argv += [flag, *values] if values else []
    for flag, value, default in (("--test-limit", args.test_limit, None), ("--eval-batch-size", args.eval_batch_size, 8),
                                 ("--device", args.device, "auto")):
        argv += [flag, str(value)] if value != default else []
    return shlex.join(argv)


def run(args: argparse.Namespace) -> int:
    from sensorllm.compare import CompareSettings, config_pair, resolve_methods, run_comparison

    methods = resolve_methods(args.methods)
    c1, c2 = config_pair(args.sensorllm_config)
    settings = CompareSettings(
        data=args.data, out=args.out, seeds=args.seeds, stage1_config=c1, stage2_config=c2,
        sensorllm_set=args.set, stage1_set=args.set1, stage2_set=args.set2,
        baseline_set=dict(args.baseline_set), test_limit=args.test_limit, eval_batch_size=args.eval_batch_size,
        device=args.device, verbose=args.verbose,
        command=_command(args),
    )
    result = run_comparison(settings, methods, run=not args.table_only, stop_on_error=args.stop_on_error)
    print("\n".join(line for line in result.paths["md"].read_text().splitlines() if line.startswith("|")))
    return 1 if result.failed else 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="compare baselines and SensorLLM over seeds on one dataset (resumable)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="prepared dataset directory (from `sensorllm prepare`)")
    p.add_argument("--methods", required=True,
                   help="comma-separated: any registered baseline (`sensorllm baseline --help` lists them), "
                        "sensorllm (Stage 1 then Stage 2), sensorllm-no-stage1 (Stage 2 only)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds (default: 0)")
    p.add_argument("--out", required=True, help="folder for every run and the results; nothing else is written")
    p.add_argument("--sensorllm-config", metavar="DIR", default=DEFAULT_CONFIG,
                   help="folder with stage1.yaml and stage2.yaml, or the name of a configuration packaged with "
                        "sensorllm (default: recommended, the recommended CPU configuration; it fits any "
                        "prepared dataset: channels, rate, window and classes come from --data)")
    p.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                   help="SensorLLM config overrides of both stages, e.g. optim.max_steps=300 run.threads=1")
    p.add_argument("--set1", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                   help="Stage-1-only overrides")
    p.add_argument("--set2", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                   help="Stage-2-only overrides")
    p.add_argument("--baseline-set", nargs="+", action="extend", default=[], type=_key_value, metavar="KEY=VALUE",
                   help="baseline settings for every baseline row (sensorllm baseline's options: epochs=5 "
                        "max_train_windows=2000 threads=1 ...)")
    p.add_argument("--test-limit", type=int, help="score SensorLLM on a seeded subset of test windows "
                                                   "(default: all; baselines always score all)")
    p.add_argument("--eval-batch-size", type=int, default=8, help="windows per batch when scoring SensorLLM")
    p.add_argument("--device", default="auto", help="where SensorLLM is scored: auto, cpu, cuda or cuda:N")
    p.add_argument("--table-only", action="store_true", help="run nothing: rewrite the results from finished runs")
    p.add_argument("--stop-on-error", action="store_true",
                   help="stop at the first failed run (default: report it and go on with the others)")
    p.add_argument("--verbose", action="store_true", help="show every run's output, not only its log.txt")
    p.set_defaults(func=run)
