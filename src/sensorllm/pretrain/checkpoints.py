"""Files of a pre-training run: the published model directory (written atomically), and the checkpoint a
rerun resumes from (the newest whose checksums verify) with its config checked against the current one.

The checkpoint files themselves are written by :func:`sensorllm.train.state.save_training_state`.
"""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

from sensorllm.train.state import CorruptCheckpoint, verify_checksums

__all__ = ["check_resumed_config", "latest_valid_checkpoint", "save_model_dir"]

_CKPTS = "checkpoints"


def save_model_dir(model, path: Path) -> None:
    """``save_pretrained`` into ``path`` through a temporary sibling directory and a rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    shutil.rmtree(path, ignore_errors=True)
    os.replace(tmp, path)


def latest_valid_checkpoint(out: Path) -> Path | None:
    """Newest checkpoint whose checksums verify; corrupt ones are reported and skipped."""
    root = out / _CKPTS
    for ckpt in sorted((p for p in root.glob("step-*") if p.is_dir()), reverse=True) if root.is_dir() else []:
        try:
            verify_checksums(ckpt)
            return ckpt
        except CorruptCheckpoint as exc:
            warnings.warn(f"skipping checkpoint {ckpt}: {exc}", stacklevel=2)
    return None


def check_resumed_config(saved: dict, current: dict, ckpt: Path, defaults: dict | None = None) -> None:
    """A resumed run must train the same model on the same data; other differences: the current config
    wins (printed). A key the checkpoint lacks (a setting added since it was written) counts as its value in
    ``defaults`` (the default config as a dict): an older checkpoint resumes while it is left at its default."""
    for section in ("model", "data"):
        old = dict(saved.get(section) or {})
        for k, v in (defaults or {}).get(section, {}).items():
            old.setdefault(k, v)
        if old != current[section]:
            raise ValueError(
                f"{ckpt} was trained with {section}={saved.get(section)}, the config now says "
                f"{current[section]}; use another run.out_dir or run.resume=false"
            )
    for section in ("optim", "run"):
        diff = {k: (saved.get(section, {}).get(k), v) for k, v in current[section].items()
                if saved.get(section, {}).get(k) != v}
        if diff:
            print(f"note: resuming with changed {section} settings (checkpoint → now; now wins): {diff}",
                  flush=True)
