"""``sensorllm`` entry point. Each command module exposes ``register(subparsers)`` which adds its parser and
sets ``func`` (called with the parsed namespace, returns an exit code)."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from sensorllm import __version__
from sensorllm.datasets.spec import DataError

# Modules (under sensorllm.cli) that contribute subcommands, in the order shown by --help.
_COMMAND_MODULES = [
    "datasets_cmd",
    "prepare_cmd",
    "qa_cmd",
    "train_cmds",
    "eval_cmds",
    "stream_cmd",
    "baseline_cmd",
    "compare_cmd",
    "demo_cmd",
    "pretrain_cmd",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sensorllm",
        description="SensorLLM: align LLMs with wearable motion sensors for human activity recognition.",
    )
    parser.add_argument("--version", action="version", version=f"sensorllm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _COMMAND_MODULES:
        importlib.import_module(f"sensorllm.cli.{mod}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (DataError, FileNotFoundError, KeyError, ValueError) as exc:
        # Expected user-facing errors: one clear line, no traceback.
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"sensorllm {args.command}: error: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
