"""The ``raw-patch`` encoder: no pretrained encoder at all, raw samples straight into the projector.

This answers the paper's question "what if Chronos is replaced by the raw sensor inputs?". Each series is
z-normalised over its observed samples (``mean``, ``std = sqrt(var + 1e-8)`` with the population variance,
exactly as the ``std_uniform`` Chronos tokeniser), left-padded with missing samples to a whole number of
patches, and cut into patches of ``P`` samples. A patch's features are its ``P`` normalised values (0 where
missing) and its ``P`` observed flags, so a missing sample is not confused with a sample at the mean; one
linear layer maps the ``2P`` features to ``d_model``. A series of ``L`` samples gives
``ceil(min(L, context) / P)`` tokens (no EOS / REG).

The layer has no pretrained weights: it always trains (``EncoderConfig.trainable`` must be True), is saved in
checkpoints with the projector, and is never served from the embedding cache.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .encoder import CHRONOS_T5_SIZES, EncoderConfig, SensorEncoder, register_encoder, weights_fingerprint
from .series_tokenizer import check_and_truncate

__all__ = ["RAW_DEFAULT_CONTEXT", "RAW_DEFAULT_PATCH", "RawPatchEncoder", "check_untrained_kind", "znormalise"]

RAW_DEFAULT_PATCH = 16
RAW_DEFAULT_CONTEXT = 512


def znormalise(x: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
    """Per-row z-score over the observed entries; missing entries become 0.

    Args:
        x: ``(N, T)`` values (finite where ``observed``).
        observed: ``(N, T)`` bool; every row has at least one True.

    Returns:
        ``(N, T)`` with ``std = sqrt(population var + 1e-8)`` (a constant row maps to zeros).
    """
    count = observed.sum(dim=1, keepdim=True)  # (N, 1)
    filled = torch.where(observed, x, torch.zeros_like(x))
    mean = filled.sum(dim=1, keepdim=True) / count
    var = (torch.where(observed, x - mean, torch.zeros_like(x)) ** 2).sum(dim=1, keepdim=True) / count
    z = (filled - mean) / torch.sqrt(var + 1e-8)
    return torch.where(observed, z, torch.zeros_like(z))


class RawPatchEncoder(SensorEncoder):
    """Linear patch embedding of z-normalised raw samples.

    Args:
        d_model: output width.
        patch_size: samples per token ``P``.
        context_length: longest series read (longer ones keep their last samples).
        seed: seed of the initialisation (uniform ±1/sqrt(2P), as ``nn.Linear``).
        max_series_per_call: series per call.
    """

    extra_tokens = 0

    def __init__(
        self, d_model: int, patch_size: int, context_length: int, seed: int, max_series_per_call: int = 256
    ) -> None:
        super().__init__()
        self.d_model, self.patch_size = int(d_model), int(patch_size)
        self.context_length = int(context_length)
        self.max_series_per_call = max_series_per_call
        self.embed = nn.Linear(2 * patch_size, d_model)
        gen = torch.Generator().manual_seed(seed)
        bound = 1.0 / math.sqrt(2 * patch_size)
        with torch.no_grad():
            self.embed.weight.copy_(torch.rand(self.embed.weight.shape, generator=gen) * 2 * bound - bound)
            self.embed.bias.copy_(torch.rand(self.embed.bias.shape, generator=gen) * 2 * bound - bound)
        self.is_random_init = True  # no pretrained weights exist; the trained ones live in the checkpoint
        self.source = f"raw-patch:P{patch_size}:d{d_model}:seed{seed}"

    def encode_values(self, values: torch.Tensor) -> torch.Tensor:
        x, observed = check_and_truncate(values, self.context_length)  # (N, T') float64; raises if all-NaN
        z = znormalise(x, observed)
        pad = (-z.shape[1]) % self.patch_size
        z = F.pad(z, (pad, 0))  # left-pad: the last patch ends with the last sample
        m = F.pad(observed.to(z.dtype), (pad, 0))
        shape = (z.shape[0], z.shape[1] // self.patch_size, self.patch_size)  # (N, n_patches, P)
        feats = torch.cat([z.reshape(shape), m.reshape(shape)], dim=-1)  # (N, n_patches, 2P)
        w = self.embed.weight
        return self.embed(feats.to(device=w.device, dtype=w.dtype)).float()  # (N, n_patches, d)

    def _identity_string(self) -> str:
        return f"raw-patch|w{weights_fingerprint(self)}|ctx{self.context_length}|patch{self.patch_size}"


def check_untrained_kind(cfg: EncoderConfig, kind: str, what: str) -> list[str]:
    """The config problems of an encoder kind without pretrained weights (``raw-patch``, ``conv``): it must
    train, reads no tokeniser, and takes its width from a Chronos-T5 ``size``. ``what`` names the module in the
    message ("a freshly initialised <what>")."""
    problems = []
    if cfg.pretrained is not None:
        problems.append(f"{kind} has no pretrained weights: remove encoder.pretrained")
    if not cfg.trainable:
        problems.append(f"{kind} is a freshly initialised {what} and must train with the projector: "
                        "set encoder.trainable=true")
    if cfg.tokenizer is not None:
        problems.append(f"{kind} does not tokenise: remove encoder.tokenizer (its context is encoder.context_length)")
    if cfg.size not in CHRONOS_T5_SIZES:
        problems.append(f"Unknown size {cfg.size!r} (sets d_model). Known: {', '.join(CHRONOS_T5_SIZES)}")
    return problems


def _check_raw(cfg: EncoderConfig) -> list[str]:
    return check_untrained_kind(cfg, "raw-patch", "linear layer")


@register_encoder(
    "raw-patch",
    description="no pretrained encoder: z-normalised raw patches of 16 samples -> Linear; trainable",
    check=_check_raw,
)
def _build_raw(cfg: EncoderConfig) -> RawPatchEncoder:
    return RawPatchEncoder(
        d_model=CHRONOS_T5_SIZES[cfg.size]["d_model"],
        patch_size=cfg.patch_size or RAW_DEFAULT_PATCH,
        context_length=cfg.context_length or RAW_DEFAULT_CONTEXT,
        seed=cfg.seed,
        max_series_per_call=cfg.max_series_per_call,
    )
