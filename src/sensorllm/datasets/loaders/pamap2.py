"""Raw-file loader for PAMAP2 Physical Activity Monitoring (UCI dataset 231).

Layout: ``Protocol/subject10{1..9}.dat`` under the raw directory (also accepted: the files directly in
the raw directory, or ``PAMAP2_Dataset/Protocol/``). The ``Optional/`` sessions are not read. Each line
holds 54 space-separated numbers at 100 Hz; missing values are the text ``NaN``:

* 0: timestamp (s), 1: activityID (0 = transient), 2: heart rate (bpm, mostly NaN);
* 3-19 hand IMU, 20-36 chest IMU, 37-53 ankle IMU. Within each 17-column IMU block: +0 temperature,
  +1..3 acceleration ±16 g (m/s^2), +4..6 acceleration ±6 g (m/s^2, saturates), +7..9 gyroscope (rad/s),
  +10..12 magnetometer (uT), +13..16 orientation (invalid).

Kept: for hand, chest, ankle (in that order) the ±16 g accelerometer, gyroscope and magnetometer x/y/z —
the spec's 27 channels, units unchanged. NaN cells (dropped wireless packets) stay NaN. Should a file skip
timestamps, the missing 10 ms ticks are filled with NaN rows labelled 0, so sample positions stay on the
100 Hz grid; timestamps that do not increase are an error.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import numpy as np

from ..spec import DataError, DatasetSpec, Recording
from ._io import (
    check_raw_dir,
    column_indices,
    find_numbered_files,
    integer_labels,
    line_of_row,
    read_numeric_table,
)

__all__ = ["load", "COLUMN_OF", "N_COLUMNS", "LABEL_COLUMN", "TIME_COLUMN", "MAX_GAP_S"]

N_COLUMNS = 54
TIME_COLUMN = 0
LABEL_COLUMN = 1
_IMU_START = {"hand": 3, "chest": 20, "ankle": 37}
_SENSOR_OFFSET = {"acc": 1, "gyro": 7, "mag": 10}  # acc = the ±16 g accelerometer

COLUMN_OF: dict[str, int] = {
    f"{place}_{axis}_{sensor}": start + off + k
    for place, start in _IMU_START.items()
    for sensor, off in _SENSOR_OFFSET.items()
    for k, axis in enumerate("xyz")
}
"""Spec channel name → 0-based column of the ``.dat`` file."""

MAX_GAP_S = 3600.0
"""A timestamp jump longer than this is treated as a corrupt file rather than filled with NaN rows."""

_FILE_RE = re.compile(r"^subject(\d+)\.dat$", re.IGNORECASE)
_SUBDIRS = ("Protocol", "", "PAMAP2_Dataset/Protocol")


def load(spec: DatasetSpec, raw: Path) -> Iterator[Recording]:
    """One recording per ``subject10N.dat`` (subject id ``"10N"``), in subject order, at 100 Hz."""
    raw = check_raw_dir(spec, raw)
    cols = column_indices(spec, COLUMN_OF)
    files = find_numbered_files(spec, raw, _FILE_RE, _SUBDIRS)
    return _recordings(files, cols, float(spec.raw_rate_hz))


def _recordings(files: list[tuple[int, Path]], cols: list[int], rate: float) -> Iterator[Recording]:
    what = " (PAMAP2: timestamp, activityID, heart rate, 3 x 17 IMU columns)"
    for subject, path in files:
        table = read_numeric_table(path, N_COLUMNS, allow_nan=True, what=what)
        labels = integer_labels(path, table[:, LABEL_COLUMN], LABEL_COLUMN, name="activityID")
        data = np.ascontiguousarray(table[:, cols], dtype=np.float64)
        ticks = _ticks(path, table[:, TIME_COLUMN], rate)
        del table
        data, labels = _fill_gaps(data, labels, ticks)
        yield Recording(subject=str(subject), source=str(path), data=data, labels=labels)


def _ticks(path: Path, t: np.ndarray, rate: float) -> np.ndarray:
    """Timestamps as integer sample ticks; checks they are finite and strictly increasing."""
    bad = ~np.isfinite(t)
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(f"{path}: line {line_of_row(path, row)}, column 1: timestamp is {float(t[row])!r}")
    ticks = np.rint(t * rate).astype(np.int64)
    step = np.diff(ticks)
    if (step <= 0).any():
        row = int(np.argmax(step <= 0)) + 1
        raise DataError(
            f"{path}: line {line_of_row(path, row)}: timestamp {float(t[row])!r} does not increase "
            f"(previous {float(t[row - 1])!r}); expected one row every {1 / rate:g} s"
        )
    if (step > MAX_GAP_S * rate).any():
        row = int(np.argmax(step > MAX_GAP_S * rate)) + 1
        raise DataError(
            f"{path}: line {line_of_row(path, row)}: timestamp jumps from {float(t[row - 1])!r} "
            f"to {float(t[row])!r} s "
            f"(more than {MAX_GAP_S:g} s)"
        )
    return ticks


def _fill_gaps(data: np.ndarray, labels: np.ndarray, ticks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Place rows on a regular grid; rows for skipped ticks are NaN with label 0 (transient)."""
    if len(ticks) == 0 or ticks[-1] - ticks[0] + 1 == len(ticks):
        return data, labels
    pos = ticks - ticks[0]
    full = np.full((int(pos[-1]) + 1, data.shape[1]), np.nan, dtype=np.float64)
    full[pos] = data
    full_labels = np.zeros(len(full), dtype=np.int64)
    full_labels[pos] = labels
    return full, full_labels
