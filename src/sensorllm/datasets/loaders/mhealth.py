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

The kept columns are exactly the spec's 15 channels; units are passed through unchanged. 
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import numpy as np

from ..spec import DatasetSpec, Recording
from ._io import check_raw_dir, column_indices, find_numbered_files, integer_labels, read_numeric_table

__all__ = ["load", "COLUMN_OF", "N_COLUMNS", "LABEL_COLUMN"]

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

# ---- loader ------------------------------------------------------------------------------------------------


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
