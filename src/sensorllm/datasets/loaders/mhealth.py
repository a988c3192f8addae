"""Raw-file loader for MHEALTH (UCI dataset 319).

Layout: ``mHealth_subject{1..10}.log`` directly in the raw directory (or in its ``MHEALTHDATASET/``
folder, as the UCI zip extracts). Each line holds 24 tab-separated numbers, 50 Hz:

====== ======================================================
column content (0-based)
====== ======================================================
0-2    chest accelerometer x, y, z (m/s^2)                    kept
3-4    ECG leads 1 and 2 (mV)                                 dropped
5-7    left-ankle accelerometer x, y, z (m/s^2)               kept
8-10   left-ankle gyroscope x, y, z (deg/s)                   kept
11-13  left-ankle magnetometer x, y, z (local)                dropped
14-16  right-lower-arm accelerometer x, y, z (m/s^2)          kept
17-19  right-lower-arm gyroscope x, y, z (deg/s)              kept
20-22  right-lower-arm magnetometer x, y, z (local)           dropped
23     activity label (0 = null class, 1-12 = activities)
====== ======================================================

The kept columns are exactly the spec's 15 channels; units are passed through unchanged. The whitespace
table reader here is shared with the PAMAP2 loader.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pandas as pd

from ..spec import DataError, DatasetSpec, Recording

__all__ = ["load", "COLUMN_OF", "N_COLUMNS", "LABEL_COLUMN", "read_numeric_table", "line_of_row"]

N_COLUMNS = 24
LABEL_COLUMN = 23

COLUMN_OF: dict[str, int] = {
    "chest_x_acc": 0, "chest_y_acc": 1, "chest_z_acc": 2,
    "la_x_acc": 5, "la_y_acc": 6, "la_z_acc": 7,
    "la_x_gyro": 8, "la_y_gyro": 9, "la_z_gyro": 10,
    "rla_x_acc": 14, "rla_y_acc": 15, "rla_z_acc": 16,
    "rla_x_gyro": 17, "rla_y_gyro": 18, "rla_z_gyro": 19,
}
"""Spec channel name → 0-based column of the ``.log`` file."""

_FILE_RE = re.compile(r"^mhealth_subject(\d+)\.log$", re.IGNORECASE)
_SUBDIRS = ("", "MHEALTHDATASET")

# Cell texts read as NaN where missing values are allowed (PAMAP2 writes "NaN").
NAN_TEXTS = ("NaN", "nan", "NAN")


# ---- shared helpers for whitespace-separated numeric text files ---------------------------------------------


def read_numeric_table(path: Path, n_cols: int, *, allow_nan: bool = False, what: str = "") -> np.ndarray:
    """Read a whitespace-separated numeric text file with exactly ``n_cols`` columns as float64.

    Fast path: one pandas C-engine pass. On any problem the file is scanned line by line to name the
    first offending line, so the :class:`DataError` says file, line, column and what was expected.
    ``allow_nan`` lets the text ``NaN`` through as a missing value; otherwise it is an error.
    """
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
    except (ValueError, OSError, UnicodeDecodeError) as exc:  # ParserError is a ValueError
        raise _diagnose(path, n_cols, allow_nan, what, exc) from exc
    if df.shape[1] != n_cols:
        raise _diagnose(path, n_cols, allow_nan, what, None)
    if df.shape[0] == 0:
        raise DataError(f"{path}: no data rows; expected rows of {n_cols} numeric columns{what}")
    return df.to_numpy(dtype=np.float64)


def _iter_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(1-based physical line number, whitespace-split fields) for every non-blank line."""
    with open(path, encoding="utf-8", errors="replace") as fh:
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
    except OSError as err:
        return DataError(f"{path}: cannot read file: {err}")
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
            f"{values[row]!r} is not an integer activity id"
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


# ---- loader ---------------------------------------------------------------------------------------------------


def load(spec: DatasetSpec, raw: Path) -> Iterator[Recording]:
    """One recording per ``mHealth_subject{N}.log``, subjects in numeric order, at 50 Hz."""
    raw = check_raw_dir(spec, raw)
    cols = column_indices(spec, COLUMN_OF)
    files = find_numbered_files(spec, raw, _FILE_RE, _SUBDIRS)
    return _recordings(files, cols)


def _recordings(files: list[tuple[int, Path]], cols: list[int]) -> Iterator[Recording]:
    what = " (mHealth: 23 sensor columns + label)"
    for subject, path in files:
        table = read_numeric_table(path, N_COLUMNS, allow_nan=False, what=what)
        labels = integer_labels(path, table[:, LABEL_COLUMN], LABEL_COLUMN)
        data = np.ascontiguousarray(table[:, cols], dtype=np.float64)
        del table
        yield Recording(subject=str(subject), source=str(path), data=data, labels=labels)
