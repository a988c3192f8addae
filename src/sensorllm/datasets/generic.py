"""Your own data through the same pipeline: CSV/Parquet files plus a small YAML spec.

Files: every ``*.csv``, ``*.csv.gz`` and ``*.parquet`` in the raw directory, each with a subject column, a label
column and one column per channel (named as in the spec). A block of consecutive rows with the same subject (and
the same recording id, when the spec's ``recording_column`` is present) is one recording; windows never span two
recordings. Labels may be class names (case-insensitive), class codes (``{code: PEN, name: pendulum swing}``) or
the integer ids given in the spec; labels listed under ``ignore_labels`` (and empty cells) are unlabelled. See
``docs/datasets.md`` and ``configs/generic/example.yaml``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd
import yaml

from .spec import ChannelSpec, ClassSpec, DataError, DatasetSpec, Recording

__all__ = ["spec_from_yaml", "spec_from_dict", "load_generic"]

_REQUIRED = {"name", "rate_hz", "channels", "classes", "window", "stride"}
_OPTIONAL = {
    "title", "raw_rate_hz", "stage1_window", "test_subjects", "train_subjects", "val_fraction", "tail_window",
    "stage1_train_passes", "window_fraction", "max_gap", "notes", "subject_column", "label_column",
    "recording_column", "ignore_labels", "download", "citation", "val_subjects",
}
_CHANNEL_KEYS = {f.name for f in dataclasses.fields(ChannelSpec)}
_CLASS_KEYS = {"id", "code", "name", "description"}
_DEFAULT_RECORDING_COLUMN = "recording"


def _one_line(value: Any, what: str, where: str) -> str:
    text = "" if value is None else str(value).strip()
    if "\n" in text or "\r" in text:
        raise DataError(f"{where}: {what} must be one line; got {text!r}")
    return text


def _parse_classes(items: Any, where: str) -> tuple[ClassSpec, ...]:
    """``classes``: names (id = position), or mappings ``{name, id?, code?, description?}``.

    A ``code`` is what the label cells hold (``PEN``); ``name`` is the readable class name used everywhere else.
    """
    if not isinstance(items, list) or not items:
        raise DataError(f"{where}: 'classes' must be a non-empty list; got {items!r}")
    classes: list[ClassSpec] = []
    bare: list[int] = []  # entries given as a plain name
    coded: list[int] = []  # entries with a code
    for i, c in enumerate(items):
        if isinstance(c, str):
            name = _one_line(c, f"classes[{i}]", where)
            if not name:
                raise DataError(f"{where}: classes[{i}]: empty class name")
            classes.append(ClassSpec(raw_id=i, name=name))
            bare.append(i)
            continue
        if not isinstance(c, dict) or "name" not in c or set(c) - _CLASS_KEYS:
            raise DataError(f"{where}: classes[{i}] must be a name or a mapping with 'name' and optionally "
                            f"'id', 'code', 'description' (keys {sorted(_CLASS_KEYS)}); got {c!r}")
        name = _one_line(c["name"], f"classes[{i}].name", where)
        if not name:
            raise DataError(f"{where}: classes[{i}]: empty 'name' in {c!r}")
        raw_id = c.get("id", i)
        if isinstance(raw_id, bool) or not isinstance(raw_id, int):
            try:
                raw_id = int(str(raw_id).strip())
            except ValueError:
                raise DataError(f"{where}: classes[{i}] ({name!r}): 'id' must be an integer; got {c['id']!r}") from None
        code = ""
        if "code" in c:
            code = _one_line(c["code"], f"classes[{i}].code", where)
            if not code:
                raise DataError(f"{where}: classes[{i}] ({name!r}): empty 'code'")
            coded.append(i)
        description = _one_line(c.get("description"), f"classes[{i}].description ({name!r})", where)
        classes.append(ClassSpec(raw_id=raw_id, name=name, description=description, code=code))
    if coded and bare:
        j, k = bare[0], coded[0]
        raise DataError(
            f"{where}: classes[{j}] {classes[j].name!r} has no readable name, but other classes map a code to a "
            f"name (classes[{k}]: {classes[k].code!r} -> {classes[k].name!r}); write "
            f"{{code: {classes[j].name}, name: ...}} for it (or use plain names for every class)")
    # Every text a label cell may hold (names and codes, case-insensitive) must pick exactly one class.
    owner: dict[str, int] = {}
    for i, cls in enumerate(classes):
        for text in {cls.name.lower(), cls.code.lower()} - {""}:
            j = owner.setdefault(text, i)
            if j != i:
                raise DataError(f"{where}: classes[{i}] and classes[{j}] both use the label text {text!r} "
                                "(names and codes are compared case-insensitively)")
    ids = {str(cls.raw_id): i for i, cls in enumerate(classes)}
    for text, i in owner.items():
        if ids.get(text, i) != i:
            raise DataError(f"{where}: classes[{i}] uses the label text {text!r}, which is the id of "
                            f"classes[{ids[text]}] ({classes[ids[text]].name!r})")
    return tuple(classes)


def spec_from_yaml(path: str | Path) -> DatasetSpec:
    """Build a :class:`DatasetSpec` from a YAML file (safe loading); errors name the file and key."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"missing spec file {path}")
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise DataError(f"{path}: invalid YAML ({exc})") from exc
    if not isinstance(doc, dict):
        raise DataError(f"{path}: expected a mapping at the top level")
    return spec_from_dict(doc, where=str(path))


def spec_from_dict(doc: dict[str, Any], where: str = "spec") -> DatasetSpec:
    errors = []
    missing = _REQUIRED - doc.keys()
    if missing:
        errors.append(f"missing keys: {', '.join(sorted(missing))}")
    unknown = doc.keys() - _REQUIRED - _OPTIONAL
    if unknown:
        errors.append(f"unknown keys: {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(_REQUIRED | _OPTIONAL))})")
    if errors:
        raise DataError(f"{where}: " + "; ".join(errors))
    channels = []
    for i, ch in enumerate(doc["channels"]):
        if isinstance(ch, str):
            ch = {"name": ch}
        bad = set(ch) - _CHANNEL_KEYS
        if bad or "name" not in ch:
            raise DataError(f"{where}: channels[{i}]: needs 'name'; allowed keys {sorted(_CHANNEL_KEYS)}; got {ch}")
        ch = {"description": ch["name"].replace("_", " "), "sensor": "other", "axis": "", "placement": "",
              "unit": "a.u.", **ch}
        channels.append(ChannelSpec(**ch))
    classes = _parse_classes(doc["classes"], where)
    window = int(doc["window"])
    subject_column = str(doc.get("subject_column", "subject"))
    label_column = str(doc.get("label_column", "label"))
    # recording_column: absent = "recording" if a file has it; a name = that column, required in every file;
    # null = none (rows of one subject in one file are one recording).
    recording_column = doc.get("recording_column", _DEFAULT_RECORDING_COLUMN)
    recording_column = None if recording_column is None else str(recording_column)
    special = {"subject_column": subject_column, "label_column": label_column}
    if "recording_column" in doc and recording_column is not None:
        special["recording_column"] = recording_column
    elif recording_column in (subject_column, label_column, *(c.name for c in channels)):
        recording_column = None  # the implicit default never shadows a column the spec names
    seen: dict[str, str] = {}
    for key, col in special.items():
        if col in [c.name for c in channels]:
            raise DataError(f"{where}: {key} {col!r} is also a channel name")
        if col in seen:
            raise DataError(f"{where}: {key} {col!r} is also the {seen[col]}")
        seen[col] = key
    ignore = doc.get("ignore_labels", []) or []
    if not isinstance(ignore, list):
        raise DataError(f"{where}: 'ignore_labels' must be a list; got {ignore!r}")
    ignore_labels = [str(v).strip().lower() for v in ignore]
    for v in ignore_labels:
        for i, cls in enumerate(classes):
            if v and v in {cls.name.lower(), cls.code.lower()}:
                raise DataError(f"{where}: ignore_labels entry {v!r} is class classes[{i}] ({cls.name!r}); "
                                "a label cannot be both a class and unlabelled")
    val_subjects = doc.get("val_subjects")
    if val_subjects is not None:
        if not isinstance(val_subjects, list):
            raise DataError(f"{where}: 'val_subjects' must be a list of subject ids; got {val_subjects!r}")
        if "val_fraction" in doc:
            raise DataError(f"{where}: give either 'val_subjects' or 'val_fraction', not both")
        val_subjects = tuple(str(v) for v in val_subjects)
        train = doc.get("train_subjects")
        if train is not None:
            outside = [v for v in val_subjects if v not in {str(t) for t in train}]
            if outside:
                raise DataError(f"{where}: val_subjects {outside} are not in train_subjects")
    meta = {
        "subject_column": subject_column,
        "label_column": label_column,
        "recording_column": recording_column,
        "recording_required": "recording_column" in doc and recording_column is not None,
        "ignore_labels": ignore_labels,
    }

    def loader(spec: DatasetSpec, raw: Path) -> Iterator[Recording]:
        return load_generic(spec, raw, **meta)

    try:
        return DatasetSpec(
            name=str(doc["name"]),
            title=str(doc.get("title", doc["name"])),
            channels=tuple(channels),
            rate_hz=float(doc["rate_hz"]),
            raw_rate_hz=float(doc.get("raw_rate_hz", doc["rate_hz"])),
            classes=tuple(classes),
            window=window,
            stride=int(doc["stride"]),
            stage1_window=tuple(doc.get("stage1_window", (5, window))),  # type: ignore[arg-type]
            test_subjects=tuple(str(s) for s in doc.get("test_subjects", [])),
            train_subjects=None if doc.get("train_subjects") is None else tuple(str(s) for s in doc["train_subjects"]),
            val_fraction=float(doc.get("val_fraction", 0.15)),
            val_subjects=val_subjects,
            tail_window=bool(doc.get("tail_window", False)),
            stage1_train_passes=int(doc.get("stage1_train_passes", 1)),
            window_fraction=float(doc.get("window_fraction", 1.0)),
            max_gap=int(doc.get("max_gap", 10)),
            notes=str(doc.get("notes", "")),
            download=str(doc.get("download", "")),
            citation=str(doc.get("citation", "")),
            raw_layout="*.csv / *.csv.gz / *.parquet with columns "
            f"{subject_column}, {label_column}, {', '.join(c.name for c in channels)}"
            + (f" (and {recording_column})" if meta["recording_required"] else ""),
            loader=loader,
        )
    except (ValueError, TypeError) as exc:
        raise DataError(f"{where}: {exc}") from exc


def _read_table(path: Path) -> pd.DataFrame:
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except Exception as exc:  # pandas/pyarrow raise many types; report them uniformly with the file
        raise DataError(f"{path}: cannot read table ({type(exc).__name__}: {exc})") from exc


def _label_key(value: Any) -> str | None:
    """A label cell as text (``3.0`` → ``"3"``); ``None`` for an empty cell."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (int, np.integer, float, np.floating)) and float(value).is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def _id_cells(df: pd.DataFrame, column: str, path: Path, what: str) -> np.ndarray:
    """A subject/recording column as strings; an empty cell is an error naming the file, line and column."""
    col = df[column]
    empty = col.isna().to_numpy() | (col.astype(str).str.strip() == "").to_numpy()
    if empty.any():
        row = int(np.flatnonzero(empty)[0])
        raise DataError(f"{path}: line {row + 2}, column {column!r}: empty {what} id {col.iloc[row]!r}")
    return np.array([_label_key(v) for v in col.tolist()], dtype=object)


def load_generic(
    spec: DatasetSpec, raw: Path, subject_column: str, label_column: str, ignore_labels: list[str],
    recording_column: str | None = _DEFAULT_RECORDING_COLUMN, recording_required: bool = False,
) -> Iterator[Recording]:
    raw = Path(raw)
    if not raw.is_dir():
        raise DataError(f"raw data directory {raw} does not exist (expected {spec.raw_layout})")
    files = sorted(p for p in raw.iterdir() if p.name.endswith((".csv", ".csv.gz", ".parquet")))
    if not files:
        raise DataError(f"{raw}: no CSV/Parquet files found (expected {spec.raw_layout})")
    by_text: dict[str, int] = {}
    for c in spec.classes:
        by_text[c.name.lower()] = c.raw_id
        if c.code:
            by_text[c.code.lower()] = c.raw_id
    by_id = {str(c.raw_id): c.raw_id for c in spec.classes}
    expected = [c.code or c.name for c in spec.classes]
    ignore = set(ignore_labels)
    needed = [subject_column, label_column, *spec.channel_names]
    for path in files:
        df = _read_table(path)
        if len(df) == 0:
            raise DataError(f"{path}: no data rows (expected columns {needed})")
        missing = [c for c in needed if c not in df.columns]
        if recording_required and recording_column not in df.columns:
            missing.append(recording_column)
        if missing:
            raise DataError(f"{path}: missing columns {missing}; found {list(df.columns)}")
        values = np.empty((len(df), len(spec.channels)), dtype=np.float64)
        for j, name in enumerate(spec.channel_names):
            col = pd.to_numeric(df[name], errors="coerce")
            bad = col.isna() & df[name].notna()
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise DataError(f"{path}: line {row + 2}, column {name!r}: non-numeric value {df[name].iloc[row]!r}")
            values[:, j] = col.to_numpy(dtype=np.float64)
        labels = np.full(len(df), -1, dtype=np.int64)
        for row, lab in enumerate(df[label_column].tolist()):
            key = _label_key(lab)
            if key is None or key.lower() in ignore:
                continue
            if key.lower() in by_text:
                labels[row] = by_text[key.lower()]
            elif key in by_id:
                labels[row] = by_id[key]
            else:
                raise DataError(f"{path}: line {row + 2}: unknown label {lab!r} in column {label_column!r}; "
                                f"expected one of {expected} (or list it under ignore_labels)")
        subjects = _id_cells(df, subject_column, path, "subject")
        change = subjects[1:] != subjects[:-1]
        recs = None
        if recording_column is not None and recording_column in df.columns:
            recs = _id_cells(df, recording_column, path, "recording")
            change |= recs[1:] != recs[:-1]
        bounds = np.flatnonzero(change) + 1
        for s, e in zip(np.concatenate([[0], bounds]), np.concatenate([bounds, [len(df)]])):
            yield Recording(subject=str(subjects[s]), source=str(path), data=values[s:e], labels=labels[s:e],
                            name="" if recs is None else str(recs[s]))
