"""Raw-file loader for the pamap2 dataset (to be implemented)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ..spec import DatasetSpec, Recording


def load(spec: DatasetSpec, raw: Path) -> Iterator[Recording]:
    raise NotImplementedError("pamap2 loader")
