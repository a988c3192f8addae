"""UCI-HAR loader.

Two raw layouts are understood:

* **HAPT raw recordings** (preferred; what `../shared/datasets/UCI-HAPT/RawData` holds): one
  ``acc_expEE_userUU.txt[.gz]`` (total acceleration, g) and ``gyro_expEE_userUU.txt[.gz]`` (rad/s) per
  experiment, and ``labels.txt`` with rows ``exp user activity start end`` (0-based inclusive sample
  indices). Each experiment becomes one recording; samples outside labelled segments are unlabelled (-1).
* **Official UCI-HAR** (``UCI HAR Dataset/``): ``{train,test}/Inertial Signals/total_acc_{x,y,z}_*.txt``
  and ``body_gyro_{x,y,z}_*.txt`` (already windowed, 128 samples, 50 % overlap) with ``subject_*.txt``
  and ``y_*.txt``. Each official window becomes one 128-sample recording, so the 128/64 windowing yields it
  unchanged. Note: the official ``body_gyro`` signals are Butterworth-filtered, the HAPT ones are raw.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import numpy as np

from ..spec import DataError, DatasetSpec, Recording
from ._io import check_raw_dir, read_numeric_table

_ACC = re.compile(r"acc_exp(\d+)_user(\d+)\.txt(\.gz)?$")


def _official_root(raw: Path) -> Path | None:
    for cand in (raw, raw / "UCI HAR Dataset"):
        if (cand / "train" / "Inertial Signals").is_dir() or (cand / "test" / "Inertial Signals").is_dir():
            return cand
    return None


def load(spec: DatasetSpec, raw: Path) -> Iterator[Recording]:
    raw = check_raw_dir(spec, raw)
    official = _official_root(raw)
    if official is not None and not any(raw.glob("acc_exp*")):
        yield from _load_official(spec, official)
        return
    yield from _load_hapt(spec, raw)


def _read_labels(path: Path) -> dict[tuple[int, int], list[tuple[int, int, int]]]:
    table = read_numeric_table(path, 5)
    segs: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
    for lineno, row in enumerate(table.astype(np.int64), 1):
        exp, user, act, start, end = (int(v) for v in row)
        if end < start:
            raise DataError(f"{path}: line {lineno}: segment end {end} < start {start}")
        segs.setdefault((exp, user), []).append((act, start, end))
    return segs


def _load_hapt(spec: DatasetSpec, raw: Path) -> Iterator[Recording]:
    acc_files = sorted(p for p in raw.iterdir() if _ACC.search(p.name))
    if not acc_files:
        raise DataError(f"{raw}: no acc_expEE_userUU.txt[.gz] files found (expected {spec.raw_layout})")
    labels_path = raw / "labels.txt"
    if not labels_path.exists():
        raise DataError(f"missing file {labels_path} (HAPT labels: exp user activity start end)")
    segments = _read_labels(labels_path)
    for acc_path in acc_files:
        m = _ACC.search(acc_path.name)
        assert m is not None
        exp, user = int(m.group(1)), int(m.group(2))
        gyro_path = acc_path.with_name(acc_path.name.replace("acc_", "gyro_", 1))
        if not gyro_path.exists():
            raise DataError(f"missing file {gyro_path} (gyroscope partner of {acc_path.name})")
        acc = read_numeric_table(acc_path, 3, allow_nan=True)
        gyro = read_numeric_table(gyro_path, 3, allow_nan=True)
        if len(acc) != len(gyro):
            raise DataError(f"{acc_path} has {len(acc)} samples but {gyro_path} has {len(gyro)}")
        labels = np.full(len(acc), -1, dtype=np.int64)
        for act, start, end in segments.get((exp, user), []):
            if end >= len(acc):
                raise DataError(f"{labels_path}: segment exp {exp} user {user} ends at sample {end} "
                                f"but {acc_path.name} has only {len(acc)} samples")
            labels[start : end + 1] = act
        yield Recording(
            subject=str(user),
            source=f"{acc_path} + {gyro_path} + {labels_path}",
            data=np.concatenate([acc, gyro], axis=1),
            labels=labels,
        )


def _load_official(spec: DatasetSpec, root: Path) -> Iterator[Recording]:
    for split in ("train", "test"):
        sig = root / split / "Inertial Signals"
        if not sig.is_dir():
            continue
        names = [f"total_acc_{a}_{split}.txt" for a in "xyz"] + [f"body_gyro_{a}_{split}.txt" for a in "xyz"]
        arrays = [read_numeric_table(sig / n, 128) for n in names]
        subjects = read_numeric_table(root / split / f"subject_{split}.txt", 1)[:, 0].astype(int)
        y = read_numeric_table(root / split / f"y_{split}.txt", 1)[:, 0].astype(int)
        n = len(y)
        for name, a in zip(names, arrays):
            if a.shape[0] != n:
                raise DataError(f"{sig / name}: {a.shape[0]} rows but y_{split}.txt has {n}")
        if len(subjects) != n:
            raise DataError(f"{root / split / f'subject_{split}.txt'}: {len(subjects)} rows, expected {n}")
        data = np.stack(arrays, axis=-1)  # (N, 128, 6)
        for i in range(n):
            yield Recording(
                subject=str(subjects[i]),
                source=f"{sig / names[0]}",
                data=data[i],
                labels=np.full(data.shape[1], y[i], dtype=np.int64),
            )
