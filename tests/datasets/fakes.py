"""Writers of small fake raw datasets in each dataset's official file layout (for tests).

Every writer creates the files under ``root`` (made if needed) and returns the directory to hand to the
dataset's loader. Values are deterministic for a given ``seed``. Signals are crude but activity-dependent
(a gravity direction and an oscillation frequency per activity), so the output can also drive windowing /
training smoke tests.

``tag_columns=True`` replaces every sensor column ``c`` (0-based, as in the raw file) by ``1000 * c`` plus
a small signal (|signal| < 100), so ``np.rint(value / 1000)`` reveals which raw column a value came from.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Sequence

import numpy as np
import scipy.io

__all__ = [
    "activity_runs",
    "write_fake_usc_had",
    "write_fake_mhealth",
    "write_fake_pamap2",
    "write_fake_capture24",
    "CAPTURE24_DICTIONARY",
    "USC_HAD_NAMES",
]

MHEALTH_ACTIVITIES = tuple(range(0, 13))  # 0 = null class
PAMAP2_ACTIVITIES = (0, 1, 2, 3, 4, 5, 6, 7, 12, 13, 16, 17, 24)  # 0 = transient

USC_HAD_NAMES = {
    1: "Walking Forward", 2: "Walking Left", 3: "Walking Right", 4: "Walking Upstairs",
    5: "Walking Downstairs", 6: "Running Forward", 7: "Jumping Up", 8: "Sitting", 9: "Standing",
    10: "Sleeping", 11: "Elevator Up", 12: "Elevator Down",
}

# Fake fine-grained annotations (annotation text → WillettsSpecific2018 label); the texts imitate the
# style of the real dictionary (code, description, MET value), including a comma that needs quoting.
CAPTURE24_DICTIONARY: dict[str, str] = {
    "7030 sleeping;MET 0.95": "sleep",
    "home activity;miscellaneous;sitting;9060 sitting reading, writing;MET 1.3": "sitting",
    "home activity;household chores;5035 kitchen activity general;MET 3.3": "household-chores",
    "walking;17150 walking household;MET 2.0": "walking",
    "transportation;private transportation;16010 driving automobile or light truck;MET 2.5": "vehicle",
    "leisure;sports;bicycling;1010 bicycling;MET 4.0": "bicycling",
    "home activity;miscellaneous;5060 shopping miscellaneous;MET 2.3": "mixed-activity",
    "home activity;miscellaneous;standing;9050 standing talking in person;MET 1.8": "standing",
    "occupation;interruption;11475 manual labour general;MET 2.8": "manual-work",
    "leisure;sports;15110 running general;MET 8.0": "sports",
}


def activity_runs(n_runs: int, run_length: int, activities: Sequence[int], seed: int = 0) -> np.ndarray:
    """Labels for ``n_runs`` consecutive runs of ``run_length`` samples, cycling through ``activities``
    (starting at a seed-dependent position)."""
    start = int(np.random.default_rng(seed).integers(len(activities)))
    ids = [activities[(start + i) % len(activities)] for i in range(n_runs)]
    return np.repeat(np.asarray(ids, dtype=np.int64), run_length)


def _signals(
    labels: np.ndarray, n_cols: int, rate: float, scale: float, rng: np.random.Generator
) -> np.ndarray:
    """(N, n_cols) activity-dependent signals: per-activity offset, sinusoid and noise, |x| < 3.5 * scale."""
    n = len(labels)
    t = np.arange(n) / rate
    out = np.empty((n, n_cols))
    for c in range(n_cols):
        lab = labels.astype(float)
        offset = np.cos(lab * 0.7 + c) * 1.0
        freq = 0.5 + 0.3 * (lab % 7)
        amp = 0.2 + 0.1 * (lab % 5)
        out[:, c] = offset + amp * np.sin(2 * np.pi * freq * t + c) + 0.05 * rng.standard_normal(n)
    return np.clip(out, -3.4, 3.4) * scale


def _tag(values: np.ndarray, columns: Sequence[int]) -> None:
    """In place: ``values[:, j] = 1000 * columns[j] + small signal``."""
    for j, c in enumerate(columns):
        values[:, j] = 1000.0 * c + np.clip(values[:, j], -99.0, 99.0)


# ---- USC-HAD -----------------------------------------------------------------------------------------------


def write_fake_usc_had(
    root: Path,
    subjects: Sequence[int] = (1, 2, 3),
    activities: Sequence[int] = (1, 2, 3),
    trials: Sequence[int] = (1, 2),
    n: int = 150,
    seed: int = 0,
    tag_columns: bool = False,
    activity_number_as: str = "str",
) -> Path:
    """``Subject{s}/a{a}t{t}.mat`` (MATLAB v5) with ``sensor_readings`` (n x 6: acc g, gyro dps) and the
    metadata variables of the real files. ``activity_number_as``: ``"str"`` (as most real files),
    ``"number"``, ``"numbr"`` (the misspelt variable name some real files use) or ``"none"``."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    for s in subjects:
        folder = root / f"Subject{s}"
        folder.mkdir(parents=True, exist_ok=True)
        for a in activities:
            for t in trials:
                labels = np.full(n, a)
                acc = _signals(labels, 3, 100.0, 0.5, rng)
                gyro = _signals(labels + 20, 3, 100.0, 40.0, rng)
                readings = np.concatenate([acc, gyro], axis=1)
                if tag_columns:
                    _tag(readings, range(6))
                mat: dict[str, object] = {
                    "title": "USC Human Activity Dataset",
                    "version": "1.0",
                    "date": "2010-01-01",
                    "subject": str(s),
                    "age": "30",
                    "height": "170cm",
                    "weight": "70kg",
                    "activity": USC_HAD_NAMES.get(a, "Unknown"),
                    "trial": str(t),
                    "sensor_location": "front-right-hip",
                    "sensor_orientation": "+X down, +Y front",
                    "sensor_readings": readings,
                }
                if activity_number_as == "str":
                    mat["activity_number"] = str(a)
                elif activity_number_as == "number":
                    mat["activity_number"] = float(a)
                elif activity_number_as == "numbr":
                    mat["activity_numbr"] = str(a)
                elif activity_number_as != "none":
                    raise ValueError(f"bad activity_number_as {activity_number_as!r}")
                scipy.io.savemat(folder / f"a{a}t{t}.mat", mat, format="5")
    return root


# ---- mHealth -----------------------------------------------------------------------------------------------


def write_fake_mhealth(
    root: Path,
    subjects: Sequence[int] = (1, 2, 3),
    seed: int = 0,
    run_length: int = 160,
    activities: Sequence[int] = MHEALTH_ACTIVITIES,
    tag_columns: bool = False,
) -> Path:
    """``mHealth_subject{s}.log``: 24 tab-separated columns (23 sensor columns, label last) at 50 Hz, one
    run of ``run_length`` samples per activity (including the null class 0)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for s in subjects:
        rng = np.random.default_rng(seed * 1000 + s)
        labels = activity_runs(len(activities), run_length, activities, seed=seed * 1000 + s)
        sensors = np.empty((len(labels), 23))
        sensors[:, 0:3] = _signals(labels, 3, 50.0, 9.8, rng)  # chest acc m/s^2
        sensors[:, 3:5] = _signals(labels + 40, 2, 50.0, 0.3, rng)  # ECG mV
        sensors[:, 5:8] = _signals(labels + 1, 3, 50.0, 9.8, rng)  # left-ankle acc
        sensors[:, 8:11] = _signals(labels + 2, 3, 50.0, 0.8, rng)  # left-ankle gyro ("deg/s", logged about ±1)
        sensors[:, 11:14] = _signals(labels + 3, 3, 50.0, 1.0, rng)  # left-ankle mag
        sensors[:, 14:17] = _signals(labels + 4, 3, 50.0, 9.8, rng)  # right-lower-arm acc
        sensors[:, 17:20] = _signals(labels + 5, 3, 50.0, 0.8, rng)  # right-lower-arm gyro
        sensors[:, 20:23] = _signals(labels + 6, 3, 50.0, 1.0, rng)  # right-lower-arm mag
        if tag_columns:
            _tag(sensors, range(23))
        with open(root / f"mHealth_subject{s}.log", "w") as fh:
            for row, lab in zip(sensors, labels):
                fh.write("\t".join(f"{v:.6g}" for v in row) + f"\t{lab}\n")
    return root


# ---- PAMAP2 ------------------------------------------------------------------------------------------------


def write_fake_pamap2(
    root: Path,
    subjects: Sequence[int] = (101, 102),
    seed: int = 0,
    run_length: int = 300,
    activities: Sequence[int] = PAMAP2_ACTIVITIES,
    nan_fraction: float = 0.02,
    tag_columns: bool = False,
    subdir: str = "Protocol",
    t0: float = 5.64,
) -> Path:
    """``{subdir}/subject{s}.dat``: 54 space-separated columns at 100 Hz — timestamp, activityID, heart
    rate (NaN except about every 10th row), hand / chest / ankle IMU blocks of 17 columns. About
    ``nan_fraction`` of the rows have one IMU block all ``NaN`` (a dropped packet)."""
    root = Path(root)
    folder = root / subdir if subdir else root
    folder.mkdir(parents=True, exist_ok=True)
    for s in subjects:
        rng = np.random.default_rng(seed * 1000 + s)
        labels = activity_runs(len(activities), run_length, activities, seed=seed * 1000 + s)
        n = len(labels)
        table = np.empty((n, 54))
        table[:, 0] = np.round(t0 + np.arange(n) / 100.0, 2)
        table[:, 1] = labels
        table[:, 2] = np.where(np.arange(n) % 10 == 0, 80.0 + labels, np.nan)
        for b, start in enumerate((3, 20, 37)):
            table[:, start] = 30.0 + b  # temperature
            table[:, start + 1 : start + 4] = _signals(labels + b, 3, 100.0, 9.8, rng)  # acc ±16 g
            table[:, start + 4 : start + 7] = table[:, start + 1 : start + 4] + 0.1  # acc ±6 g
            table[:, start + 7 : start + 10] = _signals(labels + b + 10, 3, 100.0, 1.0, rng)  # gyro rad/s
            table[:, start + 10 : start + 13] = _signals(labels + b + 20, 3, 100.0, 20.0, rng)  # mag uT
            table[:, start + 13 : start + 17] = [1.0, 0.0, 0.0, 0.0]  # orientation (invalid)
        if tag_columns:
            _tag(table[:, 2:], range(2, 54))  # view: tags land in the table
            table[:, 2] = np.where(np.arange(n) % 10 == 0, table[:, 2], np.nan)
        n_drop = int(round(nan_fraction * n))
        if n_drop:
            rows = rng.choice(n, size=n_drop, replace=False)
            blocks = rng.integers(0, 3, size=n_drop)
            for r, b in zip(rows, blocks):
                start = (3, 20, 37)[b]
                table[r, start : start + 17] = np.nan
        with open(folder / f"subject{s}.dat", "w") as fh:
            for row in table:
                cells = [f"{row[0]:.2f}", str(int(row[1]))]
                cells += ["NaN" if np.isnan(v) else f"{v:.6g}" for v in row[2:]]
                fh.write(" ".join(cells) + "\n")
    return root


# ---- CAPTURE-24 --------------------------------------------------------------------------------------------


def write_fake_capture24(
    root: Path,
    participants: Sequence[int] = (1, 2, 3),
    seed: int = 0,
    run_length: int = 200,
    n_runs: int = 12,
    unlabelled_every: int = 4,
    compress: bool = True,
    dictionary: dict[str, str] | None = None,
) -> Path:
    """``P{nnn}.csv.gz`` (``.csv`` when ``compress=False``) with header ``time,x,y,z,annotation`` at 100 Hz
    plus ``annotation-label-dictionary.csv``. Every ``unlabelled_every``-th run has an empty annotation."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    dictionary = CAPTURE24_DICTIONARY if dictionary is None else dictionary
    annotations = list(dictionary)
    with open(root / "annotation-label-dictionary.csv", "w") as fh:
        fh.write("annotation,label:Willetts2018,label:WillettsSpecific2018,label:Walmsley2020\n")
        for ann, label in dictionary.items():
            sit_stand = label in ("sitting", "standing")
            coarse = "sleep" if label == "sleep" else "sit-stand" if sit_stand else "mixed"
            fh.write(f'"{ann}",{coarse},{label},{coarse}\n')
    for p in participants:
        rng = np.random.default_rng(seed * 1000 + p)
        run_ann = [
            "" if unlabelled_every and i % unlabelled_every == unlabelled_every - 1
            else annotations[int(rng.integers(len(annotations)))]
            for i in range(n_runs)
        ]
        label_ids = np.repeat(np.arange(n_runs), run_length)
        xyz = _signals(label_ids, 3, 100.0, 0.4, rng)
        lines = ["time,x,y,z,annotation\n"]
        for i, (x, y, z) in enumerate(xyz):
            ms = i * 10
            hms = f"{10 + ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}"
            stamp = f"2016-11-13 {hms}.{ms % 1000:03d}000"
            ann = run_ann[i // run_length]
            cell = f'"{ann}"' if ann else ""
            lines.append(f"{stamp},{x:.6f},{y:.6f},{z:.6f},{cell}\n")
        name = f"P{p:03d}.csv"
        if compress:
            with gzip.open(root / f"{name}.gz", "wt") as fh:
                fh.writelines(lines)
        else:
            with open(root / name, "w") as fh:
                fh.writelines(lines)
    return root
