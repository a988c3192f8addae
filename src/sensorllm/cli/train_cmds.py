"""``sensorllm align`` (Stage 1) and ``sensorllm tune`` (Stage 2): run a stage from a YAML config with
``key=value`` overrides (dotted keys, YAML values), e.g. ``sensorllm tune --config c.yaml optim.lr=1e-3``."""

from __future__ import annotations

import argparse


def _run_align(args: argparse.Namespace) -> int:
    from sensorllm.train.align import run_align
    from sensorllm.train.config import Stage1Config, load_config

    run_align(load_config(Stage1Config, args.config, args.overrides))
    return 0


def _run_tune(args: argparse.Namespace) -> int:
    from sensorllm.train.config import Stage2Config, load_config
    from sensorllm.train.tune import run_tune

    run_tune(load_config(Stage2Config, args.config, args.overrides))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    for name, func, helptext in (
        ("align", _run_align, "Stage 1: sensor-language alignment on trend descriptions"),
        ("tune", _run_tune, "Stage 2: activity classification, model chosen on validation F1-macro"),
    ):
        p = sub.add_parser(name, help=helptext, description=f"{helptext}. {__doc__}")
        p.add_argument("--config", help="YAML config (see configs/)")
        p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. optim.lr=1e-3")
        p.set_defaults(func=func)
