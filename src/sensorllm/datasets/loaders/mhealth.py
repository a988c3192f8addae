"""Raw-file loader for the mhealth dataset (to be implemented)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ..spec import DatasetSpec, Recording


def load(spec: DatasetSpec, raw: Path) -> Iterator[Recording]:
    raise NotImplementedError("mhealth loader")
