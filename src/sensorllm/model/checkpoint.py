"""Checkpoints that hold only what trained, in safetensors, loaded strictly.

A checkpoint directory holds two files::

    weights.safetensors   projector.*            the projector MLP (+ projector.pooler.* for
                                                 pool_mode='learned')
                          tokens.input_rows      (n_added, H) input-embedding rows of the added tokens
                          tokens.output_rows     (n_added, H) output rows (untied LLMs only)
                          head.weight            (K, H) Stage-2 classifier (models with labels)
                          head.feature_mean/_std (H,)   its standardisation (``head_standardize`` only)
                          lora.*                 peft LoRA adapter weights (models with LoRA)
                          encoder.*              encoder state (only when the encoder trained or was fitted)
    config.json           {"format": "sensorllm-delta", "format_version": 1,
                           "config": SensorLLMConfig.to_json(),  # LLM, encoder, channels, projector, labels
                           "tokens": {"layout": …, "added_tokens": […]},
                           "encoder": {"source", "is_random_init", "identity"},
                           "llm": {"class", "tied_embeddings", "vocab_size", "hidden_size"},
                           "parts": [...], "trainable": {...}, "extra": {...},
                           "classes": [{"name", "code", "description"}, ...]}  # Stage 2 only

``classes`` (class-index order, the names of ``config.labels``) carries each class's label code and description
from the dataset spec in ``extra["dataset"]`` (``""`` where it has none), so that ``sensorllm predict`` reads a
label column of codes. Checkpoints written before it load as before; readers fall back to ``extra["dataset"]``.

Both files are written to temporary names and moved into place with ``os.replace`` (config last), so a
crash never leaves a half-written checkpoint that looks complete. Loading rebuilds the model from
``config.json`` on top of the base LLM and encoder, then checks keys and shapes one by one: any missing,
unexpected or mis-shaped tensor raises :class:`CheckpointError` naming it.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from sensorllm.checkpoint_format import CHECKPOINT_FORMAT, CONFIG_FILE, FORMAT_VERSION, WEIGHTS_FILE

from .llm import llm_is_random_init
from .build import build_sensor_llm
from .encoder import EncoderConfig
from .sensorllm import SensorLLM
from .sensorllm_config import SensorLLMConfig

__all__ = [
    "CHECKPOINT_FORMAT",
    "CheckpointError",
    "checkpoint_encoder_config",
    "init_from_stage1",
    "load_checkpoint",
    "load_trained_state",
    "read_checkpoint_config",
    "save_checkpoint",
    "trained_state_dict",
]



class CheckpointError(RuntimeError):
    """A checkpoint does not fit the model (missing/unexpected/mis-shaped tensors, other base models)."""


# ---- the delta state dict ---------------------------------------------------------------------------


def _lora_state(model: SensorLLM) -> dict[str, torch.Tensor]:
    if model.config.llm.lora is None:
        return {}
    from peft import get_peft_model_state_dict

    return dict(get_peft_model_state_dict(model.llm, save_embedding_layers=False))


def trained_state_dict(model: SensorLLM) -> dict[str, torch.Tensor]:
    """Everything that is not reconstructible from the base LLM and encoder, as detached CPU copies."""
    out: dict[str, torch.Tensor] = {}
    for k, v in model.projector.state_dict().items():
        out[f"projector.{k}"] = v
    hf = model.hf_model
    model.token_rows.push()  # trained start/end rows → the matrix, whose added rows are saved
    ids = torch.tensor(model.layout.added_ids, dtype=torch.long)
    if ids.numel():
        w_in = hf.get_input_embeddings().weight
        out["tokens.input_rows"] = w_in.detach()[ids.to(w_in.device)]
        if not model.tied_embeddings and hf.get_output_embeddings() is not None:
            w_out = hf.get_output_embeddings().weight
            out["tokens.output_rows"] = w_out.detach()[ids.to(w_out.device)]
    if model.head is not None:
        out["head.weight"] = model.head.weight
        if model.head.standardize:
            out["head.feature_mean"] = model.head.feature_mean
            out["head.feature_std"] = model.head.feature_std
    for k, v in _lora_state(model).items():
        out[f"lora.{k}"] = v
    if _saves_encoder(model):
        for k, v in model.encoder.state_dict().items():
            out[f"encoder.{k}"] = v
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in out.items()}


def _saves_encoder(model: SensorLLM) -> bool:
    """The encoder's state is saved when it trains or keeps state fitted on training data (``rocket``)."""
    return model.config.encoder.trainable or model.encoder.fitted_state


def _check_keys(expected: dict[str, torch.Tensor], got: dict[str, torch.Tensor], where: str) -> None:
    missing = sorted(set(expected) - set(got))
    unexpected = sorted(set(got) - set(expected))
    shapes = [
        f"{k}: checkpoint {tuple(got[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in sorted(set(expected) & set(got))
        if tuple(got[k].shape) != tuple(expected[k].shape)
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys: {missing}")
        if unexpected:
            parts.append(f"unexpected keys: {unexpected}")
        if shapes:
            parts.append(f"shape mismatches: {shapes}")
        raise CheckpointError(f"{where}: " + "; ".join(parts))


def _sub(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


@torch.no_grad()
def _write_rows(weight: torch.Tensor, ids: tuple[int, ...], rows: torch.Tensor) -> None:
    index = torch.tensor(ids, dtype=torch.long, device=weight.device)
    weight[index] = rows.to(device=weight.device, dtype=weight.dtype)


def load_trained_state(model: SensorLLM, state: dict[str, torch.Tensor], where: str = "checkpoint") -> None:
    """Load a :func:`trained_state_dict` into ``model``, strictly (keys and shapes checked first)."""
    _check_keys(trained_state_dict(model), state, where)
    model.projector.load_state_dict(_sub(state, "projector."), strict=True)
    hf = model.hf_model
    if "tokens.input_rows" in state:
        _write_rows(hf.get_input_embeddings().weight, model.layout.added_ids, state["tokens.input_rows"])
    if "tokens.output_rows" in state:
        _write_rows(hf.get_output_embeddings().weight, model.layout.added_ids, state["tokens.output_rows"])
    model.token_rows.pull()  # the trainable copy of the start/end rows follows the loaded matrix
    if model.head is not None:
        model.head.load_state_dict(_sub(state, "head."), strict=True)
    lora = _sub(state, "lora.")
    if lora:
        from peft import set_peft_model_state_dict

        result = set_peft_model_state_dict(model.llm, lora)
        if getattr(result, "unexpected_keys", None):
            raise CheckpointError(f"{where}: LoRA keys not in the model: {result.unexpected_keys}")
    if _saves_encoder(model):
        model.encoder.load_state_dict(_sub(state, "encoder."), strict=True)
        model.encoder.invalidate_identity()


# ---- files ----------------------------------------------------------------------------------------


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _encoder_identity(model: SensorLLM) -> str:
    if _saves_encoder(model):  # its weights may have changed since identity() was cached
        model.encoder.invalidate_identity()
    return model.encoder.identity()


def _class_records(labels, spec: Any) -> list[dict[str, str]]:
    """Name, code and description of each class, the last two from the dataset spec's classes by name."""
    classes = spec.get("classes") if isinstance(spec, dict) else None
    by_name = {str(c.get("name")): c for c in classes or [] if isinstance(c, dict)}
    return [{"name": str(n), "code": str(by_name.get(str(n), {}).get("code") or ""),
             "description": str(by_name.get(str(n), {}).get("description") or "")} for n in labels]


def save_checkpoint(model: SensorLLM, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Save the trained parts of ``model`` to the directory ``path`` (created; existing files replaced).

    Args:
        model: the model.
        path: checkpoint directory.
        extra: JSON-able information to keep alongside (stage, step, seed, run config, metrics...).

    Returns:
        ``path``.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = trained_state_dict(model)
    hf = model.hf_model
    parts = sorted({k.split(".", 1)[0] for k in state})
    meta = {
        "format": CHECKPOINT_FORMAT,
        "format_version": FORMAT_VERSION,
        "config": model.config.to_json(),
        "tokens": {
            "layout": model.layout.to_json(),
            "added_tokens": model.tokenizer.convert_ids_to_tokens(list(model.layout.added_ids)),
        },
        "encoder": {
            "source": model.encoder.source,
            "is_random_init": bool(model.encoder.is_random_init),
            "identity": _encoder_identity(model),
        },
        "llm": {
            "is_random_init": llm_is_random_init(model.config.llm.name),
            "class": type(hf).__name__,
            "tied_embeddings": model.tied_embeddings,
            "vocab_size": int(hf.get_input_embeddings().weight.shape[0]),
            "hidden_size": model.hidden_size,
        },
        "parts": parts,
        "trainable": {
            "projector": any(p.requires_grad for p in model.projector.parameters()),
            "token_rows": model.token_rows.enabled,
            "head": model.head is not None and model.head.weight.requires_grad,
            "lora": any(p.requires_grad for p in model._lora_params),
        },
        "extra": extra or {},
    }
    if model.config.labels is not None:
        meta["classes"] = _class_records(model.config.labels, (extra or {}).get("dataset"))
    text = json.dumps(meta, indent=2, sort_keys=False)  # fails early on non-JSON extras
    _atomic_write(
        path / WEIGHTS_FILE, lambda tmp: save_file(state, tmp, metadata={"format": CHECKPOINT_FORMAT})
    )
    _atomic_write(path / CONFIG_FILE, lambda tmp: Path(tmp).write_text(text))
    return path


def read_checkpoint_config(path: str | Path) -> dict[str, Any]:
    """The checkpoint's ``config.json`` (format checked)."""
    path = Path(path)
    cfg_file = path / CONFIG_FILE
    if not cfg_file.is_file() or not (path / WEIGHTS_FILE).is_file():
        raise CheckpointError(
            f"{path} is not a SensorLLM checkpoint (needs {CONFIG_FILE} and {WEIGHTS_FILE})"
        )
    meta = json.loads(cfg_file.read_text())
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{cfg_file}: format {meta.get('format')!r}, expected {CHECKPOINT_FORMAT!r}")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{cfg_file}: format_version {meta.get('format_version')}, expected {FORMAT_VERSION}"
        )
    return meta


def load_checkpoint(
    path: str | Path,
    *,
    llm: nn.Module | None = None,
    tokenizer=None,
    encoder=None,
    device: str | torch.device | None = None,
) -> SensorLLM:
    """Rebuild a model from a checkpoint directory: base LLM + encoder from the config, then trained parts.

    Args:
        path: checkpoint directory.
        llm / tokenizer / encoder: already loaded base parts to reuse (must be the ones the config names).
        device: move the model there.

    Raises:
        CheckpointError: the rebuilt model's tokens, tensors or encoder weights differ from the checkpoint's.
    """
    meta = read_checkpoint_config(path)
    config = SensorLLMConfig.from_json(meta["config"])
    model = build_sensor_llm(config, llm=llm, tokenizer=tokenizer, encoder=encoder)
    saved_layout = meta["tokens"]["layout"]
    if model.layout.to_json() != saved_layout:
        raise CheckpointError(
            f"{path}: the tokenizer now assigns different ids to the sensor tokens "
            f"({model.layout.to_json()} vs saved {saved_layout}); was the base tokenizer changed?"
        )
    state = load_file(str(Path(path) / WEIGHTS_FILE))
    load_trained_state(model, state, where=str(path))
    identity = _encoder_identity(model)
    if identity != meta["encoder"]["identity"]:
        raise CheckpointError(
            f"{path}: encoder weights differ from the ones the checkpoint was trained with "
            f"({identity} vs {meta['encoder']['identity']})"
        )
    trainable = meta.get("trainable", {})
    model.set_trainable(
        projector=trainable.get("projector", True),
        token_rows=trainable.get("token_rows", True),
        head=trainable.get("head", True),
        lora=trainable.get("lora", True),
    )
    if device is not None:
        model.to(device)
    return model


def _init_encoder_from_stage1(model: SensorLLM, s1: SensorLLMConfig, path: str | Path) -> bool:
    """Copy a Stage-1-trained or -fitted encoder (``encoder.*``, saved only then) into ``model``.

    A trained encoder is part of what Stage 2 starts from; it can only go into a Stage-2 model whose
    encoder trains too (a frozen one is rebuilt from its config and not saved, so it would be lost).
    Returns whether encoder weights were loaded.
    """
    cfg = model.config
    fitted = model.encoder.fitted_state and s1.encoder.kind == cfg.encoder.kind  # e.g. rocket: keep Stage 1's fit
    if not (s1.encoder.trainable or fitted):
        return False
    if not fitted and (not cfg.encoder.trainable or s1.encoder.kind != cfg.encoder.kind):
        raise CheckpointError(
            f"{path}: Stage 1 trained its {s1.encoder.kind!r} encoder; Stage 2 must use the same kind with "
            f"encoder.trainable=true (this model: {cfg.encoder.kind!r}, trainable={cfg.encoder.trainable})"
        )
    enc = _sub(load_file(str(Path(path) / WEIGHTS_FILE)), "encoder.")
    _check_keys(model.encoder.state_dict(), enc, f"{path} (encoder)")
    model.encoder.load_state_dict(enc, strict=True)
    model.encoder.invalidate_identity()
    return True


def checkpoint_encoder_config(path: str | Path) -> EncoderConfig:
    """The encoder settings a checkpoint's model was built with (its ``config.json`` only, no weights read): what
    a Stage-2 run needs to know of the Stage-1 model it will start from before building its own."""
    return EncoderConfig.from_json(read_checkpoint_config(path)["config"]["encoder"])


def init_from_stage1(model: SensorLLM, path: str | Path) -> list[str]:
    """Start Stage 2 from a Stage-1 checkpoint: copy its projector, sensor-token rows and LoRA (and the
    encoder, when Stage 1 trained it).

    The base LLM, the encoder weights and the projector shape must match. Token rows are matched by
    token string; channels new in Stage 2 keep their mean initialisation (with a warning).

    Returns:
        The parts loaded.
    """
    meta = read_checkpoint_config(path)
    s1 = SensorLLMConfig.from_json(meta["config"])
    cfg = model.config
    seeded = llm_is_random_init(cfg.llm.name)
    if s1.llm.name != cfg.llm.name or (seeded and s1.llm.seed != cfg.llm.seed):
        raise CheckpointError(
            f"{path}: Stage 1 used LLM {s1.llm.name!r} (seed {s1.llm.seed}), this model {cfg.llm.name!r}"
        )
    loaded_encoder = _init_encoder_from_stage1(model, s1, path)
    if meta["encoder"]["identity"] != _encoder_identity(model):
        raise CheckpointError(f"{path}: Stage 1 used other encoder weights ({meta['encoder']['identity']})")
    if s1.channel_markers != cfg.channel_markers:
        raise CheckpointError(f"{path}: Stage 1 used channel_markers={s1.channel_markers}, this model "
                              f"{cfg.channel_markers}; the token layout must be the same in both stages")
    if s1.projector.to_json() | {"dropout": 0} != cfg.projector.to_json() | {"dropout": 0}:
        raise CheckpointError(f"{path}: projector {s1.projector} differs from this model's {cfg.projector}")
    state = load_file(str(Path(path) / WEIGHTS_FILE))
    loaded = ["projector"] + (["encoder"] if loaded_encoder else [])
    proj = _sub(state, "projector.")
    _check_keys(model.projector.state_dict(), proj, f"{path} (projector)")
    model.projector.load_state_dict(proj, strict=True)

    hf = model.hf_model
    s1_tokens = meta["tokens"]["added_tokens"]
    row_of = {tok: i for i, tok in enumerate(s1_tokens)}
    mine = model.tokenizer.convert_ids_to_tokens(list(model.layout.added_ids))
    pairs = zip(model.layout.added_ids, mine, strict=True)
    pick = [(tid, row_of[tok]) for tid, tok in pairs if tok in row_of]
    new = [tok for tok in mine if tok not in row_of]
    if new:
        warnings.warn(
            f"tokens {new} were not in the Stage-1 checkpoint; they keep their mean initialisation",
            stacklevel=2,
        )
    if pick and "tokens.input_rows" in state:
        ids, rows = zip(*pick, strict=True)
        _write_rows(hf.get_input_embeddings().weight, ids, state["tokens.input_rows"][list(rows)])
        if "tokens.output_rows" in state and not model.tied_embeddings:
            _write_rows(hf.get_output_embeddings().weight, ids, state["tokens.output_rows"][list(rows)])
        loaded.append("tokens")

    lora = _sub(state, "lora.")
    if lora:
        if cfg.llm.lora is None or s1.llm.lora != cfg.llm.lora:
            raise CheckpointError(
                f"{path}: Stage 1 trained LoRA adapters {s1.llm.lora}; this model has {cfg.llm.lora}"
            )
        expected = _lora_state(model)
        _check_keys(expected, lora, f"{path} (LoRA)")
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(model.llm, lora)
        loaded.append("lora")
    return loaded
