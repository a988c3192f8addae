"""Pieces the benchmark scripts share. The scripts run as ``python benchmarks/NAME.py``, so this module is
imported as ``_common`` (the script's folder is first on ``sys.path``)."""

from __future__ import annotations

import argparse
import csv
import gzip
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import psutil

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = ROOT.parent / "shared" / "datasets"


def add_timing_args(ap: argparse.ArgumentParser) -> None:
    """The arguments every timing benchmark shares: ``--threads``, ``--note`` (the caption's conditions) and
    ``--doc-only`` (rewrite the doc table from the record)."""
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--note", default="idle machine",
                    help="the conditions, a short phrase for the table's caption (how the run went belongs in "
                    "benchmarks/records/performance/NOTES.md)")
    ap.add_argument("--doc-only", action="store_true")


def run_logged(cmd: list[str], log: Path) -> None:
    """Run ``cmd`` from the repository root, appending its output to ``log``; raise if it fails."""
    print("$", " ".join(cmd), flush=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as fh:
        r = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT)
    if r.returncode != 0:
        raise RuntimeError(f"command failed ({r.returncode}); see {log}")


def ensure_prepared(name: str, raw_folder: str, data: Path, log: Path) -> Path:
    """``data`` holding ``sensorllm prepare NAME`` of ``../shared/datasets/<raw_folder>`` (prepared once)."""
    if not (data / "manifest.json").exists():
        log.parent.mkdir(parents=True, exist_ok=True)
        run_logged([sys.executable, "-m", "sensorllm.cli.main", "prepare", name, "--raw",
                    str(SHARED_DATASETS / raw_folder), "--out", str(data), "-q"], log)
    return data


def run_peak_rss(cmd: list[str], stdout: IO | int = subprocess.DEVNULL) -> tuple[int, int]:
    """Run ``cmd`` as a child process, sampling its RSS every 0.1 s; returns ``(exit code, peak RSS bytes)``."""
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.STDOUT)
    p, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        try:
            peak = max(peak, p.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.1)
    return proc.returncode, peak


def replace_between(doc: Path, start: str, end: str, lines: list[str]) -> None:
    """Rewrite the lines between the markers ``start`` and ``end`` of ``doc`` (both kept); raise if absent."""
    text = doc.read_text()
    if start not in text or end not in text:
        raise RuntimeError(f"{doc} lacks the '{start}' / '{end}' markers")
    i, j = text.index(start), text.index(end)
    doc.write_text(text[: i + len(start)] + "\n" + "\n".join(lines) + "\n" + text[j:])
    print(f"wrote {doc}")


def read_csv_floats(path: Path) -> list[dict[str, float]]:
    """The rows of a training log (``train_log.csv`` / ``val_log.csv``) as floats, empty cells left out."""
    with open(path) as fh:
        return [{k: float(v) for k, v in r.items() if v != ""} for r in csv.DictReader(fh)]


def hapt_experiment(raw: Path, exp: str):
    """One raw UCI-HAPT experiment (``exp`` e.g. ``exp01_user01``) as a ``(T, 6)`` array: acc x/y/z (g) then
    gyro x/y/z (rad/s), the channel order of the ``uci-har`` dataset spec."""
    import numpy as np

    def load(kind: str) -> np.ndarray:
        with gzip.open(raw / f"{kind}_{exp}.txt.gz", "rt") as fh:
            return np.loadtxt(fh)

    return np.concatenate([load("acc"), load("gyro")], axis=1)


def step_of(checkpoint_name: str) -> int:
    """The step a checkpoint directory's name holds (``step-000075`` → 75)."""
    return int(checkpoint_name.strip().split("-")[-1])


def checkpoint_step(latest: Path) -> int:
    """The step of the checkpoint that a run's ``checkpoints/latest`` file names."""
    return step_of(latest.read_text())


def keep_record(src: Path, dst: Path) -> None:
    """Copy ``src`` (a run's ``metrics.json``) to its record ``dst`` when it exists and differs:
    records outlive ``runs/``, which is not in git."""
    if src.exists() and (not dst.exists() or dst.read_bytes() != src.read_bytes()):
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(src.read_bytes())
