"""UEA/UCR multivariate archive loader (sktime/aeon ``.ts`` format): ``{Name}_TRAIN.ts`` and ``{Name}_TEST.ts``.

Each case is one recording. The archive has no subject ids, so each case is its own pseudo-subject
(``train-0001``) and the TRAIN/TEST files fix the split (``Recording.fixed_split``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from ..spec import DataError, DatasetSpec, Recording
from ._io import check_raw_dir


def read_ts(path: Path, n_dims: int) -> tuple[list[np.ndarray], list[str]]:
    """Parse a ``.ts`` file into per-case ``(L, n_dims)`` float arrays and their class-label strings."""
    cases: list[np.ndarray] = []
    labels: list[str] = []
    in_data = False
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if not in_data:
                if line.lower().startswith("@data"):
                    in_data = True
                continue
            parts = line.split(":")
            if len(parts) != n_dims + 1:
                raise DataError(f"{path}: line {lineno}: {len(parts) - 1} dimensions, expected {n_dims}")
            try:
                dims = [np.array([float(v) if v != "?" else np.nan for v in p.split(",")]) for p in parts[:-1]]
            except ValueError as exc:
                raise DataError(f"{path}: line {lineno}: non-numeric value ({exc})") from exc
            if len({len(d) for d in dims}) != 1:
                raise DataError(f"{path}: line {lineno}: dimensions have different lengths")
            cases.append(np.stack(dims, axis=1))
            labels.append(parts[-1].strip())
    if not in_data:
        raise DataError(f"{path}: no @data section")
    return cases, labels


def load(spec: DatasetSpec, raw: Path) -> Iterator[Recording]:
    raw = check_raw_dir(spec, raw)
    by_name = {c.name.lower(): c.raw_id for c in spec.classes}
    found = False
    for split in ("train", "test"):
        files = sorted(raw.glob(f"*_{split.upper()}.ts"))
        if len(files) > 1:
            raise DataError(f"{raw}: several *_{split.upper()}.ts files: {[f.name for f in files]}")
        if not files:
            continue
        found = True
        cases, labels = read_ts(files[0], len(spec.channels))
        for i, (x, lab) in enumerate(zip(cases, labels)):
            if lab.lower() not in by_name:
                raise DataError(f"{files[0]}: case {i + 1}: unknown label {lab!r}; expected one of "
                                f"{[c.name for c in spec.classes]}")
            yield Recording(
                subject=f"{split}-{i + 1:04d}",
                source=str(files[0]),
                data=x,
                labels=np.full(len(x), by_name[lab.lower()], dtype=np.int64),
                fixed_split=split,  # type: ignore[arg-type]
            )
    if not found:
        raise DataError(f"{raw}: no *_TRAIN.ts / *_TEST.ts files found (expected {spec.raw_layout})")
