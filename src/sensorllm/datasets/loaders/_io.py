"""Shared raw-file helpers: numeric table reading with errors that name the file and line."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from ..spec import DataError

__all__ = ["read_numeric_table", "require_dir"]


def require_dir(raw: Path, layout: str) -> Path:
    raw = Path(raw)
    if not raw.is_dir():
        raise DataError(f"raw data directory {raw} does not exist (expected {layout})")
    return raw


def _locate_bad_line(path: Path, sep: str | None, ncols: int | None, allow_nan: bool = False) -> str:
    """Scan a text table for the first line that is not `ncols` numbers; describe it (slow path, errors only).

    With ``allow_nan`` an all-good file returns ``""`` (NaN cells are numbers there)."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt") as fh:  # type: ignore[operator]
            for lineno, line in enumerate(fh, 1):
                cells = line.split(sep) if sep not in (None, r"\s+") else line.split()
                cells = [c.strip() for c in cells]
                if not line.strip():
                    continue
                if ncols is not None and len(cells) != ncols:
                    return f"line {lineno}: {len(cells)} columns, expected {ncols}"
                for col, c in enumerate(cells, 1):
                    try:
                        float(c)
                    except ValueError:
                        return f"line {lineno}, column {col}: non-numeric value {c!r}"
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        return f"file is unreadable or truncated ({exc})"
    return "" if allow_nan else "could not parse"


def read_numeric_table(path: Path, ncols: int | None, sep: str | None = r"\s+") -> np.ndarray:
    """Read a whitespace/sep-separated numeric text table (optionally .gz) into float64 ``(N, ncols)``.

    ``NaN`` cells are allowed. Raises :class:`DataError` naming the file and the first bad line.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"missing file {path}")
    try:
        df = pd.read_csv(path, sep=sep, header=None, dtype=np.float64, engine="c")
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path}: file is empty") from exc
    except (ValueError, pd.errors.ParserError, OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: {_locate_bad_line(path, sep, ncols)}") from exc
    arr = df.to_numpy()
    if np.isnan(arr).any():
        # pandas pads short rows with NaN: tell real NaN cells from missing ones by scanning (rare path)
        problem = _locate_bad_line(path, sep, ncols or arr.shape[1], allow_nan=True)
        if problem:
            raise DataError(f"{path}: {problem}")
    if ncols is not None and arr.shape[1] != ncols:
        raise DataError(f"{path}: {_locate_bad_line(path, sep, ncols)} (found {arr.shape[1]} columns, "
                        f"expected {ncols})")
    return arr
