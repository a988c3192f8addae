"""The Stage-2 classifier head and its loss weights, and what the two training stages' forward passes return."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["ClassifierHead", "Stage1Output", "Stage2Output", "class_weights_from_labels"]


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


def class_weights_from_labels(labels: Sequence[int], num_classes: int) -> torch.Tensor:
    """Inverse-frequency class weights over ALL ``num_classes`` classes (the reference's weighted CE).

    ``w_c = (1/p_c) / Σ_k (1/p_k)`` over the classes present in ``labels``. A class absent from the training
    labels gets the largest present weight (it never is a training target, but keeps evaluation losses
    meaningful) and a warning names it — the reference silently shifted every later class instead (B8).

    Returns:
        ``(num_classes,)`` float32.
    """
    y = torch.as_tensor(list(labels), dtype=torch.long)
    if y.numel() == 0:
        raise ValueError("no labels to compute class weights from")
    if int(y.min()) < 0 or int(y.max()) >= num_classes:
        raise ValueError(f"labels must lie in [0, {num_classes}); got range [{int(y.min())}, {int(y.max())}]")
    counts = torch.bincount(y, minlength=num_classes).double()
    present = counts > 0
    inv = torch.zeros(num_classes, dtype=torch.float64)
    inv[present] = counts.sum() / counts[present]
    w = inv / inv[present].sum()
    if not bool(present.all()):
        absent = (~present).nonzero().flatten().tolist()
        warnings.warn(
            f"classes {absent} do not occur in the training labels; they get the largest weight", stacklevel=2
        )
        w[~present] = w[present].max()
    return w.float()


class ClassifierHead(nn.Linear):
    """The Stage-2 head: ``Linear(H, K, bias=False)``, optionally on standardised features.

    With ``standardize`` it holds two buffers, ``feature_mean`` and ``feature_std`` ``(H,)`` (0 and 1 until
    :meth:`SensorLLM.set_head_statistics` fills them), saved in checkpoints; the weight is what trains.
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
