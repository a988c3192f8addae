"""The parser of ``sensorllm`` built from command modules, and running one command line with it.

A command module exposes ``register(subparsers)``, which adds its parser and sets ``func`` (called with the
parsed namespace, returns an exit code). :mod:`sensorllm.cli.main` passes every command module (``sensorllm
demo``, :mod:`sensorllm.cli.demo_cmd`, runs its steps as ``sensorllm`` command lines in their own processes, so no
command module imports the command table that holds it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from sensorllm import __version__
from sensorllm.datasets.spec import DataError

__all__ = ["build_parser", "run"]


def build_parser(command_modules: Sequence[ModuleType]) -> argparse.ArgumentParser:
    """The ``sensorllm`` parser with the subcommands of ``command_modules``, in that order (``--help``'s)."""
    parser = argparse.ArgumentParser(
        prog="sensorllm",
        description="SensorLLM: align LLMs with wearable motion sensors for human activity recognition.",
    )
    parser.add_argument("--version", action="version", version=f"sensorllm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in command_modules:
        module.register(sub)
    return parser


def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``) and run the command: its exit code; no command: the help
    and 2; an expected user-facing error (bad data, missing file, unknown name, bad value): one line on
    stderr, no traceback, and 1."""
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
