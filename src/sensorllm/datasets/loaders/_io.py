"""Shared raw-file helpers: numeric text tables (optionally gzip-compressed) read with errors that name the
file, line and column, plus raw-directory and file-discovery checks used by every loader."""

from __future__ import annotations

import gzip
import re
import zlib
from pathlib import Path
from typing import IO, Iterable, Iterator

import numpy as np
import pandas as pd

from ..spec import DataError, DatasetSpec

__all__ = [
    "read_numeric_table",
    "line_of_row",
    "integer_labels",
    "column_indices",
    "check_raw_dir",
    "find_numbered_files",
    "NAN_TEXTS",
]


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


# Cell texts read as NaN where missing values are allowed (PAMAP2 writes "NaN").
NAN_TEXTS = ("NaN", "nan", "NAN")


def read_numeric_table(path: Path, n_cols: int, *, allow_nan: bool = False, what: str = "") -> np.ndarray:
    """Read a whitespace-separated numeric text file with exactly ``n_cols`` columns as float64.

    Fast path: one pandas C-engine pass. On any problem the file is scanned line by line to name the
    first offending line, so the :class:`DataError` says file, line, column and what was expected.
    ``allow_nan`` lets the text ``NaN`` through as a missing value; otherwise it is an error.
    """
    if not path.exists():
        raise DataError(f"missing file {path}")
    try:
        df = pd.read_csv(
            path,
            sep=r"\s+",
            header=None,
            engine="c",
            dtype=np.float64,
            keep_default_na=False,
            na_values=list(NAN_TEXTS) if allow_nan else [],
        )
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path}: file is empty; expected rows of {n_cols} numeric columns{what}") from exc
    except (ValueError, OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:  # ParserError is a ValueError
        raise _diagnose(path, n_cols, allow_nan, what, exc) from exc
    if df.shape[1] != n_cols:
        raise _diagnose(path, n_cols, allow_nan, what, None)
    if df.shape[0] == 0:
        raise DataError(f"{path}: no data rows; expected rows of {n_cols} numeric columns{what}")
    return df.to_numpy(dtype=np.float64)


def _iter_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(1-based physical line number, whitespace-split fields) for every non-blank line."""
    with _open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            fields = line.split()
            if fields:
                yield lineno, fields


def _diagnose(path: Path, n_cols: int, allow_nan: bool, what: str, exc: Exception | None) -> DataError:
    """Find the first bad line of a file that pandas could not read as an ``n_cols`` numeric table."""
    try:
        for lineno, fields in _iter_rows(path):
            if len(fields) != n_cols:
                return DataError(
                    f"{path}: line {lineno}: found {len(fields)} columns, expected {n_cols}{what}"
                )
            for j, tok in enumerate(fields):
                try:
                    value = float(tok)
                except ValueError:
                    return DataError(
                        f"{path}: line {lineno}, column {j + 1} (1-based): non-numeric cell {tok!r}; "
                        f"expected a number{' or NaN' if allow_nan else ''}"
                    )
                if np.isnan(value) and not allow_nan:
                    return DataError(
                        f"{path}: line {lineno}, column {j + 1} (1-based): missing value {tok!r}; "
                        "this dataset has no missing values"
                    )
    except (OSError, EOFError, zlib.error) as err:
        return DataError(f"{path}: cannot read file (unreadable or truncated): {err}")
    detail = f": {exc}" if exc is not None else ""
    return DataError(f"{path}: cannot parse as {n_cols} whitespace-separated numeric columns{what}{detail}")


def line_of_row(path: Path, row: int) -> int:
    """Physical 1-based line number of data row ``row`` (0-based, blank lines skipped); -1 if unknown."""
    try:
        for i, (lineno, _) in enumerate(_iter_rows(path)):
            if i == row:
                return lineno
    except OSError:
        pass
    return -1


def integer_labels(path: Path, values: np.ndarray, column: int, name: str = "label") -> np.ndarray:
    """``values`` as int64, or a :class:`DataError` naming the first non-integer cell's line."""
    bad = ~np.isfinite(values) | (values != np.round(values))
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(
            f"{path}: line {line_of_row(path, row)}, column {column + 1} (1-based): {name} "
            f"{float(values[row])!r} is not an integer activity id"
        )
    return values.astype(np.int64)


def column_indices(spec: DatasetSpec, column_of: dict[str, int]) -> list[int]:
    """The raw-file column for each spec channel, in spec order."""
    missing = [n for n in spec.channel_names if n not in column_of]
    if missing:
        raise DataError(
            f"dataset {spec.name!r}: channels {missing} do not exist in the raw files; "
            f"available: {sorted(column_of, key=column_of.__getitem__)}"
        )
    return [column_of[n] for n in spec.channel_names]


def check_raw_dir(spec: DatasetSpec, raw: Path) -> Path:
    raw = Path(raw)
    if not raw.exists():
        raise DataError(
            f"{spec.name}: raw data directory {raw} does not exist; expected {spec.raw_layout} "
            f"(download: {spec.download})"
        )
    if not raw.is_dir():
        raise DataError(f"{spec.name}: raw data path {raw} is not a directory; expected {spec.raw_layout}")
    return raw


def find_numbered_files(
    spec: DatasetSpec, raw: Path, pattern: re.Pattern[str], subdirs: Iterable[str]
) -> list[tuple[int, Path]]:
    """(number, path) of files in the first of ``raw/subdir`` that has any matching ``pattern``, sorted by
    the number captured by the pattern's first group. Duplicate numbers are an error."""
    for sub in subdirs:
        folder = raw / sub if sub else raw
        if not folder.is_dir():
            continue
        found = sorted(
            (int(m.group(1)), p)
            for p in folder.iterdir()
            if p.is_file() and (m := pattern.match(p.name))
        )
        if found:
            seen: dict[int, Path] = {}
            for num, p in found:
                if num in seen:
                    raise DataError(f"{spec.name}: two files for subject {num}: {seen[num]} and {p}")
                seen[num] = p
            return found
    places = ", ".join(str(raw / s) if s else str(raw) for s in subdirs)
    raise DataError(f"{spec.name}: no raw files found in {places}; expected {spec.raw_layout}")


