"""``sensorllm pretrain-encoder``: pre-train a Chronos-T5 (tiny by default) on a prepared dataset's unlabelled
motion windows with the Chronos objective, from a YAML config plus ``key=value`` overrides (dotted keys, YAML
values), e.g.
``sensorllm pretrain-encoder --config configs/here/uci-har/pretrain-encoder.yaml optim.max_steps=500``.
The result (``<out_dir>/model``) is used as ``encoder: {kind: chronos, pretrained: <out_dir>/model}``.
``data.sources`` adds other series: raw recordings of a dataset's training subjects, other prepared splits
(``configs/here/uci-har/pretrain-encoder-all.yaml``; docs/cli.md, "Pre-training sources")."""

from __future__ import annotations

import argparse


def _run(args: argparse.Namespace) -> int:
    from sensorllm.pretrain import PretrainEncoderConfig, run_pretrain
    from sensorllm.train.config import load_config

    run_pretrain(load_config(PretrainEncoderConfig, args.config, args.overrides))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    helptext = "pre-train a Chronos-T5 encoder on unlabelled motion windows (Chronos objective)"
    p = sub.add_parser("pretrain-encoder", help=helptext, description=__doc__)
    p.add_argument("--config", help="YAML config (see configs/here/uci-har/pretrain-encoder.yaml)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. optim.lr=1e-3")
    p.set_defaults(func=_run)
