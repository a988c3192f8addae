"""Typed run configs: one dataclass per stage, loaded from YAML plus ``key=value`` overrides.

Defaults live only in the dataclasses below (the model's in :mod:`sensorllm.model.sensorllm_config`). Unknown
keys and type mismatches are errors, all collected and reported at once with the valid choices. The resolved
config is written to ``<out_dir>/config.yaml`` (a run prints one line saying where) and stored in checkpoints.

A stage config nests its model settings (``cfg.model``: :class:`~sensorllm.model.sensorllm_config.ModelSettings`
for Stage 1, :class:`~sensorllm.model.sensorllm_config.Stage2ModelSettings` for Stage 2) rather than copying
their fields. In YAML, in ``key=value`` overrides and in the saved config their keys stay at the top level
(``encoder:``, ``llm.name=...``, ``head_input: last``): :func:`load_config` and :func:`config_to_dict` map them,
in this one place (:data:`MODEL_SECTION`).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

import yaml

from sensorllm.model.encoder import EncoderConfig
from sensorllm.model.llm import LLMConfig, LoRASettings
from sensorllm.model.projector import ProjectorConfig
from sensorllm.model.sensorllm_config import ModelSettings, Stage2ModelSettings
from sensorllm.model.series_tokenizer import TokenizerConfig
from sensorllm.text.stage2 import PREPROCESS_TYPES

__all__ = [
    "ConfigError",
    "DataConfig",
    "EncoderConfig",
    "ProjectorConfig",
    "LLMConfig",
    "LoRASettings",
    "MODEL_SECTION",
    "ModelSettings",
    "Stage2ModelSettings",
    "TokenizerConfig",
    "OptimConfig",
    "RunConfig",
    "Stage1Config",
    "Stage2Config",
    "load_config",
    "config_to_dict",
    "config_to_yaml",
]



class ConfigError(ValueError):
    """Invalid configuration: the message lists every problem with the key and the valid values."""


@dataclass
class DataConfig:
    """Which prepared data to train on."""

    prepared: str = ""  # directory written by `sensorllm prepare`
    train_split: str = "train"
    val_split: str = "val"
    max_train_examples: int | None = None  # seeded subset for short runs (None = all)
    max_val_examples: int | None = None
    preprocess_type: str = "smry+Q"  # Stage-2 text after the sensor block (see docs/text.md)
    trend_mode: Literal["exact", "tolerant"] = "exact"  # Stage-1 trend segmentation
    stat_digits: int | None = None  # significant digits of the Stage-2 statistics (None = up to 8 decimals)

    def __post_init__(self) -> None:
        if self.preprocess_type not in PREPROCESS_TYPES:
            raise ConfigError(f"data.preprocess_type={self.preprocess_type!r}; valid: {', '.join(PREPROCESS_TYPES)}")


@dataclass
class OptimConfig:
    lr: float = 2e-3
    weight_decay: float = 0.0
    warmup_ratio: float = 0.03
    # the fewest warm-up steps (0 = none): warm-up = max(int(warmup_ratio × steps), warmup_steps_min), at most
    # the run's steps; a short run (a small dataset) still ramps its learning rate up over this many steps
    warmup_steps_min: int = 0
    schedule: Literal["cosine", "linear", "constant"] = "cosine"
    epochs: float = 8.0
    max_steps: int | None = None  # overrides epochs when set
    batch_size: int = 4
    grad_accum: int = 8
    grad_clip: float = 1.0  # max global gradient norm (0 = no clipping); train_log.csv logs the norm before it
    head_lr: float | None = None  # the Stage-2 head's own learning rate (None = lr)
    # a trainable encoder's own learning rate (None = lr), and a first phase in which it is held still
    # (learning rate 0 for the first encoder_freeze_steps optimiser steps, then a linear ramp over
    # encoder_warmup_steps up to the schedule's rate): the projector and head settle on its initial features
    # before they start to move
    encoder_lr: float | None = None
    encoder_freeze_steps: int = 0
    encoder_warmup_steps: int = 0
    # micro-batches of similar token length (less padding); used where a stage knows lengths (Stage 1)
    group_by_length: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.warmup_steps_min, int) and self.warmup_steps_min < 0:
            raise ConfigError(f"optim.warmup_steps_min={self.warmup_steps_min}; it must be ≥ 0 (0 = no floor on "
                              "the warm-up warmup_ratio gives)")

    def warmup_steps(self, steps: int) -> int:
        """Warm-up steps of a run of ``steps`` optimiser steps: ``int(warmup_ratio × steps)``, raised to
        ``warmup_steps_min`` (at most ``steps``)."""
        return max(int(self.warmup_ratio * steps), min(self.warmup_steps_min, steps))


@dataclass
class RunConfig:
    out_dir: str = "runs/out"
    seed: int = 0
    log_every: int = 10
    eval_every: int = 200  # optimiser steps between validation runs
    save_every: int = 200  # optimiser steps between checkpoints
    keep_checkpoints: int = 2  # newest checkpoints kept (more: a learning curve can score each one later)
    resume: bool = True  # continue from the last checkpoint in out_dir
    num_workers: int = 0  # DataLoader worker processes that build (tokenise, collate) batches ahead of the step
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"
    tensorboard: bool = False
    cache_dir: str | None = None  # frozen-encoder embedding cache (None = $SENSORLLM_CACHE/embeddings)
    threads: int | None = None  # torch CPU threads (None = torch default)
    # torch.compile the LLM decoder (in place, dynamic shapes: text lengths vary); the first step pays the compile
    compile: bool = False
    # every process appends the example indices of each micro-batch it trains on to
    # <out_dir>/batches-rank<R>.jsonl (a debug record: checks the sharding across processes and a resume)
    record_batches: bool = False

    def __post_init__(self) -> None:
        if self.keep_checkpoints < 1:
            raise ConfigError(f"run.keep_checkpoints={self.keep_checkpoints}; keep at least 1 (resuming needs it)")


MODEL_SECTION = "model"
"""The stage configs' field holding the model settings, whose keys users write at the top level."""


@dataclass
class StageConfig:
    """What both stages share: data, the model settings (LLM, encoder, projector, token layout), optimisation
    and the run."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelSettings = field(default_factory=ModelSettings)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def __post_init__(self) -> None:
        o = self.optim
        if o is None or self.model is None:  # a section that failed its own checks (load_config reports them)
            return
        if o.encoder_freeze_steps < 0 or o.encoder_warmup_steps < 0:
            raise ConfigError("optim.encoder_freeze_steps and optim.encoder_warmup_steps must be ≥ 0")
        own = o.encoder_lr is not None or o.encoder_freeze_steps or o.encoder_warmup_steps
        if own and not self.model.encoder.trainable:
            raise ConfigError("optim.encoder_lr / encoder_freeze_steps / encoder_warmup_steps set the trainable "
                              "encoder's schedule, but encoder.trainable is false: set encoder.trainable=true or "
                              "remove them")


@dataclass
class TrendTokensConfig:
    """Stage 1's warm start of the sensor path (:mod:`sensorllm.train.trend_tokens`; not the paper): ``steps``
    optimiser steps (0 = none, the paper) of ``batch_size`` training series at ``lr`` that teach the encoder and
    projector to put the LLM's embedding of each sample's trend word into its sensor token, before the
    language-model loss."""

    steps: int = 0
    lr: float = 1e-3
    batch_size: int = 32

    def __post_init__(self) -> None:
        if self.steps < 0 or self.batch_size < 1 or not self.lr > 0:
            raise ConfigError(f"trend_tokens: steps must be >= 0, batch_size >= 1 and lr > 0, got {self}")


@dataclass
class Stage1Config(StageConfig):
    """Stage 1: sensor-language alignment (trend descriptions, causal-LM loss on the answer)."""

    train_token_rows: bool = True  # the channel start/end token rows train (paper)
    eval_generate: int = 32  # held-out windows described (greedy) and scored after training
    max_new_tokens: int = 256
    # the training loss weight of the segment lines' trend words (1 = the paper's plain answer loss; more
    # weighs the words only a model reading its sensor tokens gets right; validation loss stays unweighted)
    trend_word_weight: float = 1.0
    # the same for each segment line's end time (where the trend changes; 1 = the paper's loss)
    end_time_weight: float = 1.0
    # before the LM loss: the sensor tokens learn their trend words' embeddings (steps 0 = the paper)
    trend_tokens: TrendTokensConfig = field(default_factory=TrendTokensConfig)

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("trend_word_weight", "end_time_weight"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be > 0 (1 = the paper's loss), got {getattr(self, name)}")


@dataclass
class Stage2Config(StageConfig):
    """Stage 2: task-aware tuning (classification head, class-weighted CE, selection on validation F1)."""

    model: Stage2ModelSettings = field(default_factory=Stage2ModelSettings)  # head_input, stage2_layout, ...
    init_from: str | None = None  # Stage-1 checkpoint dir; None = the paper's "without alignment" ablation
    # the channel start/end token rows train: None = only without init_from (the paper: Stage 1 trained them)
    train_token_rows: bool | None = None
    weighted_loss: bool = True
    metric: Literal["f1_macro", "accuracy"] = "f1_macro"
    # with model.head_standardize (not the paper, docs/deviations.md): the head's feature statistics are
    # measured once on this many seeded training windows before Stage 2
    head_stats_windows: int = 512


C = TypeVar("C")


def _check_type(value: Any, tp: Any, key: str, errors: list[str]) -> Any:
    """Coerce/validate ``value`` against annotation ``tp``; append an error naming ``key`` on mismatch."""
    origin = get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            errors.append(f"{key}: expected a mapping, got {value!r}")
            return None
        return _build(tp, value, key + ".", errors)
    if origin in (typing.Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _check_type(value, inner[0], key, errors)
    if origin is Literal:
        if isinstance(value, bool) and not any(isinstance(a, bool) for a in get_args(tp)):
            # YAML 1.1 reads no/off/false (yes/on/true) as booleans: `run.mixed_precision=no` means the word
            words = [a for a in get_args(tp) if isinstance(a, str)
                     and a.lower() in (("yes", "on", "true") if value else ("no", "off", "false"))]
            value = words[0] if len(words) == 1 else value
        if value not in get_args(tp):
            errors.append(f"{key}={value!r}; valid: {', '.join(map(repr, get_args(tp)))}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            errors.append(f"{key}: expected a list, got {value!r}")
            return value
        item = get_args(tp)[0]
        return tuple(_check_type(v, item, f"{key}[{i}]", errors) for i, v in enumerate(value))
    if origin is list:
        if not isinstance(value, list):
            errors.append(f"{key}: expected a list, got {value!r}")
            return value
        (item,) = get_args(tp)
        return [_check_type(v, item, f"{key}[{i}]", errors) for i, v in enumerate(value)]
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):  # YAML 1.1 reads "5e-4" (no dot) as a string
        try:
            return float(value)
        except ValueError:
            pass
    if tp in (int, float, str, bool) and not (isinstance(value, tp) and not (tp is int and isinstance(value, bool))):
        errors.append(f"{key}: expected {tp.__name__}, got {value!r}")
    return value


def _model_type(cls: type) -> type | None:
    """The model settings class a stage config nests under :data:`MODEL_SECTION` (``None``: not a stage config)."""
    if not (isinstance(cls, type) and issubclass(cls, StageConfig)):
        return None
    return typing.get_type_hints(cls)[MODEL_SECTION]


def _nest(cls: type, doc: dict) -> dict:
    """A user document of ``cls`` (model keys at the top level) with its model keys moved under
    :data:`MODEL_SECTION`; the inverse of :func:`config_to_dict`'s flattening."""
    mtype = _model_type(cls)
    if mtype is None:
        return doc
    if MODEL_SECTION in doc:
        raise ConfigError(f"unknown key {MODEL_SECTION}: the model settings (llm, encoder, projector, ...) are "
                          "written at the top level")
    model_keys = {f.name for f in dataclasses.fields(mtype)}
    out = {k: v for k, v in doc.items() if k not in model_keys}
    out[MODEL_SECTION] = {k: v for k, v in doc.items() if k in model_keys}
    return out


def _build(cls: type[C], values: dict, prefix: str, errors: list[str]) -> C:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    mtype = _model_type(cls)
    shown = [n for n in names if n != MODEL_SECTION] + (
        [f.name for f in dataclasses.fields(mtype)] if mtype is not None else [])  # the keys users write
    unknown = [k for k in values if k not in names]
    for k in unknown:
        errors.append(f"unknown key {prefix}{k}; valid keys here: {', '.join(shown)}")
    kwargs = {}
    for k, v in values.items():
        if k == MODEL_SECTION and mtype is not None:  # its keys are written at this level
            kwargs[k] = _build(mtype, v, prefix, errors) if isinstance(v, dict) else None
        elif k in names:
            kwargs[k] = _check_type(v, hints[k], prefix + k, errors)
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        errors.append(str(exc))
    except ValueError as exc:  # __post_init__ checks of the model configs
        errors.append(f"{prefix.rstrip('.') or cls.__name__}: {exc}")
    except TypeError as exc:
        errors.append(f"{prefix or cls.__name__}: {exc}")
    return None  # type: ignore[return-value]


def _apply_override(doc: dict, item: str) -> None:
    if "=" not in item:
        raise ConfigError(f"override {item!r} is not key=value (e.g. optim.lr=1e-3)")
    key, raw = item.split("=", 1)
    value = yaml.safe_load(raw) if raw != "" else None
    node = doc
    parts = key.strip().split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {item!r}: {p} is not a section")
    node[parts[-1]] = value


def load_config(cls: type[C], path: str | Path | None = None, overrides: list[str] | None = None) -> C:
    """Build ``cls`` from a YAML file (optional) and ``key=value`` overrides (dotted keys, YAML values)."""
    doc: dict = {}
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"config file {path} not found")
        loaded = yaml.safe_load(path.read_text())
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
        doc = loaded or {}
    for item in overrides or []:
        _apply_override(doc, item)
    errors: list[str] = []
    cfg = _build(cls, _nest(cls, doc), "", errors)
    if errors:
        where = f" in {path}" if path else ""
        raise ConfigError(f"invalid {cls.__name__}{where}:\n  " + "\n  ".join(errors))
    return cfg


def _plain(obj: Any) -> Any:
    if isinstance(obj, tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    return obj


def config_to_dict(cfg: Any) -> dict:
    """Plain YAML/JSON-able dict (tuples become lists), with a stage config's model settings at the top level
    (the keys users write and checkpoints keep in ``extra["run_config"]``)."""
    d = _plain(dataclasses.asdict(cfg))
    if _model_type(type(cfg)) is None:
        return d
    out: dict = {}
    for k, v in d.items():
        out.update(v if k == MODEL_SECTION else {k: v})
    return out


def config_to_yaml(cfg: Any) -> str:
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False)
