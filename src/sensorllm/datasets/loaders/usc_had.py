"""Raw-file loader for USC-HAD (USC Human Activity Dataset).

Layout: ``Subject{1..14}/a{1..12}t{1..5}.mat`` under the raw directory (or under its ``USC-HAD/`` folder,
as the zip extracts); folder and file names are matched case-insensitively. Each file is a MATLAB v5 file
holding one trial of one activity at 100 Hz:

* ``sensor_readings``: N x 6 — accelerometer x, y, z (g), gyroscope x, y, z (deg/s); units unchanged;
* ``activity_number``: the activity id, usually as a string (some files spell the variable
  ``activity_numbr``); it must agree with the ``a{k}`` of the file name when present.

Every sample of a trial gets the label ``k`` from the file name. One recording per file, ordered by
subject, activity and trial number.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import numpy as np
import scipy.io

from ..spec import DataError, DatasetSpec, Recording
from ._io import check_raw_dir, column_indices

__all__ = ["load", "COLUMN_OF", "find_files"]

COLUMN_OF: dict[str, int] = {
    "x_acc": 0, "y_acc": 1, "z_acc": 2,
    "x_gyro": 3, "y_gyro": 4, "z_gyro": 5,
}
"""Spec channel name → column of ``sensor_readings``."""

DATA_VARIABLE = "sensor_readings"
ACTIVITY_VARIABLES = ("activity_number", "activity_numbr")
N_COLUMNS = 6

_SUBJECT_RE = re.compile(r"^subject\s*(\d+)$", re.IGNORECASE)
_FILE_RE = re.compile(r"^a(\d+)t(\d+)\.mat$", re.IGNORECASE)
_ROOTS = ("", "USC-HAD")


def find_files(spec: DatasetSpec, raw: Path) -> list[tuple[int, int, int, Path]]:
    """(subject, activity, trial, path) of every trial file, sorted numerically."""
    for sub in _ROOTS:
        root = raw / sub if sub else raw
        if not root.is_dir():
            continue
        found: list[tuple[int, int, int, Path]] = []
        for folder in root.iterdir():
            m = _SUBJECT_RE.match(folder.name)
            if not (m and folder.is_dir()):
                continue
            subject = int(m.group(1))
            for p in folder.iterdir():
                f = _FILE_RE.match(p.name)
                if f and p.is_file():
                    found.append((subject, int(f.group(1)), int(f.group(2)), p))
        if found:
            found.sort(key=lambda r: r[:3])
            for prev, cur in zip(found, found[1:]):
                if prev[:3] == cur[:3]:
                    raise DataError(f"{spec.name}: two files for the same trial: {prev[3]} and {cur[3]}")
            return found
    places = ", ".join(str(raw / s) if s else str(raw) for s in _ROOTS)
    raise DataError(f"{spec.name}: no Subject*/a*t*.mat files found in {places}; expected {spec.raw_layout}")


def load(spec: DatasetSpec, raw: Path) -> Iterator[Recording]:
    """One recording per trial file; labels are the file name's activity id."""
    raw = check_raw_dir(spec, raw)
    cols = column_indices(spec, COLUMN_OF)
    files = find_files(spec, raw)
    return _recordings(files, cols)


def _recordings(files: list[tuple[int, int, int, Path]], cols: list[int]) -> Iterator[Recording]:
    for subject, activity, _trial, path in files:
        readings, stored = _read_mat(path)
        if stored is not None and stored != activity:
            raise DataError(
                f"{path}: variable activity_number is {stored} but the file name says activity {activity}"
            )
        data = np.ascontiguousarray(readings[:, cols], dtype=np.float64)
        labels = np.full(len(data), activity, dtype=np.int64)
        yield Recording(subject=str(subject), source=str(path), data=data, labels=labels)


def _read_mat(path: Path) -> tuple[np.ndarray, int | None]:
    try:
        mat = scipy.io.loadmat(
            str(path), variable_names=[DATA_VARIABLE, *ACTIVITY_VARIABLES], mat_dtype=False
        )
    except NotImplementedError as exc:  # MATLAB v7.3 (HDF5) files
        raise DataError(
            f"{path}: unsupported MAT-file version ({exc}); expected a MATLAB v5 .mat file"
        ) from exc
    except Exception as exc:  # scipy raises ValueError, TypeError, OSError, MatReadError... for bad files
        raise DataError(f"{path}: cannot read as a MATLAB .mat file: {exc}") from exc
    if DATA_VARIABLE not in mat:
        raise DataError(f"{path}: no variable {DATA_VARIABLE!r} (an N x {N_COLUMNS} array) in the file")
    readings = np.asarray(mat[DATA_VARIABLE])
    if readings.ndim != 2 or readings.shape[1] != N_COLUMNS or readings.shape[0] == 0:
        raise DataError(
            f"{path}: {DATA_VARIABLE} has shape {readings.shape}; expected N x {N_COLUMNS} "
            "(acc x,y,z in g; gyro x,y,z in deg/s) with N > 0"
        )
    if readings.dtype.kind not in "iuf":
        raise DataError(f"{path}: {DATA_VARIABLE} has non-numeric type {readings.dtype}")
    stored = None
    for name in ACTIVITY_VARIABLES:
        if name in mat:
            stored = _as_int(path, name, mat[name])
            break
    return readings, stored


def _as_int(path: Path, name: str, value: object) -> int:
    """An activity id stored as a MATLAB string ('5') or number (5)."""
    flat = np.asarray(value).ravel()
    if flat.size == 1:
        item = flat[0]
        try:
            if isinstance(item, (str, np.str_)):
                return int(str(item).strip())
            num = float(item)  # type: ignore[arg-type]
            if num.is_integer():
                return int(num)
        except (TypeError, ValueError):
            pass
    raise DataError(f"{path}: variable {name} = {flat.tolist()!r} is not a single integer activity id")
