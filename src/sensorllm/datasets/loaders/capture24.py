"""Raw-file loader for CAPTURE-24 (free-living wrist accelerometry, Oxford).

Layout: ``P{001..151}.csv.gz`` (uncompressed ``.csv`` also accepted) plus
``annotation-label-dictionary.csv`` in the raw directory (or in its ``capture24/`` folder, as the
archive extracts). Participant files are comma-separated with a header ``time,x,y,z,annotation`` at
100 Hz: ``x, y, z`` are wrist acceleration in g (kept, units unchanged), ``annotation`` is a
fine-grained free-text activity code (empty = unlabelled).

Labels: annotation → ``label:WillettsSpecific2018`` of the dictionary → raw id
``1 + CLASSES.index(label)``; empty annotations (and dictionary rows with an empty label) → -1.
An annotation missing from the dictionary, or a dictionary label not in :data:`CLASSES`, is a
:class:`DataError`.

Files are read in chunks of :data:`CHUNK_ROWS` rows; one participant (about 10 M rows) is held at a time.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from ..spec import DataError, DatasetSpec, Recording
from ._io import check_raw_dir

CLASSES = ["sleep", "sitting", "household-chores", "walking", "vehicle", "bicycling", "mixed-activity",
           "standing", "manual-work", "sports"]

__all__ = ["CLASSES", "load", "read_label_dictionary", "COLUMN_OF", "CHUNK_ROWS", "DICTIONARY_FILE",
           "LABEL_SCHEME"]

COLUMN_OF: dict[str, str] = {"x_acc": "x", "y_acc": "y", "z_acc": "z"}
"""Spec channel name → column of the participant CSV."""

ANNOTATION_COLUMN = "annotation"
DICTIONARY_FILE = "annotation-label-dictionary.csv"
LABEL_SCHEME = "label:WillettsSpecific2018"
UNLABELLED = -1
CHUNK_ROWS = 1_000_000

_FILE_RE = re.compile(r"^P(\d+)\.csv(\.gz)?$", re.IGNORECASE)
_SUBDIRS = ("", "capture24")
_READ_ERRORS = (ValueError, OSError, EOFError, UnicodeDecodeError, zlib.error)  # ParserError ⊂ ValueError
_FIELDS_RE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _find_files(spec: DatasetSpec, raw: Path) -> list[tuple[int, str, Path]]:
    for sub in _SUBDIRS:
        folder = raw / sub if sub else raw
        if not folder.is_dir():
            continue
        found = sorted(
            (int(m.group(1)), p.name.split(".")[0], p)
            for p in folder.iterdir()
            if p.is_file() and (m := _FILE_RE.match(p.name))
        )
        if found:
            for prev, cur in zip(found, found[1:]):
                if prev[0] == cur[0]:
                    raise DataError(
                        f"{spec.name}: two files for participant {cur[1]}: {prev[2]} and {cur[2]}"
                    )
            return found
    places = ", ".join(str(raw / s) if s else str(raw) for s in _SUBDIRS)
    raise DataError(
        f"{spec.name}: no P*.csv.gz participant files found in {places}; expected {spec.raw_layout}"
    )


def read_label_dictionary(path: Path, scheme: str = LABEL_SCHEME) -> dict[str, int]:
    """Map each fine-grained annotation to a raw label id (``1 + CLASSES.index(label)``, or -1 when the
    dictionary leaves the label empty)."""
    if not path.is_file():
        raise DataError(
            f"{path}: label dictionary not found; CAPTURE-24 ships {DICTIONARY_FILE} "
            "next to the P*.csv.gz files"
        )
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, engine="c")
    except _READ_ERRORS as exc:
        raise DataError(f"{path}: cannot read the label dictionary: {exc}") from exc
    for col in (ANNOTATION_COLUMN, scheme):
        if col not in table.columns:
            raise DataError(f"{path}: no column {col!r}; found columns {list(table.columns)}")
    out: dict[str, int] = {}
    for row, (ann, label) in enumerate(zip(table[ANNOTATION_COLUMN], table[scheme])):
        label = label.strip()
        if label == "":
            raw_id = UNLABELLED
        elif label in CLASSES:
            raw_id = 1 + CLASSES.index(label)
        else:
            raise DataError(
                f"{path}: line {row + 2}: {scheme} label {label!r} (annotation {ann!r}) "
                f"is not one of {CLASSES}"
            )
        if ann in out and out[ann] != raw_id:
            raise DataError(
                f"{path}: line {row + 2}: annotation {ann!r} is listed twice with different labels"
            )
        out[ann] = raw_id
    return out


def load(spec: DatasetSpec, raw: Path) -> Iterator[Recording]:
    """One recording per participant file, in participant order, at 100 Hz."""
    raw = check_raw_dir(spec, raw)
    missing = [n for n in spec.channel_names if n not in COLUMN_OF]
    if missing:
        raise DataError(f"dataset {spec.name!r}: channels {missing} do not exist in CAPTURE-24 files")
    cols = [COLUMN_OF[n] for n in spec.channel_names]
    files = _find_files(spec, raw)
    mapping = read_label_dictionary(files[0][2].parent / DICTIONARY_FILE)
    return _recordings(files, cols, mapping)


def _recordings(
    files: list[tuple[int, str, Path]], cols: list[str], mapping: dict[str, int]
) -> Iterator[Recording]:
    for _num, pid, path in files:
        data, labels = _read_participant(path, cols, mapping)
        yield Recording(subject=pid, source=str(path), data=data, labels=labels)


def _read_participant(path: Path, cols: list[str], mapping: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    try:
        header = list(pd.read_csv(path, nrows=0, engine="c").columns)
    except _READ_ERRORS as exc:
        raise DataError(f"{path}: cannot read the CSV header: {exc}") from exc
    need = [*cols, ANNOTATION_COLUMN]
    if any(c not in header for c in need):
        raise DataError(
            f"{path}: header has columns {header}; expected at least {need} (time,x,y,z,annotation)"
        )
    datas: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    offset = 0  # data rows read so far; line number of data row i is i + 2 (line 1 = header)
    try:
        # All columns are parsed (no usecols) so that a row with extra fields is reported, not ignored.
        reader = pd.read_csv(path, chunksize=CHUNK_ROWS, engine="c", dtype={ANNOTATION_COLUMN: "category"})
        with reader:
            for chunk in reader:
                datas.append(_numeric(path, chunk, cols, offset))
                labels.append(_labels(path, chunk[ANNOTATION_COLUMN], mapping, offset))
                offset += len(chunk)
    except DataError:
        raise
    except _READ_ERRORS as exc:
        m = _FIELDS_RE.search(str(exc))
        if m:
            raise DataError(
                f"{path}: line {m.group(2)}: found {m.group(3)} columns, "
                f"expected {m.group(1)} ({','.join(header)})"
            ) from exc
        raise DataError(f"{path}: cannot read near data row {offset + 1}: {exc}") from exc
    if offset == 0:
        raise DataError(f"{path}: no data rows after the header")
    data = np.concatenate(datas) if len(datas) > 1 else datas[0]
    return np.ascontiguousarray(data, dtype=np.float64), np.concatenate(labels)


def _numeric(path: Path, chunk: pd.DataFrame, cols: list[str], offset: int) -> np.ndarray:
    out = np.empty((len(chunk), len(cols)), dtype=np.float64)
    for j, name in enumerate(cols):
        col = chunk[name]
        if not pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
            num = pd.to_numeric(col, errors="coerce")
            bad = (num.isna() & col.notna()).to_numpy()
            if bad.any():
                i = int(np.argmax(bad))
                raise DataError(
                    f"{path}: line {offset + i + 2}, column {name!r}: non-numeric cell {col.iloc[i]!r}; "
                    "expected acceleration in g"
                )
            col = num
        out[:, j] = col.to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def _labels(path: Path, ann: pd.Series, mapping: dict[str, int], offset: int) -> np.ndarray:
    cat = ann.cat
    lookup = np.empty(len(cat.categories) + 1, dtype=np.int64)
    lookup[-1] = UNLABELLED  # code -1 = empty / NaN annotation
    for k, value in enumerate(cat.categories):
        raw_id = mapping.get(value)
        if raw_id is None:
            i = int(np.argmax(cat.codes.to_numpy() == k))
            raise DataError(
                f"{path}: line {offset + i + 2}: annotation {value!r} is not in {DICTIONARY_FILE}"
            )
        lookup[k] = raw_id
    return lookup[cat.codes.to_numpy()]
