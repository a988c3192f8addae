"""The settings of a baseline run: :class:`BaselineConfig` (every setting and its default),
:func:`resolve_config` (dataclass defaults, then the baseline's ``train_overrides``, then explicit values)
and :func:`command_line` (the ``sensorllm baseline`` command that reproduces a config; in ``config.json``).
"""

from __future__ import annotations

import dataclasses
import json
import shlex
from dataclasses import dataclass, field
from typing import Any

from . import get_baseline

__all__ = ["FLAGS", "TORCH_ONLY", "BaselineConfig", "command_line", "resolve_config"]


@dataclass
class BaselineConfig:
    """Every setting of a baseline run. Defaults live here; a baseline's ``train_overrides`` replace them
    unless the value was given explicitly (see :func:`resolve_config`)."""

    baseline: str
    data: str  # prepared dataset directory
    out: str  # run directory
    seed: int = 0
    epochs: int = 30  # upper bound; early stopping usually ends sooner
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 8  # epochs without a better validation F1-macro before stopping
    max_train_windows: int | None = None  # seeded random subset of the training windows (None = all)
    class_weights: bool = False  # inverse-frequency weights in the cross-entropy (or RF class_weight)
    no_val: bool = False  # train `epochs` epochs without model selection (no validation split needed)
    mixup_alpha: float = 0.0  # mixup Beta(alpha, alpha) per batch; 0 = off
    center_loss: float = 0.0  # weight of the centre loss on the L2-normalised embedding; 0 = off
    center_lr: float = 0.5  # step of the centre update (Wen et al. 2016)
    grad_clip: float = 0.0  # max gradient norm; 0 = off
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    # torch CPU threads; 0 = torch's default. 1 by default: these nets are small, and on a shared 2-core
    # machine two OpenMP threads made a training step 15-20x slower (oversubscription).
    threads: int = 1
    eval_batch_size: int = 512
    model_args: dict[str, Any] = field(default_factory=dict)  # overrides of the model's defaults

    def __post_init__(self) -> None:
        problems = []
        if self.threads < 0:
            problems.append(f"threads must be >= 0 (0 = torch default), got {self.threads}")
        for name in ("epochs", "batch_size", "patience", "eval_batch_size"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("lr", "weight_decay", "mixup_alpha", "center_loss", "center_lr", "grad_clip"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.lr == 0:
            problems.append("lr must be > 0")
        if self.max_train_windows is not None and self.max_train_windows < 1:
            problems.append(f"max_train_windows must be >= 1, got {self.max_train_windows}")
        if problems:
            raise ValueError("; ".join(problems))


# Command-line flag of every config field (besides the positional baseline name).
FLAGS: dict[str, str] = {
    "data": "--data", "out": "--out", "seed": "--seed", "epochs": "--epochs", "batch_size": "--batch-size",
    "lr": "--lr", "weight_decay": "--weight-decay", "patience": "--patience",
    "max_train_windows": "--max-train-windows", "class_weights": "--class-weights", "no_val": "--no-val",
    "mixup_alpha": "--mixup", "center_loss": "--center-loss", "center_lr": "--center-lr",
    "grad_clip": "--grad-clip", "device": "--device", "threads": "--threads",
    "eval_batch_size": "--eval-batch-size", "model_args": "--model-arg",
}


def resolve_config(baseline: str, data: str, out: str, **given: Any) -> BaselineConfig:
    """Config for ``baseline``: dataclass defaults, then the baseline's ``train_overrides``, then every
    ``given`` value that is not ``None``."""
    spec = get_baseline(baseline)
    values = {**spec.train_overrides, **{k: v for k, v in given.items() if v is not None}}
    unknown = sorted(set(values) - {f.name for f in dataclasses.fields(BaselineConfig)})
    if unknown:
        raise ValueError(f"unknown baseline setting(s) {', '.join(unknown)}")
    values["model_args"] = spec.resolve_model_args(values.get("model_args"))
    return BaselineConfig(baseline=spec.name, data=str(data), out=str(out), **values)


# Settings that only the torch training loop reads (``threads`` applies to every kind: feature models may run
# torch too, e.g. the Chronos encoder).
TORCH_ONLY = {"epochs", "batch_size", "lr", "weight_decay", "patience", "mixup_alpha", "center_loss",
              "center_lr", "grad_clip", "device", "eval_batch_size"}


def command_line(cfg: BaselineConfig) -> str:
    """A ``sensorllm baseline`` command that reproduces ``cfg`` exactly (every setting it uses explicit)."""
    argv = ["sensorllm", "baseline", cfg.baseline]
    kind = get_baseline(cfg.baseline).kind
    for f in dataclasses.fields(cfg):
        if f.name == "baseline" or (kind != "torch" and f.name in TORCH_ONLY):
            continue
        value = getattr(cfg, f.name)
        flag = FLAGS[f.name]
        if isinstance(value, bool):
            argv += [flag] if value else []
        elif f.name == "model_args":
            for k, v in sorted(value.items()):
                argv += [flag, f"{k}={json.dumps(v)}"]
        elif value is not None:
            argv += [flag, str(value)]
    return shlex.join(argv)
