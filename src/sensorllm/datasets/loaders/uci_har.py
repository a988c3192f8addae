"""Raw-file loader (uci_har)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ..spec import DatasetSpec, Recording


def load(spec: DatasetSpec, raw: Path) -> Iterator[Recording]:
    raise NotImplementedError("uci_har loader")
