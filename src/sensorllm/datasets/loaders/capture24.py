"""Raw-file loader for the capture24 dataset (to be implemented)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ..spec import DatasetSpec, Recording

CLASSES = ["sleep", "sitting", "household-chores", "walking", "vehicle", "bicycling", "mixed-activity",
           "standing", "manual-work", "sports"]


def load(spec: DatasetSpec, raw: Path) -> Iterator[Recording]:
    raise NotImplementedError("capture24 loader")
