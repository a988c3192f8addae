"""The ``sensorllm pretrain-encoder`` config: data, model (Chronos-T5 size and tokeniser), optimisation, run.

Loaded like every run config with :func:`sensorllm.train.config.load_config` (YAML plus ``key=value``
overrides; unknown keys and type mismatches are collected and raised as one ``ConfigError``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from sensorllm.model.encoder import CHRONOS_T5_SIZES, ChronosSize
from sensorllm.model.series_tokenizer import TokenizerConfig
from sensorllm.train.config import ConfigError

__all__ = [
    "PretrainDataConfig",
    "PretrainSource",
    "PretrainEncoderConfig",
    "PretrainModelConfig",
    "PretrainOptimConfig",
    "PretrainRunConfig",
]


_SPLITS = ("train", "val", "test")


@dataclass
class PretrainSource:
    """One source of pre-training series (an entry of ``data.sources``).

    ``kind: prepared``: every selected channel of every Stage-2 window of ``split`` of the directory
    ``prepared`` written by ``sensorllm prepare`` (the behaviour without ``data.sources``).

    ``kind: raw``: the raw recordings in ``raw`` read by the loader of the registered dataset ``dataset``
    (what ``sensorllm prepare DATASET --raw RAW`` reads), of that dataset's TRAINING subjects only (the
    subject split of ``sensorllm prepare``, seeded by ``split_seed``), whole: unlabelled stretches and
    transitions included. Each recording is gap-repaired as ``prepare`` does, resampled only when ``rate_hz``
    asks for it, and cut into single-channel series of the run's series length every ``stride`` samples; a
    recording shorter than that gives one series left-padded with missing values.
    """

    kind: Literal["prepared", "raw"] = "prepared"
    name: str = ""  # label in logs and records (default: the dataset and split)
    prepared: str = ""  # kind prepared: a directory written by `sensorllm prepare`
    split: str = "train"  # kind prepared: its split
    dataset: str = ""  # kind raw: a registered dataset (`sensorllm datasets`), e.g. uci-har, epilepsy
    raw: str = ""  # kind raw: its raw folder
    # kind raw: the `prepare --seed` of the subject split (None: the scored dataset's when it is the same
    # dataset, else 0, prepare's default)
    split_seed: int | None = None
    rate_hz: float | None = None  # kind raw: None = the dataset's rate (as `prepare`); else resampled to it
    stride: int | None = None  # kind raw: samples between series starts (None: model.prediction_length)
    channels: tuple[str, ...] = ()  # channel names to use (empty = all of the source's)
    max_series: int | None = None  # seeded subset of this source's series (None = all)

    def __post_init__(self) -> None:
        # ValueError: the config loader prefixes the entry's key (data.sources[i]) to the message
        if self.kind == "prepared":
            if not self.prepared:
                raise ValueError("kind 'prepared' needs `prepared: DIR` (a directory written by "
                                 "`sensorllm prepare`)")
            stray = [k for k in ("dataset", "raw") if getattr(self, k)]
            stray += [k for k in ("split_seed", "rate_hz", "stride") if getattr(self, k) is not None]
            if stray:
                raise ValueError(f"kind 'prepared' takes no {', '.join(stray)} (kind 'raw' settings)")
            if self.split not in _SPLITS:
                raise ValueError(f"split={self.split!r}; valid: {', '.join(_SPLITS)}")
        elif self.kind == "raw":
            from sensorllm.datasets import list_datasets

            if not self.dataset or not self.raw:
                raise ValueError("kind 'raw' needs `dataset: NAME` and `raw: DIR` (the folder "
                                 "`sensorllm prepare NAME --raw DIR` reads)")
            if self.dataset not in list_datasets():
                raise ValueError(f"dataset={self.dataset!r} is not a registered dataset; known: "
                                 f"{', '.join(list_datasets())}")
            if self.prepared or self.split != "train":
                raise ValueError("kind 'raw' takes no prepared/split: it reads the training subjects of "
                                 "`raw`")
            if self.stride is not None and self.stride < 1:
                raise ValueError(f"stride={self.stride} must be >= 1")
            if self.rate_hz is not None and not (math.isfinite(self.rate_hz) and self.rate_hz > 0):
                raise ValueError(f"rate_hz={self.rate_hz} must be a positive number of Hz")
        else:  # the loader checks the Literal first; this keeps direct construction honest
            raise ValueError(f"kind={self.kind!r}; valid: 'prepared', 'raw'")
        if self.max_series is not None and self.max_series < 1:
            raise ValueError(f"max_series={self.max_series} must be >= 1")

    @property
    def label(self) -> str:
        """``name``, else ``<dataset>/raw-train`` or ``<prepared dir>:<split>``."""
        if self.name:
            return self.name
        return f"{self.dataset}/raw-train" if self.kind == "raw" else f"{self.prepared}:{self.split}"


@dataclass
class PretrainDataConfig:
    """Which unlabelled windows to learn from, and the scored dataset whose validation split gives the
    validation loss."""

    prepared: str = ""  # directory written by `sensorllm prepare`: the scored dataset (validation loss)
    train_split: str = "train"  # the training series when `sources` is empty
    val_split: str = "val"  # validation loss on its windows ("" or an empty split: no validation)
    channels: tuple[str, ...] = ()  # channel names to use (empty = all), of train_split and val_split
    sources: tuple[PretrainSource, ...] = ()  # training series (empty: train_split of `prepared`)
    max_train_series: int | None = None  # seeded subset of single-channel series (None = all)
    max_val_series: int | None = 2048  # seeded subset for validation (bounds its cost)

    def __post_init__(self) -> None:
        for key in ("max_train_series", "max_val_series"):
            v = getattr(self, key)
            if v is not None and v < 1:
                raise ValueError(f"{key}={v} must be >= 1 (or null for all)")
        if self.sources and self.train_split != "train":
            raise ValueError(f"train_split={self.train_split!r} is read only without `sources`; name the "
                             "split in the source instead (kind: prepared, split: ...)")
        labels = [s.label for s in self.sources if s is not None]
        dup = sorted({x for x in labels if labels.count(x) > 1})
        if dup:
            raise ValueError(f"sources {dup} appear more than once (give each a distinct `name`)")


@dataclass
class PretrainModelConfig:
    """The Chronos-T5 being trained and its tokeniser (MeanScaleUniformBins, the Chronos objective)."""

    size: ChronosSize = "tiny"
    seed: int = 0  # initialisation seed
    n_tokens: int = 4096  # vocabulary: pad + EOS + bins + one spare, as Chronos
    low_limit: float = -15.0  # bin range in mean-scaled units
    high_limit: float = 15.0
    context_length: int | None = None  # context samples per window (None = window - prediction_length)
    prediction_length: int = 32  # target samples after the context
    model_context_length: int = 512  # longest series the saved model declares it reads (SensorLLM windows)
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if self.size not in CHRONOS_T5_SIZES:
            raise ConfigError(f"model.size={self.size!r}; valid: {', '.join(CHRONOS_T5_SIZES)}")
        if self.prediction_length < 1 or (self.context_length is not None and self.context_length < 1):
            raise ConfigError("model.context_length and model.prediction_length must be ≥ 1")
        if self.context_length is not None and self.context_length > self.model_context_length:
            raise ConfigError(
                f"model.context_length={self.context_length} exceeds model.model_context_length="
                f"{self.model_context_length}"
            )

    def tokenizer(self) -> TokenizerConfig:
        """The tokeniser settings recorded in the saved model (what SensorLLM will read series with)."""
        return TokenizerConfig(
            kind="mean_scale",
            n_tokens=self.n_tokens,
            low_limit=self.low_limit,
            high_limit=self.high_limit,
            context_length=self.model_context_length,
        )


@dataclass
class PretrainOptimConfig:
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.05
    schedule: Literal["cosine", "linear", "constant"] = "linear"  # Chronos trains with a linear decay
    max_steps: int = 2000
    batch_size: int = 64  # single-channel series per step
    grad_clip: float = 1.0


@dataclass
class PretrainRunConfig:
    out_dir: str = "runs/pretrain-encoder"
    seed: int = 0  # data order and subsets
    log_every: int = 10
    eval_every: int = 200  # steps between validation runs (the best model is published to out_dir/model)
    eval_at_start: bool = True  # validate the untrained model too (the curve's first point)
    save_every: int = 200  # steps between checkpoints
    keep_checkpoints: int = 2
    resume: bool = True  # continue from the last valid checkpoint in out_dir
    threads: int | None = None  # torch CPU threads (None = torch default)
    max_time_s: float | None = None  # stop after this much training time (then save, validate, publish)
    patience: int | None = None  # stop after this many validations in a row with no better loss (None: never)
    snapshot_every: int | None = None  # also keep the model alone every N steps (and 0) in out_dir/snapshots
    device: str = "auto"  # "auto" = cuda when available, else cpu

    def __post_init__(self) -> None:
        optional = ("patience", "snapshot_every")
        for key in ("log_every", "eval_every", "save_every", "keep_checkpoints", *optional):
            v = getattr(self, key)
            if v is not None and v < 1:
                raise ValueError(f"{key}={v} must be >= 1" + (" (or null)" if key in optional else ""))


@dataclass
class PretrainEncoderConfig:
    """``sensorllm pretrain-encoder``: data, model, optimisation and run settings."""

    data: PretrainDataConfig = field(default_factory=PretrainDataConfig)
    model: PretrainModelConfig = field(default_factory=PretrainModelConfig)
    optim: PretrainOptimConfig = field(default_factory=PretrainOptimConfig)
    run: PretrainRunConfig = field(default_factory=PretrainRunConfig)
