"""Series tokenisers: raw sensor values → Chronos token ids.

Chronos-T5 reads a series as integer ids from a vocabulary of ``n_tokens`` (4096): id 0 is the pad
token (missing / padded samples), id 1 is EOS, and ids ``2 … n_tokens-1`` are uniform bins of the
*normalised* value. Two normalisations are registered:

``std_uniform`` (default; the paper's ``StanNormalizeUniformBins``)
    per series ``mean = nanmean(x)``, ``std = sqrt(nanvar(x) + 1e-8)`` (population variance),
    ``z = (x - mean) / std``, then 4093 uniform bin centres on [−15, 15]. A constant series has
    ``std = 1e-4`` and maps to the centre bin: no division by zero.
``mean_scale`` (Chronos' own ``MeanScaleUniformBins``)
    ``x / mean(|x|)``; delegated to :mod:`chronos`.

Both left-truncate to the last ``context_length`` samples, map NaN to the pad id (attention mask
False) and append EOS, so a series of ``L`` samples yields ``min(L, context_length) + 1`` ids.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch

from sensorllm.registry import Registry

__all__ = [
    "AllMissingError",
    "MeanScaleBins",
    "SeriesTokenizer",
    "StdUniformBins",
    "TokenizerConfig",
    "build_series_tokenizer",
    "check_and_truncate",
    "list_series_tokenizers",
    "register_series_tokenizer",
]

PAD_ID = 0
EOS_ID = 1
N_SPECIAL = 2


class AllMissingError(ValueError):
    """A series has no finite sample (all NaN): it carries no information and would give NaN embeddings."""


@dataclass(frozen=True)
class TokenizerConfig:
    """Settings shared by the uniform-bin tokenisers (the Chronos-T5 checkpoints' values are the defaults).

    Attributes:
        kind: registry key (``std_uniform`` or ``mean_scale``).
        n_tokens: vocabulary size of the encoder (pad + EOS + bins + one spare, as Chronos does).
        low_limit / high_limit: range of the bin centres (in normalised units).
        context_length: longest series kept; longer ones keep their last ``context_length`` samples.
    """

    kind: Literal["std_uniform", "mean_scale"] = "std_uniform"
    n_tokens: int = 4096
    low_limit: float = -15.0
    high_limit: float = 15.0
    context_length: int = 512

    def __post_init__(self) -> None:
        if self.n_tokens <= N_SPECIAL + 2:
            raise ValueError(f"n_tokens must exceed {N_SPECIAL + 2}, got {self.n_tokens}")
        if not self.low_limit < self.high_limit:
            raise ValueError(f"low_limit {self.low_limit} must be below high_limit {self.high_limit}")
        if self.context_length < 1:
            raise ValueError(f"context_length must be ≥ 1, got {self.context_length}")

    @property
    def identity(self) -> str:
        """A stable string naming every setting that changes the ids (used in cache keys)."""
        limits = f"lo{self.low_limit:g}:hi{self.high_limit:g}"
        return f"{self.kind}:n{self.n_tokens}:{limits}:ctx{self.context_length}"

    def num_tokens(self, length: int) -> int:
        """Ids produced for a series of ``length`` samples (truncation + EOS)."""
        if length < 1:
            raise ValueError(f"a series needs at least one sample, got length {length}")
        return min(length, self.context_length) + 1


class SeriesTokenizer:
    """Interface: ``__call__(values) -> (ids, mask)``.

    Args (of ``__call__``):
        values: ``(N, T)`` float tensor of raw values; NaN marks missing samples. Rows have equal length
            (callers group series by length; nothing here is padding).

    Returns:
        ids: ``(N, T' + 1)`` int64, ``T' = min(T, context_length)``, last column EOS.
        mask: ``(N, T' + 1)`` bool, False where the sample was NaN.

    Raises:
        AllMissingError: a row has no finite value (the message gives the row index).
    """

    config: TokenizerConfig

    def __call__(self, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # pragma: no cover
        raise NotImplementedError


def check_and_truncate(values: torch.Tensor, context_length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate ``(N, T)`` series and keep their last ``context_length`` samples.

    Returns:
        ``(values as float64, observed = finite)``, both ``(N, min(T, context_length))``.

    Raises:
        AllMissingError: a row has no finite sample.
    """
    if values.ndim != 2:
        raise ValueError(f"expected (N, T) values, got shape {tuple(values.shape)}")
    if values.shape[1] < 1:
        raise ValueError("series must have at least one sample")
    values = values[:, -context_length:].to(torch.float64)  # (N, T')
    observed = torch.isfinite(values)
    empty = (~observed).all(dim=1)
    if bool(empty.any()):
        rows = empty.nonzero().flatten().tolist()
        raise AllMissingError(f"series row(s) {rows} have no finite sample (all NaN/inf)")
    return values, observed


def _append_eos(ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    n = ids.shape[0]
    ids = torch.cat([ids, torch.full((n, 1), EOS_ID, dtype=ids.dtype, device=ids.device)], dim=1)
    mask = torch.cat([mask, torch.ones((n, 1), dtype=torch.bool, device=mask.device)], dim=1)
    return ids, mask


class StdUniformBins(SeriesTokenizer):
    """Z-normalise each series, then bin uniformly (the paper's ``StanNormalizeUniformBins``)."""

    def __init__(self, config: TokenizerConfig) -> None:
        self.config = config
        n_bins = config.n_tokens - N_SPECIAL - 1  # 4093 centres, as Chronos
        centers = torch.linspace(config.low_limit, config.high_limit, n_bins, dtype=torch.float64)
        self.boundaries = torch.cat(
            [
                torch.tensor([-1e20], dtype=torch.float64),
                (centers[1:] + centers[:-1]) / 2,
                torch.tensor([1e20], dtype=torch.float64),
            ]
        )  # (n_bins + 1,)

    def __call__(self, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, observed = check_and_truncate(values, self.config.context_length)  # (N, T') float64
        count = observed.sum(dim=1, keepdim=True)  # (N, 1)
        filled = torch.where(observed, x, torch.zeros_like(x))
        mean = filled.sum(dim=1, keepdim=True) / count
        var = (torch.where(observed, x - mean, torch.zeros_like(x)) ** 2).sum(dim=1, keepdim=True) / count
        std = torch.sqrt(var + 1e-8)
        z = (filled - mean) / std
        ids = torch.bucketize(z, self.boundaries.to(z.device), right=True) + N_SPECIAL
        ids = ids.clamp_(0, self.config.n_tokens - 1)
        ids[~observed] = PAD_ID
        return _append_eos(ids.to(torch.int64), observed)


class MeanScaleBins(SeriesTokenizer):
    """Chronos' ``MeanScaleUniformBins`` (``x / mean|x|``), used through :mod:`chronos` itself."""

    def __init__(self, config: TokenizerConfig) -> None:
        from chronos import ChronosConfig, MeanScaleUniformBins

        self.config = config
        self._chronos = MeanScaleUniformBins(
            low_limit=config.low_limit,
            high_limit=config.high_limit,
            config=ChronosConfig(**chronos_config_dict(config)),
        )

    def __call__(self, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, observed = check_and_truncate(values, self.config.context_length)
        x = torch.where(observed, x, torch.full_like(x, float("nan"))).to(torch.float32)
        ids, mask, _scale = self._chronos.context_input_transform(x.cpu())  # EOS appended (seq2seq)
        return ids.to(values.device), mask.to(values.device)


def chronos_config_dict(config: TokenizerConfig, prediction_length: int = 64) -> dict:
    """The ``chronos_config`` block Chronos-T5 checkpoints carry, for these tokeniser settings."""
    return {
        "tokenizer_class": "MeanScaleUniformBins",  # the class the published checkpoints name
        "tokenizer_kwargs": {"low_limit": config.low_limit, "high_limit": config.high_limit},
        "context_length": config.context_length,
        "prediction_length": prediction_length,
        "n_tokens": config.n_tokens,
        "n_special_tokens": N_SPECIAL,
        "pad_token_id": PAD_ID,
        "eos_token_id": EOS_ID,
        "use_eos_token": True,
        "model_type": "seq2seq",
        "num_samples": 20,
        "temperature": 1.0,
        "top_k": 50,
        "top_p": 1.0,
    }


_TOKENIZERS: Registry[Callable[[TokenizerConfig], SeriesTokenizer]] = Registry("series tokenizer")


def register_series_tokenizer(
    name: str,
) -> Callable[[Callable[[TokenizerConfig], SeriesTokenizer]], Callable]:
    """Decorator registering a tokeniser factory ``config -> SeriesTokenizer``; duplicates are refused."""
    return _TOKENIZERS.register(name)


register_series_tokenizer("std_uniform")(StdUniformBins)
register_series_tokenizer("mean_scale")(MeanScaleBins)


def list_series_tokenizers() -> list[str]:
    return _TOKENIZERS.names()


def build_series_tokenizer(config: TokenizerConfig) -> SeriesTokenizer:
    """The tokeniser registered under ``config.kind``."""
    return _TOKENIZERS.get(config.kind)(config)
