"""The ``sensorllm pretrain-encoder`` config: data, model (Chronos-T5 size and tokeniser), optimisation, run.

Loaded like every run config with :func:`sensorllm.train.config.load_config` (YAML plus ``key=value``
overrides; unknown keys and type mismatches are collected and raised as one ``ConfigError``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sensorllm.model.encoder import CHRONOS_T5_SIZES, ChronosSize
from sensorllm.model.series_tokenizer import TokenizerConfig
from sensorllm.train.config import ConfigError

__all__ = [
    "PretrainDataConfig",
    "PretrainEncoderConfig",
    "PretrainModelConfig",
    "PretrainOptimConfig",
    "PretrainRunConfig",
]


@dataclass
class PretrainDataConfig:
    """Which unlabelled windows to learn from."""

    prepared: str = ""  # directory written by `sensorllm prepare`
    train_split: str = "train"
    val_split: str = "val"  # validation loss on its windows ("" or an empty split: no validation)
    channels: tuple[str, ...] = ()  # channel names to use (empty = all)
    max_train_series: int | None = None  # seeded subset of single-channel series (None = all)
    max_val_series: int | None = 2048  # seeded subset for validation (bounds its cost)


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
    device: str = "auto"  # "auto" = cuda when available, else cpu


@dataclass
class PretrainEncoderConfig:
    """``sensorllm pretrain-encoder``: data, model, optimisation and run settings."""

    data: PretrainDataConfig = field(default_factory=PretrainDataConfig)
    model: PretrainModelConfig = field(default_factory=PretrainModelConfig)
    optim: PretrainOptimConfig = field(default_factory=PretrainOptimConfig)
    run: PretrainRunConfig = field(default_factory=PretrainRunConfig)
