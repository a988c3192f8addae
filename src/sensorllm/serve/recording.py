"""Reading the recordings that ``sensorllm predict`` and ``stream --replay`` take, and windowing them
recording by recording.

Input: CSV / Parquet (one column per channel, named as the model's channels; other columns ignored) or NPZ
(one array per channel name; no pickled objects). Channels are matched by NAME and reordered; missing ones
are an error listing expected and found.

Recordings: a file may hold several recordings one after the other. With a recording column (``recording``
by default, ``--recording-column``) and/or a subject column (``subject``, ``--subject-column``), a new
recording starts wherever either value changes from one row to the next, and windows never span two
recordings: each block of rows is windowed (and its gaps repaired) on its own (:func:`window_recordings`), its
windows are numbered from 0 and its ``start_s``/``end_s`` count from its first row. Short NaN gaps are
interpolated, windows touching long gaps are skipped and counted. A recording id that appears in two separate
blocks is windowed block by block (and reported).

A label column is read here too (:func:`read_input`); what its values may be and how windows are scored
against it is :mod:`sensorllm.serve.scoring`. So is a time column (``time``, ``timestamp``, ``time_s`` or
``t`` by default, ``--time-column``), kept as read for the sampling-rate check of
:mod:`sensorllm.serve.input_checks`.

Channel names: ``--channel-map ax=x_acc,ay=y_acc`` (:func:`parse_channel_map`) renames the file's columns to the
model's channel names before anything else reads them, so the unit and input checks see the mapped channels.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd

from sensorllm.datasets.spec import DataError

from .scoring import parse_labels

__all__ = [
    "LabelledInput",
    "RecordingWindows",
    "Segment",
    "TIME_COLUMNS",
    "apply_channel_map",
    "parse_channel_map",
    "read_columns",
    "read_input",
    "read_recording",
    "window_recordings",
]


def read_columns(path: str | Path) -> dict[str, np.ndarray]:
    """Every column of a CSV/Parquet file (or array of an NPZ file) by name, as read."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"missing file {path}")
    name = path.name.lower()
    try:
        if name.endswith(".npz"):
            with np.load(path, allow_pickle=False) as z:
                return {k: np.asarray(z[k]).ravel() for k in z.files}
        if name.endswith(".parquet"):
            df = pd.read_parquet(path)
        elif name.endswith((".csv", ".csv.gz", ".txt")):
            df = pd.read_csv(path)
        else:
            raise DataError(f"{path}: unsupported file type (use .csv, .parquet or .npz)")
    except (ValueError, OSError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{path}: cannot read ({exc})") from exc
    return {str(c): df[c].to_numpy() for c in df.columns}


TIME_COLUMNS = ("time", "timestamp", "time_s", "t")  # a time column is looked for under these names


def parse_channel_map(text: str | None) -> dict[str, str]:
    """``"ax=x_acc,ay=y_acc"`` → ``{"ax": "x_acc", "ay": "y_acc"}`` (file column → model channel).

    Raises:
        DataError: an entry without ``=``, an empty name, a column mapped twice or two columns mapped to one
            channel."""
    out: dict[str, str] = {}
    if not text:
        return out
    for part in str(text).split(","):
        if not part.strip():
            continue
        src, eq, dst = part.partition("=")
        src, dst = src.strip(), dst.strip()
        if not eq or not src or not dst:
            raise DataError(f"--channel-map: {part.strip()!r} is not FILE_COLUMN=MODEL_CHANNEL "
                            "(e.g. --channel-map ax=x_acc,ay=y_acc)")
        if src in out:
            raise DataError(f"--channel-map: column {src!r} is mapped twice ({out[src]!r} and {dst!r})")
        if dst in out.values():
            first = next(k for k, v in out.items() if v == dst)
            raise DataError(f"--channel-map: columns {first!r} and {src!r} are both mapped to channel {dst!r}")
        out[src] = dst
    return out


def apply_channel_map(cols: dict[str, np.ndarray], channel_map: dict[str, str], channels: Sequence[str],
                      path: str | Path) -> dict[str, np.ndarray]:
    """``cols`` with the columns of ``channel_map`` renamed to the model's channel names.

    Raises:
        DataError: a target that is not a model channel, a column the file lacks, or a target that the file
            already has as another column (naming the file, the column and the channel)."""
    if not channel_map:
        return cols
    for src, dst in channel_map.items():
        if dst not in channels:
            raise DataError(f"--channel-map {src}={dst}: {dst!r} is not a channel of the model (channels: "
                            f"{list(channels)})")
        if src not in cols:
            raise DataError(f"{path}: --channel-map {src}={dst}: the file has no column {src!r}; it has "
                            f"{sorted(cols)}")
        if dst in cols and dst not in channel_map:
            raise DataError(f"{path}: --channel-map {src}={dst}: the file already has a column {dst!r}; map or "
                            "rename one of them")
    return {channel_map.get(k, k): v for k, v in cols.items()}


def _channel_matrix(cols: dict[str, np.ndarray], channels: list[str], path: Path) -> np.ndarray:
    missing = [c for c in channels if c not in cols]
    if missing:
        raise DataError(f"{path}: missing channels {missing}; the model expects {channels}, found {sorted(cols)}")
    out = np.empty((len(cols[channels[0]]), len(channels)), dtype=np.float64)
    for j, c in enumerate(channels):
        raw = np.asarray(cols[c]).ravel()
        v = pd.to_numeric(pd.Series(raw), errors="coerce")
        bad = v.isna() & pd.Series(raw).notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"{path}: channel {c!r}, row {i + 1}: non-numeric value {raw[i]!r}")
        if len(v) != len(out):
            raise DataError(f"{path}: channel {c!r} has {len(v)} samples, {channels[0]!r} has {len(out)}")
        out[:, j] = v.to_numpy(dtype=np.float64)
    return out


def read_recording(path: str | Path, channels: list[str]) -> np.ndarray:
    """``(N, C)`` float64 in ``channels`` order from a CSV/Parquet/NPZ file."""
    return _channel_matrix(read_columns(path), list(channels), Path(path))


@dataclass
class Segment:
    """One recording of an input file: rows ``[start, end)``, with its recording and subject ids (``None`` when
    the file has no such column)."""

    recording: str | None
    subject: str | None
    start: int
    end: int

    @property
    def name(self) -> str:
        parts = [p for p in (self.recording, None if self.subject is None else f"subject {self.subject}") if p]
        return " / ".join(parts) if parts else "(whole file)"


@dataclass
class LabelledInput:
    """A recording file read for prediction: samples ``x`` ``(N, C)`` in the model's channel order (raw, NaN
    kept), its recordings (``segments``), and the per-sample class index ``labels`` (``-1``: unlabelled) when
    it has a label column."""

    path: Path
    x: np.ndarray
    segments: list[Segment]
    labels: np.ndarray | None = None
    recording_column: str | None = None
    subject_column: str | None = None
    labels_column: str | None = None
    label_format: str | None = None
    notes: list[str] = field(default_factory=list)
    time: np.ndarray | None = None
    time_column: str | None = None
    channel_map: dict[str, str] = field(default_factory=dict)


def _pick_column(cols: dict, given: str | None, default: str, what: str, path: Path) -> str | None:
    """``given`` (an error when absent; ``""`` = do not use one), else ``default`` when the file has it."""
    if given is None:
        return default if default in cols else None
    if given == "":
        return None
    if given not in cols:
        raise DataError(f"{path}: no {what} column {given!r}; the file has {sorted(cols)}")
    return given


def _ids(values: np.ndarray, column: str, path: Path) -> np.ndarray:
    s = pd.Series(np.asarray(values).ravel())
    empty = s.isna() | s.astype(str).str.strip().eq("")
    if empty.any():
        raise DataError(f"{path}: column {column!r} is empty at row {int(np.flatnonzero(empty.to_numpy())[0]) + 1}"
                        "; every row needs its recording/subject id")
    if s.dtype.kind == "f" and np.all(np.mod(s.to_numpy(), 1) == 0):
        s = s.astype(np.int64)
    return s.astype(str).str.strip().to_numpy()



def read_input(path: str | Path, channels: Sequence[str], class_names: Sequence[str] = (),
               recording_column: str | None = None, subject_column: str | None = None,
               labels_column: str | None = None, class_codes: Sequence[str] = (),
               channel_map: dict[str, str] | None = None, time_column: str | None = None) -> LabelledInput:
    """Read a recording file for :func:`~sensorllm.serve.predict.predict_input`: the channels, its recordings,
    its labels and its time column.

    Column arguments: ``None`` = the default name (``recording``, ``subject``, ``label``, the first of
    :data:`TIME_COLUMNS`) when the file has it; a name = that column (an error when absent); ``""`` = none.
    Labels are parsed against ``class_names`` and ``class_codes`` (:func:`parse_labels`). ``channel_map``
    (file column → model channel, :func:`parse_channel_map`) renames columns first."""
    path = Path(path)
    cmap = dict(channel_map or {})
    cols = apply_channel_map(read_columns(path), cmap, channels, path)
    x = _channel_matrix(cols, list(channels), path)
    n = len(x)
    rec_col = _pick_column(cols, recording_column, "recording", "recording", path)
    subj_col = _pick_column(cols, subject_column, "subject", "subject", path)
    lab_col = _pick_column(cols, labels_column, "label", "label", path)
    if time_column is None:
        time_col = next((c for c in TIME_COLUMNS if c in cols and c not in channels), None)
    else:
        time_col = _pick_column(cols, time_column, "", "time", path)
    for c in (rec_col, subj_col, lab_col, time_col):
        if c is not None and c in channels:
            raise DataError(f"{path}: column {c!r} is one of the model's channels; it cannot also be the "
                            "recording, subject, label or time column")
    rec = _ids(cols[rec_col], rec_col, path) if rec_col else None
    subj = _ids(cols[subj_col], subj_col, path) if subj_col else None
    change = np.zeros(max(n - 1, 0), dtype=bool)
    for ids in (rec, subj):
        if ids is not None and n > 1:
            change |= ids[1:] != ids[:-1]
    bounds = [0, *(np.flatnonzero(change) + 1).tolist(), n]
    segments = [Segment(None if rec is None else str(rec[a]), None if subj is None else str(subj[a]), a, b)
                for a, b in pairwise(bounds) if b > a]
    notes = []
    blocks = Counter((s.recording, s.subject) for s in segments)
    repeated = [k for k, v in blocks.items() if v > 1]
    if repeated:
        show = ", ".join(Segment(r, s, 0, 0).name for r, s in repeated[:5])
        notes.append(f"{len(repeated)} recording id(s) appear in separate blocks of rows ({show}"
                     f"{', …' if len(repeated) > 5 else ''}): each block is windowed on its own")
    labels = fmt = None
    if lab_col is not None:
        if not class_names:
            raise DataError(f"{path}: a label column but no class names to score against")
        labels, fmt = parse_labels(cols[lab_col], class_names, path, lab_col, class_codes)
    if cmap:
        notes.append("columns renamed by --channel-map: " + ", ".join(f"{a} -> {b}" for a, b in cmap.items()))
    return LabelledInput(path, x, segments, labels, rec_col, subj_col, lab_col, fmt, notes,
                         None if time_col is None else np.asarray(cols[time_col]).ravel(), time_col, cmap)


# ---- windowing by recording --------------------------------------------------------------------------------


@dataclass
class RecordingWindows:
    """The sliding windows of a :class:`LabelledInput`, cut recording by recording: each recording's
    gap-repaired samples (``samples``; ``None`` for one shorter than a window), one ``(segment, start within
    it, window number within it)`` per window (``refs``), per-recording counts (``recordings``: ``recording``,
    ``subject``, ``name``, ``rows``, ``windows``, ``skipped``) and the windows skipped on long gaps."""

    samples: list[np.ndarray | None]
    refs: list[tuple[int, int, int]]
    recordings: list[dict]
    skipped: int


def window_recordings(inp: LabelledInput, window: int, stride: int, rate: float, max_gap: int
                      ) -> RecordingWindows:
    """Every window of ``window`` samples, ``stride`` apart, of every recording of ``inp`` (never crossing
    two); gaps of up to ``max_gap`` samples are interpolated, windows touching longer ones are skipped.

    Raises:
        DataError: no recording is as long as one window.
    """
    from sensorllm.datasets.windows import repair_gaps

    if not any(s.end - s.start >= window for s in inp.segments):
        n = max((s.end - s.start for s in inp.segments), default=0)
        what = "samples" if len(inp.segments) == 1 else "samples in its longest recording"
        raise DataError(f"{inp.path}: {n} {what}, shorter than the model's window of {window} samples "
                        f"({window / rate:.2f} s at {rate:g} Hz)")
    refs: list[tuple[int, int, int]] = []  # (segment, start within it, window number within it)
    xs, recs, skipped = [], [], 0
    for si, seg in enumerate(inp.segments):
        n = seg.end - seg.start
        info = {"recording": seg.recording, "subject": seg.subject, "name": seg.name, "rows": n, "windows": 0,
                "skipped": 0}
        recs.append(info)
        if n < window:
            xs.append(None)
            continue
        x, valid, _ = repair_gaps(inp.x[seg.start:seg.end], max_gap)
        xs.append(x)
        starts = np.arange(0, n - window + 1, stride)
        keep = [int(s) for s in starts if valid[s:s + window].all()]
        info["windows"], info["skipped"] = len(keep), len(starts) - len(keep)
        skipped += len(starts) - len(keep)
        refs += [(si, s, i) for i, s in enumerate(keep)]
    return RecordingWindows(xs, refs, recs, skipped)
