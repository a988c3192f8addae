"""Training-state checkpoints: trained model parts + optimiser + scheduler + step, written atomically, with
SHA-256 checksums, and found again on resume (a corrupt or half-written checkpoint is reported and the
previous good one is used).

Layout::

    <out_dir>/checkpoints/step-000200/model/...          (sensorllm.infer.artifact.save_model)
                                     optimizer.safetensors
                                     trainer_state.json   (step, best metric, scheduler, torch RNG...)
                                     checksums.json       (SHA-256 of every other file)
    <out_dir>/checkpoints/latest                          (name of the newest complete checkpoint)
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path
from collections.abc import Callable
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from sensorllm.infer.artifact import save_model
from sensorllm.model import load_trained_state
from sensorllm.utils import sha256_file
from sensorllm.model.checkpoint import WEIGHTS_FILE

__all__ = [
    "save_training_state",
    "load_latest_training_state",
    "read_trainer_state",
    "verify_checksums",
    "optimizer_from_flat",
    "CorruptCheckpoint",
    "OlderCheckpoint",
]

_CKPTS = "checkpoints"


class CorruptCheckpoint(RuntimeError):
    pass


class OlderCheckpoint(RuntimeError):
    """A checkpoint written by an older version whose trainer state lacks what this version resumes with."""


TRAINER_STATE = "trainer_state.json"

LOOP_STATE_KEYS = ("step", "best_metric", "best_step", "train_time_s")
"""What :func:`sensorllm.train.loop.train_loop` resumes from a checkpoint's ``trainer_state.json``."""


def read_trainer_state(ckpt: Path, required: tuple[str, ...]) -> dict:
    """A checkpoint's ``trainer_state.json``, which must hold ``required``.

    Raises:
        OlderCheckpoint: a key is missing (an older version wrote it): one line naming the file.
    """
    path = Path(ckpt) / TRAINER_STATE
    state = json.loads(path.read_text())
    missing = [k for k in required if k not in state]
    if missing:
        raise OlderCheckpoint(f"{path} has no {', '.join(missing)}: it was written by an older version of "
                              "sensorllm; resume it with that version, or train into a new run.out_dir")
    return state


def _optimizer_to_flat(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"{pid}.{k}"] = v.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(pid), {})[k] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def optimizer_from_flat(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Load into ``opt`` the state a checkpoint stores flat: ``tensors`` (``optimizer.safetensors``, keys
    ``"<param id>.<state name>"``) and ``meta`` (``trainer_state.json``'s ``"optimizer"``: param groups and
    the non-tensor per-parameter state). The inverse of what :func:`save_training_state` writes; used by
    training and encoder pre-training resumes alike."""
    state: dict[int, dict[str, Any]] = {}
    for key, t in tensors.items():
        pid, k = key.split(".", 1)
        state.setdefault(int(pid), {})[k] = t
    for pid, sc in meta["scalars"].items():
        state.setdefault(int(pid), {}).update(sc)
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def verify_checksums(ckpt: Path) -> None:
    """Raise :class:`CorruptCheckpoint` naming the first missing or changed file."""
    sums_file = ckpt / "checksums.json"
    if not sums_file.is_file():
        raise CorruptCheckpoint(f"{ckpt}: no checksums.json (incomplete checkpoint)")
    sums = json.loads(sums_file.read_text())
    for rel, digest in sums.items():
        f = ckpt / rel
        if not f.is_file():
            raise CorruptCheckpoint(f"{ckpt}: missing {rel}")
        if sha256_file(f) != digest:
            raise CorruptCheckpoint(f"{ckpt}: {rel} does not match its checksum (corrupt or half-written)")


def save_training_state(
    out_dir: Path, model, optimizer, scheduler, state: dict, extra: dict, keep: int = 2,
    write_model: Callable[[Path], Any] | None = None,
) -> Path:
    """Write ``checkpoints/step-NNNNNN`` atomically (temp dir + rename) and point ``latest`` at it.

    The model goes to ``<checkpoint>/model`` by ``write_model(dir)``; the default is the SensorLLM delta
    checkpoint (:func:`~sensorllm.infer.artifact.save_model` with ``extra``). ``pretrain-encoder``
    passes a Hugging Face ``save_pretrained`` instead; the optimiser, scheduler, RNG state, checksums,
    ``latest`` and pruning to the newest ``keep`` checkpoints are the same for both.
    """
    root = Path(out_dir) / _CKPTS
    root.mkdir(parents=True, exist_ok=True)
    name = f"step-{state['step']:06d}"
    tmp = root / f".tmp-{name}"
    shutil.rmtree(tmp, ignore_errors=True)
    if write_model is None:
        save_model(model, tmp / "model", extra=extra)
    else:
        write_model(tmp / "model")
    tensors, meta = _optimizer_to_flat(optimizer)
    save_file(tensors, str(tmp / "optimizer.safetensors"))
    full_state = {**state, "optimizer": meta, "scheduler": scheduler.state_dict(),
                  "torch_rng": torch.get_rng_state().tolist()}
    (tmp / "trainer_state.json").write_text(json.dumps(full_state, default=_json_default))
    sums = {str(p.relative_to(tmp)): sha256_file(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
    (tmp / "checksums.json").write_text(json.dumps(sums, indent=1))
    final = root / name
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    latest_tmp = root / "latest.tmp"
    latest_tmp.write_text(name)
    os.replace(latest_tmp, root / "latest")
    done = sorted(p for p in root.glob("step-*") if p.is_dir())
    for old in done[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _json_default(o: Any) -> Any:
    if torch.is_tensor(o):
        return o.tolist()
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


def _checkpoint_dirs(out_dir: Path) -> list[Path]:
    """The step checkpoints of ``out_dir``, newest first (not yet verified)."""
    root = Path(out_dir) / _CKPTS
    return sorted((p for p in root.glob("step-*") if p.is_dir()), reverse=True) if root.is_dir() else []


def has_valid_checkpoint(out_dir: Path) -> bool:
    """Whether ``out_dir`` holds a checkpoint whose checksums verify (the candidates a resume tries)."""
    for ckpt in _checkpoint_dirs(out_dir):
        try:
            verify_checksums(ckpt)
            return True
        except (CorruptCheckpoint, OSError, ValueError):
            continue
    return False


def load_latest_training_state(out_dir: Path, model, optimizer, scheduler,
                               required: tuple[str, ...] = LOOP_STATE_KEYS) -> dict | None:
    """Restore the newest *valid* checkpoint of ``out_dir`` into model/optimizer/scheduler; returns its state
    dict (with ``required``), or ``None`` if there is none. Corrupt checkpoints are reported and skipped; one
    written by an older version without ``required`` stops with :class:`OlderCheckpoint`."""
    for ckpt in _checkpoint_dirs(out_dir):
        try:
            verify_checksums(ckpt)
            weights = load_file(str(ckpt / "model" / WEIGHTS_FILE))
            state = read_trainer_state(ckpt, required)
            load_trained_state(model, weights, where=str(ckpt / "model"))
            optimizer_from_flat(optimizer, load_file(str(ckpt / "optimizer.safetensors")), state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            torch.set_rng_state(torch.tensor(state["torch_rng"], dtype=torch.uint8))
            print(f"resumed from {ckpt} (step {state['step']})")
            return state
        except (CorruptCheckpoint, OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
            warnings.warn(f"skipping checkpoint {ckpt}: {exc}")
    return None
