"""The Stage-2 classifier head, what it reads from the LLM's states, its loss weights, and what the two training
stages' forward passes return."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from sensorllm.utils import class_weights_from_labels  # re-exported: the Stage-2 loss's weights

__all__ = ["ClassifierHead", "Stage1Output", "Stage2Output", "channel_run_means", "class_weights_from_labels",
           "last_token_rows"]


@dataclass
class Stage1Output:
    """``loss``: mean CE over answer tokens; ``num_tokens``: how many answer tokens it averaged."""

    loss: torch.Tensor
    num_tokens: int


@dataclass
class Stage2Output:
    """``logits``: ``(B, K)``; ``loss``: weighted CE or ``None`` without labels; ``hidden``: ``(B, H)``."""

    logits: torch.Tensor
    loss: torch.Tensor | None
    hidden: torch.Tensor


class ClassifierHead(nn.Linear):
    """The Stage-2 head: ``Linear(H, K, bias=False)``, optionally on standardised features.

    With ``standardize`` it holds two buffers, ``feature_mean`` and ``feature_std`` ``(H,)`` (0 and 1 until
    :meth:`set_statistics` fills them), saved in checkpoints; the weight is what trains.
    """

    def __init__(self, in_features: int, out_features: int, standardize: bool = False) -> None:
        super().__init__(in_features, out_features, bias=False)
        self.standardize = standardize
        if standardize:
            self.register_buffer("feature_mean", torch.zeros(in_features))
            self.register_buffer("feature_std", torch.ones(in_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.standardize:
            x = (x - self.feature_mean.to(x.dtype)) / self.feature_std.to(x.dtype)
        return super().forward(x)

    def set_statistics(self, features: torch.Tensor, min_std: float = 1e-4) -> None:
        """Fill ``feature_mean`` / ``feature_std`` from ``features`` ``(N, H)`` (the states the head reads, of
        training windows); a std under ``min_std`` (a constant feature) is raised to it."""
        if not self.standardize:
            raise ValueError("this head does not standardise (SensorLLMConfig.head_standardize)")
        if features.ndim != 2 or features.shape[1] != self.in_features or features.shape[0] < 2:
            raise ValueError(f"expected (N >= 2, {self.in_features}) features, got {tuple(features.shape)}")
        f = features.detach().double()
        with torch.no_grad():
            self.feature_mean.copy_(f.mean(0).to(self.feature_mean))
            self.feature_std.copy_(f.std(0).clamp_min(min_std).to(self.feature_std))


def last_token_rows(h: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """``(B, H)``: the rows of ``h`` ``(B, S, H)`` at each sequence's last non-pad position (left or right
    padding)."""
    positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    last = (attention_mask * positions).argmax(dim=1)  # (B,)
    return h[torch.arange(h.shape[0], device=h.device), last]


def channel_run_means(h: torch.Tensor, input_ids: torch.Tensor, placeholder_id: int, n_channels: int) -> torch.Tensor:
    """``(B, C·H)``: per channel, the mean of ``h`` ``(B, S, H)`` over that channel's placeholder positions.

    A channel's placeholders are one run of ``placeholder_id`` tokens; runs follow the model's channel order, so
    run ``j`` is channel ``j`` (every channel must be present, as in Stage-2 windows).
    """
    ts = input_ids == placeholder_id  # (B, S)
    starts = ts & ~F.pad(ts, (1, 0), value=False)[:, :-1]  # first placeholder of each run
    run = torch.cumsum(starts.long(), dim=1) - 1  # (B, S) run index at placeholder positions
    n_runs = starts.sum(1)
    if bool((n_runs != n_channels).any()):
        raise ValueError(f"head_input='channel_mean' needs all {n_channels} channels in every example; "
                         f"got {n_runs.tolist()} channel runs")
    onehot = F.one_hot(run.clamp_min(0), n_channels).to(h.dtype) * ts[..., None].to(h.dtype)  # (B, S, C)
    sums = torch.einsum("bsc,bsh->bch", onehot, h)
    return (sums / onehot.sum(1)[..., None]).reshape(h.shape[0], -1)
