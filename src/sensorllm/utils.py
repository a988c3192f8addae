"""Small helpers shared across the package."""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["resolve_device", "sha256_file"]


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
