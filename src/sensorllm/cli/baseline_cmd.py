"""``sensorllm baseline``: train a HAR baseline on a prepared dataset and score it on the test split."""

from __future__ import annotations

import argparse
import json
from typing import Any

from sensorllm.baselines import get_baseline, list_baselines


def _model_arg(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        value = json.loads(raw)  # numbers, lists, null, true/false
    except json.JSONDecodeError:
        value = raw  # bare strings: padding=same
    return key.strip(), value


def run(args: argparse.Namespace) -> int:
    from sensorllm.baselines.config import resolve_config
    from sensorllm.train.baseline import run_baseline

    get_baseline(args.name)  # unknown names fail here, before any data is read
    cfg = resolve_config(
        args.name, args.data, args.out,
        seed=args.seed, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        weight_decay=args.weight_decay, patience=args.patience, max_train_windows=args.max_train_windows,
        class_weights=args.class_weights or None, no_val=args.no_val or None, mixup_alpha=args.mixup,
        center_loss=args.center_loss, center_lr=args.center_lr, grad_clip=args.grad_clip, device=args.device,
        threads=args.threads, eval_batch_size=args.eval_batch_size,
        model_args=dict(args.model_arg) if args.model_arg else None,
    )
    run_baseline(cfg, overwrite=args.overwrite)
    return 0


def _epilog() -> str:
    lines = ["baselines:"]
    for name in list_baselines():
        lines.append(f"  {name:<18} {get_baseline(name).summary}")
    lines.append("See docs/baselines.md for the architectures, defaults and outputs.")
    return "\n".join(lines)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "baseline", help="train and test a HAR baseline (DeepConvLSTM, Attend, 1-D CNN, features + RF, ...)",
        description=__doc__, epilog=_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", metavar="NAME", help=f"baseline: {', '.join(list_baselines())}")
    p.add_argument("--data", required=True, help="prepared dataset directory (from `sensorllm prepare`)")
    p.add_argument("--out", required=True, help="run directory for config, weights, history and report")
    # Settings default to None so that BaselineConfig (and a baseline's own overrides) supply the defaults.
    p.add_argument("--seed", type=int, help="seed for initialisation, batch order and subsets (default 0)")
    p.add_argument("--epochs", type=int, help="maximum training epochs (default 30)")
    p.add_argument("--batch-size", type=int, help="training batch size (default 64)")
    p.add_argument("--lr", type=float, help="AdamW learning rate (default 1e-3)")
    p.add_argument("--weight-decay", type=float, help="AdamW weight decay (default 1e-4)")
    p.add_argument("--patience", type=int, help="epochs without better validation F1-macro before stopping "
                                                 "(default 8)")
    p.add_argument("--max-train-windows", type=int, help="seeded random subset of training windows")
    p.add_argument("--class-weights", action="store_true", help="inverse-frequency class-weighted loss")
    p.add_argument("--no-val", action="store_true",
                   help="no model selection: train --epochs epochs (for data without a validation split)")
    p.add_argument("--mixup", type=float, help="mixup alpha (0 = off; attend: 0.8)")
    p.add_argument("--center-loss", type=float, help="centre-loss weight (0 = off; attend: 0.003)")
    p.add_argument("--center-lr", type=float, help="centre update step (default 0.5)")
    p.add_argument("--grad-clip", type=float, help="max gradient norm (0 = off, the default)")
    p.add_argument("--device", help="auto (default), cpu, cuda or cuda:N")
    p.add_argument("--threads", type=int, help="torch CPU threads (default 1; 0 = torch's default)")
    p.add_argument("--eval-batch-size", type=int, help="batch size for validation/test (default 512)")
    p.add_argument("--model-arg", type=_model_arg, action="append", metavar="KEY=VALUE",
                   help="override a model hyper-parameter, e.g. dropout=0.3, padding=same, widths=[32,64] "
                        "(repeatable; JSON values)")
    p.add_argument("--overwrite", action="store_true", help="replace a finished run in --out")
    p.set_defaults(func=run)
