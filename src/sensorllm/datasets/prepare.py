"""``sensorllm prepare``: raw files → windows on disk + ``manifest.json``.

Recordings are streamed from the dataset's loader one at a time: each is repaired (short gaps interpolated),
resampled to the spec's rate, cut into Stage-2 fixed windows and Stage-1 random-length windows inside runs of
one label, and appended to an on-disk pool. Once every recording is read, subjects are assigned to
train/val/test (:mod:`sensorllm.datasets.subject_splits`) and the pool is split into the layout documented
in :mod:`sensorllm.datasets.prepared`. Only one recording is in memory at a time, so multi-GB datasets
(CAPTURE-24) are fine. The manifest's warnings come from the unit checks (:mod:`sensorllm.datasets.unit_checks`)
and the validation-split check (:func:`~sensorllm.datasets.subject_splits.split_warnings`).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sensorllm import __version__
from sensorllm.utils import sha256_file

from .options import PrepareOptions
from .prepared import SPLITS
from .spec import DataError, DatasetSpec, Recording
from .subject_splits import assign_splits, split_warnings
from .unit_checks import collect_acc_magnitude, collect_gyro_speed, gyro_unit_warnings, unit_warnings
from .windows import fixed_windows, label_runs, random_partition, repair_gaps, resample

__all__ = ["PrepareOptions", "prepare_dataset"]


class _Pool:
    """Append-only on-disk store of windows (float32) plus per-window metadata."""

    def __init__(self, path: Path, n_channels: int):
        self.path = path
        self.fh = open(path, "wb")
        self.c = n_channels
        self.offsets = [0]
        self.meta: list[tuple[int, str, int, int, int]] = []  # (label, subject, start, recording, pass)

    def add(self, x: np.ndarray, label: int, subject: str, start: int, rec: int, pas: int = 0) -> None:
        self.fh.write(np.ascontiguousarray(x, dtype=np.float32).tobytes())
        self.offsets.append(self.offsets[-1] + len(x))
        self.meta.append((label, subject, start, rec, pas))

    def values(self) -> np.ndarray:
        self.fh.close()
        total = self.offsets[-1]
        if total == 0:
            return np.zeros((0, self.c), dtype=np.float32)
        return np.memmap(self.path, dtype=np.float32, mode="r", shape=(total, self.c))


@dataclass
class _Stats:
    nonfinite_values: int = 0
    interpolated_values: int = 0
    invalid_samples: int = 0
    unlabelled_samples: int = 0
    short_runs: int = 0
    stage2_dropped_gap: int = 0
    stage1_dropped_gap: int = 0
    stage2_subsampled_out: int = 0
    stage1_subsampled_out: int = 0
    saturated: Counter = field(default_factory=Counter)
    acc_magnitudes: dict = field(default_factory=dict)  # (placement, unit) -> list of per-recording medians
    gyro_speeds: dict = field(default_factory=dict)  # (placement, unit, channels) -> [(p99 |w|, source), ...]


_F32_MAX = float(np.finfo(np.float32).max)


def _check_recording(rec: Recording, spec: DatasetSpec) -> None:
    if rec.data.ndim != 2 or rec.data.shape[1] != len(spec.channels):
        found = rec.data.shape[1] if rec.data.ndim == 2 else f"an array of shape {rec.data.shape}"
        raise DataError(f"{rec.source}: {found} channels, expected {len(spec.channels)} "
                        f"({', '.join(spec.channel_names)})")
    if rec.labels.shape != (rec.data.shape[0],):
        raise DataError(f"{rec.source}: {len(rec.labels)} labels for {rec.data.shape[0]} samples")
    with np.errstate(invalid="ignore"):
        huge = np.isfinite(rec.data) & (np.abs(rec.data) > _F32_MAX)
    if huge.any():
        i, c = (int(v[0]) for v in np.nonzero(huge))
        raise DataError(f"{rec.source}: sample {i}, channel {spec.channels[c].name!r}: value {rec.data[i, c]!r} "
                        "is outside the float32 range windows are stored in (wrong units or a corrupt file?)")


def _subject_rng(seed: int, subject: str, salt: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(subject.encode()), salt])


def _cut_recording(
    rec: Recording, rec_id: int, spec: DatasetSpec, opts: PrepareOptions,
    pool2: _Pool, pool1: _Pool, stats: _Stats,
) -> None:
    """Repair, resample and window one recording into the pools."""
    _check_recording(rec, spec)
    max_gap = spec.max_gap if opts.max_gap is None else opts.max_gap
    data, valid, rep = repair_gaps(rec.data, max_gap)
    stats.nonfinite_values += rep.nonfinite_values
    stats.interpolated_values += rep.interpolated_values
    stats.invalid_samples += rep.invalid_samples
    for c, ch in enumerate(spec.channels):
        if ch.sensor_range:
            stats.saturated[ch.name] += int((np.abs(rec.data[:, c]) >= 0.995 * ch.sensor_range).sum())
    collect_acc_magnitude(data[valid], spec, stats.acc_magnitudes)
    collect_gyro_speed(data[valid], spec, stats.gyro_speeds, rec.source)
    data, labels, valid = resample(data, rec.labels, valid, spec.raw_rate_hz, spec.rate_hz)
    lut = spec.class_index()
    cls = np.array([lut.get(int(v), -1) for v in np.unique(labels)])
    cls_idx = cls[np.searchsorted(np.unique(labels), labels)] if len(labels) else labels
    stats.unlabelled_samples += int((cls_idx < 0).sum())
    bad_prefix = np.concatenate([[0], np.cumsum(~valid)])  # invalid samples before index i

    def clean(s: int, e: int) -> bool:
        return bad_prefix[e] - bad_prefix[s] == 0

    keep2 = _subject_rng(opts.seed, rec.subject, 2)
    keep1 = _subject_rng(opts.seed, rec.subject, 1)
    lo, hi = spec.stage1_window
    for run_no, (s, e, k) in enumerate(label_runs(cls_idx)):
        if e - s < spec.window:
            stats.short_runs += 1
        for st in fixed_windows(s, e, spec.window, spec.stride, spec.tail_window):
            if not clean(st, st + spec.window):
                stats.stage2_dropped_gap += 1
            elif spec.window_fraction < 1 and keep2.random() >= spec.window_fraction:
                stats.stage2_subsampled_out += 1
            else:
                pool2.add(data[st : st + spec.window], k, rec.subject, int(st), rec_id)
        seen: set[tuple[int, int]] = set()
        for pas in range(spec.stage1_train_passes):
            rng = np.random.default_rng([opts.seed, rec_id, run_no, pas])
            for a, b in random_partition(s, e, lo, hi, rng):
                if (a, b) in seen:
                    continue
                seen.add((a, b))
                if not clean(a, b):
                    stats.stage1_dropped_gap += 1
                elif spec.window_fraction < 1 and keep1.random() >= spec.window_fraction:
                    stats.stage1_subsampled_out += 1
                else:
                    pool1.add(data[a:b], k, rec.subject, a, rec_id, pas)


def _write_split(
    out: Path, stage: str, split: str, pool: _Pool, values: np.ndarray, idx: np.ndarray, fixed_len: int | None,
) -> dict[str, str]:
    d = out / stage / split
    d.mkdir(parents=True, exist_ok=True)
    meta = [pool.meta[i] for i in idx]
    off = np.asarray(pool.offsets, dtype=np.int64)
    lengths = off[idx + 1] - off[idx]
    c = values.shape[1]
    if fixed_len is not None:
        arr = np.lib.format.open_memmap(d / "windows.npy", mode="w+", dtype=np.float32,
                                        shape=(len(idx), fixed_len, c))
        for j, i in enumerate(idx):
            arr[j] = values[off[i] : off[i + 1]]
        arr.flush()
        del arr
    else:
        new_off = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        arr = np.lib.format.open_memmap(d / "values.npy", mode="w+", dtype=np.float32, shape=(int(new_off[-1]), c))
        for j, i in enumerate(idx):
            arr[new_off[j] : new_off[j + 1]] = values[off[i] : off[i + 1]]
        arr.flush()
        del arr
        np.save(d / "offsets.npy", new_off)
    np.save(d / "labels.npy", np.array([m[0] for m in meta], dtype=np.int64))
    np.save(d / "subjects.npy", np.array([m[1] for m in meta], dtype=str) if meta else np.zeros(0, dtype="<U1"))
    np.save(d / "starts.npy", np.array([m[2] for m in meta], dtype=np.int64))
    np.save(d / "recordings.npy", np.array([m[3] for m in meta], dtype=np.int64))
    return {str(p.relative_to(out)): sha256_file(p) for p in sorted(d.glob("*.npy"))}


def prepare_dataset(spec: DatasetSpec, raw: str | Path, out: str | Path, opts: PrepareOptions = PrepareOptions()) -> dict:
    """Prepare ``spec`` from raw files in ``raw`` into ``out``; returns (and writes) the manifest."""
    raw, out = Path(raw), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for stage in ("stage1", "stage2"):
        shutil.rmtree(out / stage, ignore_errors=True)
    tmp = out / ".pool"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    c = len(spec.channels)
    pool2, pool1 = _Pool(tmp / "stage2.f32", c), _Pool(tmp / "stage1.f32", c)
    stats = _Stats()
    recordings: list[dict] = []
    fixed: dict[str, str] = {}
    sources: dict[str, str] = {}
    bar = tqdm(desc=f"reading {spec.name}", unit="rec", disable=not opts.progress or None, file=sys.stderr)
    try:
        for rec_id, rec in enumerate(spec.loader(spec, raw)):
            if rec.fixed_split:
                fixed[rec.subject] = rec.fixed_split
            _cut_recording(rec, rec_id, spec, opts, pool2, pool1, stats)
            recordings.append({"subject": rec.subject, "source": rec.source, "samples": int(rec.data.shape[0]),
                               **({"recording": rec.name} if rec.name else {})})
            for f in rec.source.split(" + "):
                if f not in sources and Path(f).is_file():
                    sources[f] = sha256_file(Path(f))
            bar.update(1)
    finally:
        bar.close()
    if not recordings:
        raise DataError(f"{raw}: the loader found no recordings (expected {spec.raw_layout})")

    split_subjects = assign_splits([r["subject"] for r in recordings], spec, opts, fixed)
    where = {s: name for name, subs in split_subjects.items() for s in subs}
    files: dict[str, str] = {}
    splits: dict[str, dict] = {name: {"subjects": subs} for name, subs in split_subjects.items()}
    for stage, pool, fixed_len in (("stage2", pool2, spec.window), ("stage1", pool1, None)):
        values = pool.values()
        for split in SPLITS:
            idx = np.array(
                [i for i, m in enumerate(pool.meta)
                 if where.get(m[1]) == split and (split == "train" or m[4] == 0)],
                dtype=np.int64,
            )
            files.update(_write_split(out, stage, split, pool, values, idx, fixed_len))
            counts = Counter(pool.meta[i][0] for i in idx)
            key = "" if stage == "stage2" else "stage1_"
            splits[split][f"{key}windows"] = int(len(idx))
            splits[split][f"{key}class_counts"] = {n: int(counts.get(k, 0)) for k, n in enumerate(spec.class_names)}
        del values
    shutil.rmtree(tmp, ignore_errors=True)

    manifest = {
        "dataset": spec.name,
        "title": spec.title,
        "channels": spec.channel_names,
        "units": [ch.unit for ch in spec.channels],
        "classes": spec.class_names,
        "class_descriptions": spec.class_descriptions,
        "rate_hz": spec.rate_hz,
        "raw_rate_hz": spec.raw_rate_hz,
        "window": spec.window,
        "stride": spec.stride,
        "stage1_window": list(spec.stage1_window),
        "seed": opts.seed,
        "paper_split": opts.paper_split,
        "splits": splits,
        "dropped": {
            "stage2_windows_gap": stats.stage2_dropped_gap,
            "stage1_windows_gap": stats.stage1_dropped_gap,
            "stage2_windows_subsampled_out": stats.stage2_subsampled_out,
            "stage1_windows_subsampled_out": stats.stage1_subsampled_out,
            "runs_shorter_than_window": stats.short_runs,
            "unlabelled_samples": stats.unlabelled_samples,
        },
        "repaired": {
            "nonfinite_values": stats.nonfinite_values,
            "interpolated_values": stats.interpolated_values,
            "invalid_samples": stats.invalid_samples,
            "max_gap": spec.max_gap if opts.max_gap is None else opts.max_gap,
        },
        "saturated_samples": dict(sorted(stats.saturated.items())),
        "warnings": (unit_warnings(stats.acc_magnitudes) + gyro_unit_warnings(stats.gyro_speeds)
                     + split_warnings(split_subjects, spec, opts)),
        "recordings": recordings,
        "sources": [{"file": f, "sha256": h} for f, h in sorted(sources.items())],
        "files": files,
        "spec": spec.to_json(),
        "sensorllm_version": __version__,
    }
    for w in manifest["warnings"]:
        print(f"warning: {w}", file=sys.stderr)
    labels = [{"name": c.name, "description": c.description} for c in spec.classes]
    (out / "labels.json").write_text(json.dumps(labels, indent=2, ensure_ascii=False) + "\n")
    tmp_manifest = out / "manifest.json.tmp"
    tmp_manifest.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp_manifest, out / "manifest.json")
    return manifest


def summary_table(manifest: dict) -> str:
    """Per-split, per-class window counts as a plain-text table."""
    splits = [s for s in SPLITS if s in manifest["splits"]]
    classes = manifest["classes"]
    w = max(12, *(len(c) for c in classes)) + 2
    lines = [f"{manifest['dataset']}: {len(manifest['channels'])} channels @ {manifest['rate_hz']} Hz, "
             f"window {manifest['window']}/{manifest['stride']}, seed {manifest['seed']}"]
    head = "".ljust(w) + "".join(s.rjust(10) for s in splits)
    lines += [head, "-" * len(head)]
    lines.append("subjects".ljust(w) + "".join(str(len(manifest["splits"][s]["subjects"])).rjust(10) for s in splits))
    for c in classes:
        lines.append(c.ljust(w) + "".join(str(manifest["splits"][s]["class_counts"][c]).rjust(10) for s in splits))
    lines.append("windows".ljust(w) + "".join(str(manifest["splits"][s]["windows"]).rjust(10) for s in splits))
    lines.append("stage-1 windows".ljust(w)
                 + "".join(str(manifest["splits"][s]["stage1_windows"]).rjust(10) for s in splits))
    d = manifest["dropped"]
    lines.append(f"dropped: {d['stage2_windows_gap']} stage-2 / {d['stage1_windows_gap']} stage-1 windows with "
                 f"long gaps; {d['stage2_windows_subsampled_out']} subsampled out; "
                 f"{manifest['repaired']['interpolated_values']} values interpolated")
    return "\n".join(lines)
