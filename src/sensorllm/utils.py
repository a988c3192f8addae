"""Small helpers shared across the package."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

__all__ = ["class_weights_from_labels", "format_time", "resolve_device", "sha256_file"]


def format_time(idx: int, rate_hz: float) -> str:
    """Time of sample ``idx`` as the Stage-1 texts print it, after the reference:
    ``str(round(idx / rate, 2))`` (``0.0``, ``0.08``, ``1.1``). Defined here, below both ``text`` (the answers)
    and ``model`` (the Stage-1 system prompt, which states the window's span in the same format)."""
    return str(round(idx / rate_hz, 2))


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def resolve_device(name: str):
    """``torch.device`` for a config value: ``auto`` is the GPU when one is visible, else the CPU; anything
    else (``cpu``, ``cuda``, ``cuda:1``) is taken as given."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def class_weights_from_labels(
    labels: Sequence[int], num_classes: int, scheme: Literal["reference", "balanced"] = "reference"
):
    """Inverse-frequency class weights over ALL ``num_classes`` classes, for a weighted cross-entropy.

    Two schemes, kept apart because each has callers whose numbers must not change:

    ``reference`` (SensorLLM's Stage-2 loss, the reference's weighted CE)
        ``w_c = (1/p_c) / Σ_k (1/p_k)`` over the classes present in ``labels`` (the weights sum to 1). A class
        absent from the labels gets the largest present weight (it never is a training target, but keeps
        evaluation losses meaningful) and a warning names it — the reference silently shifted every later
        class instead (B8).
    ``balanced`` (the baselines' ``--class-weights``, scikit-learn's ``class_weight="balanced"``)
        ``w_c = n / (K · n_c)`` (mean 1 on balanced labels), the convention of the feature baselines'
        ``class_weight="balanced"``, so torch and feature baselines weight alike. An absent class gets 1.

    In a mean-reduced weighted cross-entropy the overall scale cancels, so on present classes the two give the
    same training loss; they differ in scale and in absent classes' weights.

    Returns:
        ``(num_classes,)`` float32 ``torch.Tensor`` (on the CPU).

    Raises:
        ValueError: no labels, a label outside ``[0, num_classes)``, or an unknown ``scheme``.
    """
    import torch

    if scheme not in ("reference", "balanced"):
        raise ValueError(f"scheme must be 'reference' or 'balanced', got {scheme!r}")
    y = torch.as_tensor(list(labels), dtype=torch.long)
    if y.numel() == 0:
        raise ValueError("no labels to compute class weights from")
    if int(y.min()) < 0 or int(y.max()) >= num_classes:
        raise ValueError(f"labels must lie in [0, {num_classes}); got range [{int(y.min())}, {int(y.max())}]")
    counts = torch.bincount(y, minlength=num_classes).double()
    present = counts > 0
    if scheme == "balanced":
        return torch.where(present, y.numel() / (num_classes * counts.clamp(min=1)), 1.0).float()
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
