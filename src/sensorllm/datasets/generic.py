"""Your own data through the same pipeline: CSV/Parquet files plus a small YAML spec.

Files: every ``*.csv``, ``*.csv.gz`` and ``*.parquet`` in the raw directory, each with a subject column, a label
column and one column per channel (named as in the spec). Rows of one subject inside one file, in file order,
form one recording (add a ``recording`` column to split a file further). Labels may be class names
(case-insensitive) or the integer ids given in the spec; labels listed under ``ignore_labels`` (and empty
cells) are unlabelled. See ``docs/datasets.md`` and ``configs/generic/example.yaml``.
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
    "ignore_labels", "download", "citation",
}
_CHANNEL_KEYS = {f.name for f in dataclasses.fields(ChannelSpec)}


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
    classes = []
    for i, c in enumerate(doc["classes"]):
        if isinstance(c, str):
            classes.append(ClassSpec(raw_id=i, name=c))
        elif isinstance(c, dict) and set(c) == {"id", "name"}:
            classes.append(ClassSpec(raw_id=int(c["id"]), name=str(c["name"])))
        else:
            raise DataError(f"{where}: classes[{i}] must be a name or {{id, name}}; got {c!r}")
    window = int(doc["window"])
    meta = {
        "subject_column": doc.get("subject_column", "subject"),
        "label_column": doc.get("label_column", "label"),
        "ignore_labels": [str(v).lower() for v in doc.get("ignore_labels", [])],
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
            tail_window=bool(doc.get("tail_window", False)),
            stage1_train_passes=int(doc.get("stage1_train_passes", 1)),
            window_fraction=float(doc.get("window_fraction", 1.0)),
            max_gap=int(doc.get("max_gap", 10)),
            notes=str(doc.get("notes", "")),
            download=str(doc.get("download", "")),
            citation=str(doc.get("citation", "")),
            raw_layout="*.csv / *.csv.gz / *.parquet with columns "
            f"{meta['subject_column']}, {meta['label_column']}, {', '.join(c.name for c in channels)}",
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


def load_generic(
    spec: DatasetSpec, raw: Path, subject_column: str, label_column: str, ignore_labels: list[str]
) -> Iterator[Recording]:
    raw = Path(raw)
    if not raw.is_dir():
        raise DataError(f"raw data directory {raw} does not exist (expected {spec.raw_layout})")
    files = sorted(p for p in raw.iterdir() if p.name.endswith((".csv", ".csv.gz", ".parquet")))
    if not files:
        raise DataError(f"{raw}: no CSV/Parquet files found (expected {spec.raw_layout})")
    by_name = {c.name.lower(): c.raw_id for c in spec.classes}
    by_id = {str(c.raw_id): c.raw_id for c in spec.classes}
    needed = [subject_column, label_column, *spec.channel_names]
    for path in files:
        df = _read_table(path)
        if len(df) == 0:
            raise DataError(f"{path}: no data rows (expected columns {needed})")
        missing = [c for c in needed if c not in df.columns]
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
            if lab is None or (isinstance(lab, float) and np.isnan(lab)):
                continue
            key = str(int(lab)) if isinstance(lab, (int, np.integer, float)) and float(lab).is_integer() else str(lab)
            if key.lower() in ignore_labels:
                continue
            if key.lower() in by_name:
                labels[row] = by_name[key.lower()]
            elif key in by_id:
                labels[row] = by_id[key]
            else:
                raise DataError(f"{path}: line {row + 2}: unknown label {lab!r}; expected one of "
                                f"{spec.class_names} (or list it under ignore_labels)")
        groups = [subject_column] + (["recording"] if "recording" in df.columns else [])
        keys = df[groups].astype(str).agg("/".join, axis=1).to_numpy()
        change = np.flatnonzero(keys[1:] != keys[:-1]) + 1
        for s, e in zip(np.concatenate([[0], change]), np.concatenate([change, [len(df)]])):
            yield Recording(subject=str(df[subject_column].iloc[s]), source=str(path),
                            data=values[s:e], labels=labels[s:e])
