"""The SensorLLM model: Chronos encoder → projector → channel tokens spliced by name → any HF causal LM.

Typical use::

    from sensorllm.model import SensorLLMConfig, build_sensor_llm, save_checkpoint, load_checkpoint

    cfg = SensorLLMConfig(channels=tuple(spec.channel_names), labels=tuple(spec.class_names))
    model = build_sensor_llm(cfg)
    from sensorllm.data import TextSettings, collate_items, window_items   # the data floor, above this one
    items = window_items(windows, spec.channels, spec.rate_hz, TextSettings(), labels=y)  # windows (N, L, C)
    batch = collate_items(model.prompts, items[:8])      # batch.series: (8, C, L) float32
    out = model.forward_stage2(batch, class_weights=w)   # out.logits (B, K), out.loss

See ``docs/model.md`` and ``docs/architecture.md``.
"""

from .batch import SensorBatch
from .build import build_sensor_llm
from .cache import EmbeddingCache, series_hash
from .checkpoint import (
    CheckpointError,
    checkpoint_encoder_config,
    init_from_stage1,
    load_checkpoint,
    load_trained_state,
    read_checkpoint_config,
    save_checkpoint,
    trained_state_dict,
)
from .encoder import CHRONOS_T5_SIZES, EncoderConfig, SensorEncoder, build_encoder, list_encoders
from .encoders import ChronosBoltEncoder, ChronosEncoder, ConvEncoder, RawPatchEncoder
from .head import Stage1Output, Stage2Output, class_weights_from_labels, last_token_rows
from .llm import (
    LLMConfig,
    LoRASettings,
    apply_lora,
    build_byte_tokenizer,
    build_tiny_llm,
    list_llm_aliases,
    llm_is_random_init,
    load_llm,
    register_llm,
    resolve_llm,
)
from .projector import PROJECTOR_PRESETS, Projector, ProjectorConfig, pool_tokens, pooled_length
from .prompts import (
    IGNORE_INDEX,
    PromptBuilder,
    PromptError,
    SensorTokenCount,
    SequenceTooLongError,
    Stage1Example,
    Stage2Example,
    default_system_prompt,
)
from .sensorllm import SensorLLM
from .sensorllm_config import SensorLLMConfig
from .sensor_path import SensorPath
from .splice import SpliceError, channel_spans, splice_sensor_embeddings, splice_window_embeddings
from .series_tokenizer import AllMissingError, TokenizerConfig, build_series_tokenizer, list_series_tokenizers
from .tokens import TS_TOKEN, TokenLayout, TokenRows, add_sensor_tokens, init_new_token_rows

__all__ = [
    "CHRONOS_T5_SIZES",
    "IGNORE_INDEX",
    "PROJECTOR_PRESETS",
    "TS_TOKEN",
    "AllMissingError",
    "CheckpointError",
    "ChronosBoltEncoder",
    "ChronosEncoder",
    "ConvEncoder",
    "EmbeddingCache",
    "EncoderConfig",
    "LLMConfig",
    "LoRASettings",
    "Projector",
    "ProjectorConfig",
    "PromptBuilder",
    "PromptError",
    "RawPatchEncoder",
    "SensorBatch",
    "SensorEncoder",
    "SensorLLM",
    "SensorLLMConfig",
    "SensorPath",
    "SensorTokenCount",
    "SequenceTooLongError",
    "SpliceError",
    "Stage1Example",
    "Stage1Output",
    "Stage2Example",
    "Stage2Output",
    "TokenLayout",
    "TokenRows",
    "TokenizerConfig",
    "add_sensor_tokens",
    "apply_lora",
    "build_byte_tokenizer",
    "build_encoder",
    "build_sensor_llm",
    "build_series_tokenizer",
    "build_tiny_llm",
    "channel_spans",
    "class_weights_from_labels",
    "last_token_rows",
    "default_system_prompt",
    "checkpoint_encoder_config",
    "init_from_stage1",
    "init_new_token_rows",
    "list_encoders",
    "list_llm_aliases",
    "list_series_tokenizers",
    "llm_is_random_init",
    "load_checkpoint",
    "load_llm",
    "load_trained_state",
    "pool_tokens",
    "pooled_length",
    "read_checkpoint_config",
    "register_llm",
    "resolve_llm",
    "save_checkpoint",
    "series_hash",
    "splice_sensor_embeddings",
    "splice_window_embeddings",
    "trained_state_dict",
]
