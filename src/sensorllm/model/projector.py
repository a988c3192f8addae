"""The alignment module: encoder embeddings → LLM embedding space, token by token.

``Projector`` is an MLP ``d_enc → hidden[0] → … → d_llm`` with GELU between layers and optional
dropout after each activation. Presets:

- ``paper``: one hidden layer of 2048 (1024 → 2048 → H; the paper's description),
- ``reference``: two hidden layers [2048, 3072] (the reference repository's current yaml),
- ``linear``: no hidden layer.

Optionally the encoder outputs are mean-pooled over groups of ``pool`` consecutive tokens before the
MLP (``pool = 1`` is the paper's one token per sample). Pooling is parameter-free, so a frozen
encoder's pooled outputs can be cached (:mod:`sensorllm.model.cache`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["PROJECTOR_PRESETS", "Projector", "ProjectorConfig", "pool_tokens", "pooled_length"]

PROJECTOR_PRESETS: dict[str, tuple[int, ...]] = {
    "paper": (2048,),
    "reference": (2048, 3072),
    "linear": (),
}


@dataclass(frozen=True)
class ProjectorConfig:
    """Projector settings.

    Attributes:
        preset: a key of :data:`PROJECTOR_PRESETS`, or ``custom`` to use ``hidden``.
        hidden: hidden sizes when ``preset == "custom"``.
        dropout: dropout probability after each hidden activation (0 = none, as the reference).
        pool: mean-pool encoder outputs over groups of this many tokens before projecting.
    """

    preset: str = "paper"
    hidden: tuple[int, ...] = ()
    dropout: float = 0.0
    pool: int = 1

    def __post_init__(self) -> None:
        if self.preset != "custom" and self.preset not in PROJECTOR_PRESETS:
            raise ValueError(
                f"Unknown projector preset {self.preset!r}. Known: {', '.join(PROJECTOR_PRESETS)}, custom"
            )
        if self.preset != "custom" and self.hidden:
            raise ValueError(
                f"hidden={self.hidden} is only used with preset='custom' (preset is {self.preset!r})"
            )
        if any(h < 1 for h in self.hidden):
            raise ValueError(f"hidden sizes must be positive: {self.hidden}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.pool < 1:
            raise ValueError(f"pool must be ≥ 1, got {self.pool}")

    @property
    def hidden_sizes(self) -> tuple[int, ...]:
        return tuple(self.hidden) if self.preset == "custom" else PROJECTOR_PRESETS[self.preset]

    def to_json(self) -> dict:
        return {
            "preset": self.preset,
            "hidden": list(self.hidden),
            "dropout": self.dropout,
            "pool": self.pool,
        }

    @classmethod
    def from_json(cls, d: dict) -> ProjectorConfig:
        d = dict(d)
        d["hidden"] = tuple(d.get("hidden", ()))
        return cls(**d)


class Projector(nn.Module):
    """Token-wise MLP.

    Args:
        d_in: encoder width ``d_enc``.
        d_out: LLM hidden size ``H``.
        hidden: hidden layer sizes (empty = one linear layer).
        dropout: dropout after each hidden GELU.

    Shapes:
        ``forward(x)``: ``(..., d_in)`` → ``(..., d_out)``.
    """

    def __init__(self, d_in: int, d_out: int, hidden: Sequence[int] = (2048,), dropout: float = 0.0) -> None:
        super().__init__()
        self.d_in, self.d_out, self.hidden = d_in, d_out, tuple(hidden)
        layers: list[nn.Module] = []
        width = d_in
        for h in self.hidden:
            layers += [nn.Linear(width, h), nn.GELU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, d_out))
        self.net = nn.Sequential(*layers)

    @classmethod
    def from_config(cls, cfg: ProjectorConfig, d_in: int, d_out: int) -> Projector:
        return cls(d_in, d_out, cfg.hidden_sizes, cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def pooled_length(n: int, k: int) -> int:
    """Tokens left after pooling ``n`` tokens in groups of ``k`` (the last group may be shorter)."""
    return math.ceil(n / k)


def pool_tokens(x: torch.Tensor, k: int) -> torch.Tensor:
    """Mean over consecutive groups of ``k`` tokens; a short last group is averaged over what it has.

    Args:
        x: ``(n, d)`` or ``(N, n, d)`` embeddings.
        k: group size (1 returns ``x`` unchanged).

    Returns:
        ``(ceil(n / k), d)`` or ``(N, ceil(n / k), d)``.
    """
    if k == 1:
        return x
    squeeze = x.ndim == 2
    if squeeze:
        x = x.unsqueeze(0)
    n_batch, n, d = x.shape
    m = pooled_length(n, k)
    pad = m * k - n
    if pad:
        x = torch.cat([x, x.new_zeros(n_batch, pad, d)], dim=1)
    sums = x.reshape(n_batch, m, k, d).sum(dim=2)  # (N, m, d)
    counts = torch.full((m,), float(k), dtype=x.dtype, device=x.device)
    counts[-1] = k - pad
    out = sums / counts[None, :, None]
    return out[0] if squeeze else out
