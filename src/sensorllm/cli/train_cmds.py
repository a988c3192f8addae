"""``sensorllm align`` (Stage 1) and ``sensorllm tune`` (Stage 2): run a stage from a YAML config with
``key=value`` overrides (dotted keys, YAML values), e.g. ``sensorllm tune --config c.yaml optim.lr=1e-3``.

Without ``--config`` the packaged recommended configuration runs; it fits any prepared dataset, which
``--data`` names, with the output folder ``--out`` (and for Stage 2 the Stage-1 model ``--init-from``):

    sensorllm align --data runs/my-study/data --out runs/my-study/rec-stage1
    sensorllm tune  --data runs/my-study/data --out runs/my-study/rec-stage2 \\
                    --init-from runs/my-study/rec-stage1/model
"""

from __future__ import annotations

import argparse
import json


def _overrides(args: argparse.Namespace) -> list[str]:
    """The command's ``key=value`` overrides, then those its path options stand for (which win)."""
    q = json.dumps  # paths as YAML strings (a path may hold characters YAML reads otherwise)
    flags = [("data.prepared", args.data), ("run.out_dir", args.out),
             ("init_from", getattr(args, "init_from", None))]  # align has no --init-from
    return [*args.overrides, *(f"{key}={q(str(v))}" for key, v in flags if v is not None)]


def _config(cls, args: argparse.Namespace, stage: int):
    """The stage's config: ``--config`` resolved (a file, a folder, a packaged name; default ``recommended``),
    then the overrides. A config that names no prepared dataset or output folder, with neither given here, is
    refused before anything runs."""
    from sensorllm.configs import sets_key, stage_config
    from sensorllm.train.config import load_config

    path = stage_config(args.config, stage)
    overrides = _overrides(args)
    cfg = load_config(cls, path, overrides)
    given = {o.split("=", 1)[0].strip() for o in overrides}
    if not cfg.data.prepared:
        raise ValueError(f"{path} names no prepared dataset: give --data DIR (a `sensorllm prepare` output)")
    if "run.out_dir" not in given and not sets_key(path, "run.out_dir"):
        raise ValueError(f"{path} names no output folder: give --out DIR")
    return cfg


def _run_align(args: argparse.Namespace) -> int:
    from sensorllm.train.align import run_align
    from sensorllm.train.config import Stage1Config

    run_align(_config(Stage1Config, args, 1))
    return 0


def _run_tune(args: argparse.Namespace) -> int:
    from sensorllm.train.config import Stage2Config
    from sensorllm.train.tune import run_tune

    run_tune(_config(Stage2Config, args, 2))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    for name, stage, func, helptext in (
        ("align", 1, _run_align, "Stage 1: sensor-language alignment on trend descriptions"),
        ("tune", 2, _run_tune, "Stage 2: activity classification, model chosen on validation F1-macro"),
    ):
        p = sub.add_parser(name, help=helptext, description=f"{helptext}. {__doc__}",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--config", metavar="CONFIG",
                       help=f"a YAML config (see configs/), a folder with stage{stage}.yaml, or a configuration "
                            "packaged with sensorllm: recommended (the default: the recommended CPU "
                            f"configuration, any dataset){', recommended/stage1-describe' if stage == 1 else ''} "
                            "or demo")
        p.add_argument("--data", metavar="DIR", help="prepared dataset (sets data.prepared)")
        p.add_argument("--out", metavar="DIR", help="output folder of the run (sets run.out_dir)")
        if stage == 2:
            p.add_argument("--init-from", metavar="DIR",
                           help="Stage-1 model to start from, e.g. runs/x/rec-stage1/model (sets init_from; the "
                                "packaged configurations name none: without it Stage 2 starts from scratch)")
        p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. optim.lr=1e-3")
        p.set_defaults(func=func)

