"""``sensorllm`` entry point: the command table. Each command module exposes ``register(subparsers)`` which
adds its parser and sets ``func`` (called with the parsed namespace, returns an exit code); see
:mod:`sensorllm.cli.dispatch`."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from . import (
    baseline_cmd,
    compare_cmd,
    datasets_cmd,
    demo_cmd,
    dispatch,
    eval_cmds,
    prepare_cmd,
    pretrain_cmd,
    qa_cmd,
    stream_cmd,
    train_cmds,
)

__all__ = ["COMMAND_MODULES", "build_parser", "main"]

COMMAND_MODULES = (
    datasets_cmd,
    prepare_cmd,
    qa_cmd,
    train_cmds,
    eval_cmds,
    stream_cmd,
    baseline_cmd,
    compare_cmd,
    demo_cmd,
    pretrain_cmd,
)
"""The modules that contribute subcommands, in the order shown by ``--help``."""


def build_parser() -> argparse.ArgumentParser:
    return dispatch.build_parser(COMMAND_MODULES)


def main(argv: Sequence[str] | None = None) -> int:
    return dispatch.run(build_parser(), argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
