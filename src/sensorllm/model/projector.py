"""The alignment module: encoder embeddings → LLM embedding space, token by token.

``Projector`` is an MLP ``d_enc → hidden[0] → … → d_llm`` with GELU between layers and optional
dropout after each activation. Presets:

- ``paper``: one hidden layer of 2048 (1024 → 2048 → H; the paper's description),
- ``reference``: two hidden layers [2048, 3072] (the reference repository's current yaml),
- ``linear``: no hidden layer.

Optionally the encoder outputs are compressed over groups of ``pool`` (k) consecutive tokens before the
MLP (``pool = 1`` is the paper's one token per sample), by one of three ``pool_mode`` s:

- ``mean`` (default): the mean of each group. Parameter-free, so a frozen encoder's pooled outputs are
  cached (:mod:`sensorllm.model.cache`).
- ``strided``: the last token of each group (rows ``k-1, 2k-1, …``, plus the final row for a short last
  group). Parameter-free and cacheable too.
- ``learned``: a learned patch merge (concatenate the group's k tokens → ``Linear(k·d_enc, d_enc)``),
  initialised to equal ``mean``. Trainable, so the cache stores the *unpooled* encoder outputs and pooling
  runs after it (see :attr:`ProjectorConfig.cache_key`).

Every mode sees the same groups: the ``n = T' + 1`` encoder tokens (the last one is Chronos' EOS token)
split into ``ceil(n / k)`` consecutive groups of k, the last one shorter when k does not divide n. The EOS
token is never treated specially: it is simply the last member of the last group, in every mode. So every
mode yields :func:`pooled_length` tokens, and the prompt's placeholder count does not depend on the mode.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "POOLERS",
    "POOL_MODES",
    "PROJECTOR_PRESETS",
    "LearnedPatchPool",
    "FixedPool",
    "PoolMode",
    "Projector",
    "ProjectorConfig",
    "build_pooler",
    "pool_tokens",
    "pooled_length",
    "stride_tokens",
    "strided_indices",
]

PoolMode = Literal["mean", "strided", "learned"]
POOL_MODES: tuple[str, ...] = get_args(PoolMode)

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
        pool: compress encoder outputs over groups of this many tokens (k) before projecting.
        pool_mode: how a group becomes one token: ``mean`` (parameter-free, cached pooled), ``strided``
            (its last token; parameter-free, cached pooled) or ``learned`` (patch merge, trainable; the
            cache then holds unpooled encoder outputs). Checkpoints written before this field existed
            load as ``mean``, which is what they used.
        normalize: not the paper. A LayerNorm on the encoder tokens going in and an RMS scaling of the
            tokens coming out, whose per-feature gain starts at the RMS of the LLM's text-token embeddings.
            A random-init (or any small-output) encoder gives tokens far below unit scale, so the MLP's
            output is mostly its last bias and the sensor tokens enter the LLM much fainter than text
            (``docs/learning.md``); with ``normalize`` they enter at the scale of text from the first step.
    """

    preset: str = "paper"
    hidden: tuple[int, ...] = ()
    dropout: float = 0.0
    pool: int = 1
    pool_mode: PoolMode = "mean"
    normalize: bool = False

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
        if self.pool_mode not in POOL_MODES:
            raise ValueError(f"Unknown pool_mode {self.pool_mode!r}. Known: {', '.join(POOL_MODES)}")
        if self.pool_mode == "learned" and self.pool == 1:
            raise ValueError(
                "pool_mode='learned' needs pool ≥ 2 (with pool=1 it would only add a redundant "
                "d_enc×d_enc linear layer before the MLP); set pool ≥ 2 or pool_mode='mean'"
            )

    @property
    def pool_is_trainable(self) -> bool:
        """Whether pooling has parameters (then it must run after the embedding cache)."""
        return self.pool_mode == "learned"

    @property
    def cache_key(self) -> str:
        """What an embedding-cache entry holds under this config, for the cache namespace.

        Parameter-free modes store pooled tokens (``pool=k`` for ``mean``, the key older caches already
        used; ``pool=k|pool_mode=strided``); ``learned`` stores the encoder's unpooled outputs
        (``unpooled``, shared by every k). The keys differ whenever the stored tensors differ, so a pooled
        entry is never read back as an unpooled one or vice versa.
        """
        if self.pool_is_trainable:
            return "unpooled"
        if self.pool_mode == "mean" or self.pool == 1:  # k = 1: every parameter-free mode is the identity
            return f"pool={self.pool}"
        return f"pool={self.pool}|pool_mode={self.pool_mode}"

    @property
    def hidden_sizes(self) -> tuple[int, ...]:
        return tuple(self.hidden) if self.preset == "custom" else PROJECTOR_PRESETS[self.preset]

    def to_json(self) -> dict:
        return {
            "preset": self.preset,
            "hidden": list(self.hidden),
            "dropout": self.dropout,
            "pool": self.pool,
            "pool_mode": self.pool_mode,
            "normalize": self.normalize,
        }

    @classmethod
    def from_json(cls, d: dict) -> ProjectorConfig:
        """Inverse of :meth:`to_json`; a dict without ``pool_mode`` (older checkpoints) means ``mean``."""
        d = dict(d)
        d["hidden"] = tuple(d.get("hidden", ()))
        return cls(**d)


class Projector(nn.Module):
    """Token compression, then a token-wise MLP.

    Args:
        d_in: encoder width ``d_enc``.
        d_out: LLM hidden size ``H``.
        hidden: hidden layer sizes (empty = one linear layer).
        dropout: dropout after each hidden GELU.
        pool: group size k of the token compression (1 = none).
        pool_mode: ``mean`` / ``strided`` / ``learned`` (see the module docstring).
        normalize: LayerNorm in, RMS scaling out (:attr:`ProjectorConfig.normalize`).
        out_rms: starting value of the output gain with ``normalize`` (the LLM's text-embedding RMS).

    Attributes:
        pooler: the compression (``pooler.*`` parameters only for ``learned``, so a ``mean`` projector's
            state dict is exactly what it was before pooling modes existed).
        net: the MLP.

    Shapes:
        ``forward(x)``: ``(..., d_in)`` → ``(..., d_out)`` (the MLP only; pooling is separate because for
        parameter-free modes it runs before the embedding cache).
        ``pooler(x)``: ``(n, d_in)`` or ``(N, n, d_in)`` → ``(ceil(n / k), d_in)`` or ``(N, ceil(n / k), d_in)``.
        ``pool_windows(x)``: ``(B, C, n, d_in)`` → ``(B, C, ceil(n / k), d_in)``; ``pool_series`` the same for a
        list of series of any lengths.
    """

    def __init__(
        self,
        d_in: int,
        d_out: int,
        hidden: Sequence[int] = (2048,),
        dropout: float = 0.0,
        pool: int = 1,
        pool_mode: PoolMode = "mean",
        normalize: bool = False,
        out_rms: float = 1.0,
    ) -> None:
        super().__init__()
        self.d_in, self.d_out, self.hidden = d_in, d_out, tuple(hidden)
        self.pool, self.pool_mode, self.normalize = pool, pool_mode, normalize
        layers: list[nn.Module] = []
        width = d_in
        for h in self.hidden:
            layers += [nn.Linear(width, h), nn.GELU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, d_out))
        self.net = nn.Sequential(*layers)
        if normalize:  # created after the MLP and without random numbers: the MLP's init does not change
            self.in_norm = nn.LayerNorm(d_in)
            self.out_gain = nn.Parameter(torch.full((d_out,), float(out_rms)))
        # After the MLP, and drawing no random numbers: the MLP's initialisation is the same in every mode.
        self.pooler = build_pooler(pool_mode, d_in, pool)

    @classmethod
    def from_config(cls, cfg: ProjectorConfig, d_in: int, d_out: int, out_rms: float = 1.0) -> Projector:
        return cls(d_in, d_out, cfg.hidden_sizes, cfg.dropout, cfg.pool, cfg.pool_mode, cfg.normalize, out_rms)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.normalize:
            return self.net(x)
        y = self.net(self.in_norm(x))
        return y * torch.rsqrt(y.pow(2).mean(-1, keepdim=True) + 1e-6) * self.out_gain

    def pool_windows(self, x: torch.Tensor) -> torch.Tensor:
        """Compress the encoder tokens of windows in one call: ``(..., n, d_in)`` → ``(..., ceil(n / k), d_in)``
        (``(B, C, n, d_in)`` in the Stage-2 path). Device and dtype as :meth:`pool_series`."""
        if self.pool == 1:
            return x
        w = next(self.pooler.parameters(), None)
        flat = x.reshape(-1, x.shape[-2], x.shape[-1])  # (B·C, n, d_in)
        if w is not None:
            flat = flat.to(device=w.device, dtype=w.dtype)
        out = self.pooler(flat)
        return out.reshape(*x.shape[:-2], out.shape[-2], out.shape[-1])

    def pool_series(self, xs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Compress ``N`` series of encoder tokens, ``N × (n_i, d_in)`` → ``N × (ceil(n_i / k), d_in)``.

        Series of equal length are stacked and pooled in one call (a batch's windows usually share one
        length). For ``learned`` the inputs are moved to the pooler's device and dtype; parameter-free modes
        keep the inputs' device and dtype.
        """
        if self.pool == 1:
            return list(xs)
        w = next(self.pooler.parameters(), None)
        by_len: dict[int, list[int]] = {}
        for i, x in enumerate(xs):
            by_len.setdefault(x.shape[0], []).append(i)
        out: list[torch.Tensor | None] = [None] * len(xs)
        for idx in by_len.values():
            stacked = torch.stack([xs[i] for i in idx])  # (N_len, n, d_in)
            if w is not None:
                stacked = stacked.to(device=w.device, dtype=w.dtype)
            for i, y in zip(idx, self.pooler(stacked), strict=True):
                out[i] = y
        return out  # type: ignore[return-value]


class FixedPool(nn.Module):
    """``pool_mode='mean'`` (:func:`pool_tokens`) or ``'strided'`` (:func:`stride_tokens`) as a module; no
    parameters."""

    def __init__(self, k: int, mode: str = "mean") -> None:
        super().__init__()
        self.k = k
        self.mode = mode
        self._fn = pool_tokens if mode == "mean" else stride_tokens

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fn(x, self.k)


class LearnedPatchPool(nn.Module):
    """``pool_mode='learned'``: concatenate each group's k tokens (``k·d``) → ``Linear(k·d, d)``.

    Why a patch merge and not attention / softmax-weighted pooling:

    - It contains both parameter-free modes as special cases (``W = [I/k, …, I/k]`` is ``mean``,
      ``W = [0, …, 0, I]`` is ``strided``) and is *initialised* to ``mean`` (bias 0), so training starts
      from exactly the default model and the comparison between modes measures what learning adds.
    - It keeps the order inside a group. A softmax-weighted pool is a convex combination of the group's
      tokens: it can re-weight them but cannot represent their differences (a rise vs a fall within k
      samples), which is the information that mean pooling throws away.
    - Cost: ``k·d² + d`` parameters (``pooler.weight`` ``(d, k·d)``, ``pooler.bias`` ``(d,)``) (0.5 M for Chronos-T5-tiny's d = 256 at k = 8; 8.4 M for -large's
      d = 1024), about the size of the projector MLP itself, and one matmul per pooled token — small next
      to the LLM. With weight decay its weights shrink towards 0, not towards the mean initialisation.

    Ragged tail, the same way as ``mean``: the last group may hold ``c < k`` real tokens (the last of which
    is the EOS token). Its missing slots are zeros and its real tokens are scaled by ``k / c`` before the
    linear layer, so at initialisation the output is the mean over what the group has, exactly like
    :func:`pool_tokens`.

    Shapes:
        ``(n, d)`` or ``(N, n, d)`` → ``(ceil(n / k), d)`` or ``(N, ceil(n / k), d)``.
    """

    def __init__(self, d: int, k: int) -> None:
        super().__init__()
        if k < 2:
            raise ValueError(f"a learned patch merge needs k ≥ 2, got {k}")
        self.d, self.k = d, k
        # Parameters created directly (not nn.Linear, whose random init would advance the global RNG).
        self.weight = nn.Parameter(torch.empty(d, k * d))  # (d, k·d): block j acts on token j of a group
        self.bias = nn.Parameter(torch.empty(d))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Initialise to mean pooling: ``W = [I/k, …, I/k]``, ``b = 0`` (deterministic, no RNG)."""
        eye = torch.eye(self.d, dtype=self.weight.dtype, device=self.weight.device)
        self.weight.copy_(eye.repeat(1, self.k) / self.k)
        self.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        squeeze = x.ndim == 2
        if squeeze:
            x = x.unsqueeze(0)
        n_batch, n, d = x.shape
        if d != self.d:
            raise ValueError(f"expected tokens of width {self.d}, got {d}")
        k, m = self.k, pooled_length(n, self.k)
        pad = m * k - n
        x = x.to(self.weight.dtype)
        if pad:
            x = torch.cat([x, x.new_zeros(n_batch, pad, d)], dim=1)  # (N, m·k, d)
        groups = x.reshape(n_batch, m, k * d)  # group j = tokens jk … jk+k-1, concatenated in order
        if pad:
            scale = torch.ones(m, dtype=x.dtype, device=x.device)
            scale[-1] = k / (k - pad)
            groups = groups * scale[None, :, None]
        out = F.linear(groups, self.weight, self.bias)  # (N, m, d)
        return out[0] if squeeze else out


POOLERS: dict[str, type[nn.Module]] = {"mean": FixedPool, "strided": FixedPool, "learned": LearnedPatchPool}


def build_pooler(mode: str, d: int, k: int) -> nn.Module:
    """The pooling module for ``mode`` (a key of :data:`POOLERS`) on tokens of width ``d``, groups of ``k``."""
    if mode not in POOLERS:
        raise ValueError(f"Unknown pool_mode {mode!r}. Known: {', '.join(POOLERS)}")
    return LearnedPatchPool(d, k) if mode == "learned" else FixedPool(k, mode)


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


def strided_indices(n: int, k: int) -> list[int]:
    """Rows :func:`stride_tokens` keeps from ``n`` tokens: the last row of each group of ``k``.

    That is ``k-1, 2k-1, …`` and, when k does not divide n, the final row ``n-1`` for the short last
    group, so the last (EOS) token is always kept and there are ``ceil(n / k)`` rows.
    """
    idx = list(range(k - 1, n, k))
    if n % k:
        idx.append(n - 1)
    return idx


def stride_tokens(x: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the last token of each group of ``k`` consecutive tokens (see :func:`strided_indices`).

    The last token rather than the first, so the EOS token (the last row) is kept for every length, as it
    is always part of the last group's mean in :func:`pool_tokens`.

    Args:
        x: ``(n, d)`` or ``(N, n, d)`` embeddings.
        k: group size (1 returns ``x`` unchanged).

    Returns:
        ``(ceil(n / k), d)`` or ``(N, ceil(n / k), d)``.
    """
    if k == 1:
        return x
    idx = torch.tensor(strided_indices(x.shape[-2], k), dtype=torch.long, device=x.device)
    return x.index_select(-2, idx)
