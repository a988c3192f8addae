"""Assembling a SensorLLM from its configuration (:func:`build_sensor_llm`)."""

from __future__ import annotations

import torch
from torch import nn

from .encoder import SensorEncoder, build_encoder
from .head import ClassifierHead
from .llm import apply_lora, load_llm, unwrap_llm
from .projector import Projector
from .sensorllm import SensorLLM
from .sensorllm_config import SensorLLMConfig
from .tokens import add_sensor_tokens, init_new_token_rows

__all__ = ["build_sensor_llm"]


def build_sensor_llm(
    config: SensorLLMConfig,
    *,
    llm: nn.Module | None = None,
    tokenizer=None,
    encoder: SensorEncoder | None = None,
    head_seed: int = 0,
) -> SensorLLM:
    """Assemble a SensorLLM from its config (or from already loaded parts).

    Steps: load the LLM (frozen) → add ``<ts>``/start/end (and pad) tokens, mean-initialise new rows →
    LoRA (if configured) → build the encoder (frozen unless configured) → projector → head.
    Trainable afterwards: projector, start/end rows, head, LoRA (``set_trainable`` changes it).

    Args:
        config: the model configuration.
        llm / tokenizer: a loaded base LLM and its tokenizer (default: :func:`load_llm`); fresh, unmodified.
        encoder: a built encoder (default: :func:`build_encoder`).
        head_seed: seed of the classifier head's initialisation.
    """
    if (llm is None) != (tokenizer is None):
        raise ValueError("pass both llm and tokenizer, or neither")
    if llm is None:
        llm, tokenizer = load_llm(config.llm)
    layout = add_sensor_tokens(tokenizer, list(config.channels), ts_token=config.ts_token)
    init_new_token_rows(llm, tokenizer, layout)
    if getattr(llm.config, "pad_token_id", None) is None:
        llm.config.pad_token_id = layout.pad_id
    if config.llm.lora is not None:
        llm = apply_lora(llm, config.llm.lora)
    if encoder is None:
        encoder = build_encoder(config.encoder)
    emb = unwrap_llm(llm).get_input_embeddings().weight
    hidden = int(emb.shape[1])
    text_rms = float(emb[: layout.base_vocab].detach().float().pow(2).mean().sqrt()) if config.projector.normalize \
        else 1.0
    projector = Projector.from_config(config.projector, encoder.d_model, hidden, out_rms=text_rms)
    head = None
    if config.labels is not None:
        head = ClassifierHead(config.head_width(hidden), len(config.labels), standardize=config.head_standardize)
        gen = torch.Generator().manual_seed(head_seed)
        with torch.no_grad():
            head.weight.copy_(torch.randn(head.weight.shape, generator=gen) * 0.02)
    model = SensorLLM(config, llm, tokenizer, encoder, projector, layout, head)
    model.set_trainable()
    # Evaluation mode, as `from_pretrained` returns models: an LLM built in code (train mode) would otherwise
    # keep dropout on until `.train()` / `.eval()` is called. Training loops call `.train()`.
    model.eval()
    return model
