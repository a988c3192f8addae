"""The ``chronos`` encoder (the paper's): the T5 encoder of a Chronos-T5 model, one embedding per sample
plus EOS.

Only the encoder half of Chronos-T5 is used: ``encoder(input_ids, attention_mask).last_hidden_state``
(final layer, after the final norm), on the ids of a series tokeniser (:mod:`sensorllm.model.series_tokenizer`).
Built from a hub id / local directory through ``chronos.ChronosPipeline`` (the tokeniser it is read with is
resolved against the one it was trained with, see :func:`_resolve_tokenizer`) or as a seeded random
initialisation of a published shape (:func:`chronos_t5_config`, shared with ``sensorllm pretrain-encoder``;
:func:`t5_shape_kwargs` is shared with Chronos-Bolt).
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from .encoder import CHRONOS_T5_SIZES, EncoderConfig, SensorEncoder, register_encoder, weights_fingerprint
from .series_tokenizer import SeriesTokenizer, TokenizerConfig, build_series_tokenizer, chronos_config_dict

__all__ = [
    "TOKENIZER_RECORD_KEY",
    "ChronosEncoder",
    "TokenizerMismatchError",
    "chronos_t5_config",
    "t5_shape_kwargs",
]

# Key of the ``config.json`` of a Chronos-T5 directory written by ``sensorllm pretrain-encoder`` that records
# the exact series tokeniser the weights were trained with (``TokenizerConfig`` fields).
TOKENIZER_RECORD_KEY = "sensorllm_tokenizer"


class TokenizerMismatchError(ValueError):
    """A pretrained encoder would read series through another tokeniser than the one it was trained with."""


class ChronosEncoder(SensorEncoder):
    """The encoder of a Chronos-T5 model: one embedding per sample plus EOS.

    Args:
        t5_encoder: a module called as ``t5_encoder(input_ids=…, attention_mask=…)`` returning an object
            with ``last_hidden_state`` (``T5EncoderModel`` or the ``encoder`` stack of a
            ``T5ForConditionalGeneration``).
        tokenizer: the series tokeniser.
        source: where the weights came from.
        is_random_init: whether they are random.
        max_series_per_call: series per encoder call.
    """

    patch_size = 1
    extra_tokens = 1  # EOS

    def __init__(
        self,
        t5_encoder: nn.Module,
        tokenizer: SeriesTokenizer,
        source: str,
        is_random_init: bool,
        max_series_per_call: int = 256,
    ) -> None:
        super().__init__()
        self.t5 = t5_encoder
        self.tokenizer = tokenizer
        self.source = source
        self.is_random_init = is_random_init
        self.max_series_per_call = max_series_per_call
        self.context_length = tokenizer.config.context_length
        self.normalizes_series = tokenizer.config.kind == "std_uniform"  # mean_scale keeps the offset
        self.d_model = int(t5_encoder.config.d_model)
        vocab = int(t5_encoder.config.vocab_size)
        if tokenizer.config.n_tokens > vocab:
            raise ValueError(f"tokenizer uses {tokenizer.config.n_tokens} ids but the encoder has {vocab}")

    def encode_values(self, values: torch.Tensor) -> torch.Tensor:
        ids, mask = self.tokenizer(values)  # (N, T'+1) each
        device = next(self.t5.parameters()).device
        out = self.t5(input_ids=ids.to(device), attention_mask=mask.to(device).long())
        return out.last_hidden_state.float()  # (N, T'+1, d)

    def _identity_string(self) -> str:
        # The weights and the tokeniser, not the path they came from: the same weights share a cache.
        return f"chronos|w{weights_fingerprint(self.t5)}|{self.tokenizer.config.identity}"

    def describe(self) -> str:
        return f"{super().describe()}, tokenizer {self.tokenizer.config.identity}"


def chronos_t5_config(
    size: str, tokenizer: TokenizerConfig, prediction_length: int = 64, dropout: float = 0.1, **extra: Any
):
    """A ``T5Config`` shaped like the published Chronos-T5 ``size``, with its ``chronos_config`` block.

    Shared by the random initialisation here and by ``sensorllm pretrain-encoder``; ``extra`` become further
    config attributes (saved in ``config.json``).
    """
    from chronos import ChronosConfig
    from transformers import T5Config

    chronos_cfg = chronos_config_dict(tokenizer, prediction_length=prediction_length)
    ChronosConfig(**chronos_cfg)  # validates the block as Chronos would
    return T5Config(
        vocab_size=tokenizer.n_tokens,
        **t5_shape_kwargs(size, dropout),
        relative_attention_num_buckets=32,
        relative_attention_max_distance=128,
        chronos_config=chronos_cfg,
        **extra,
    )


def t5_shape_kwargs(size: str, dropout: float = 0.1) -> dict[str, Any]:
    """``T5Config`` arguments every Chronos model of a published ``size`` shares (Chronos-T5 and Chronos-Bolt):
    widths, depth and heads from :data:`CHRONOS_T5_SIZES`, ReLU feed-forward, the init scale, and T5's
    pad/EOS/decoder-start ids."""
    shape = CHRONOS_T5_SIZES[size]
    return {
        "d_model": shape["d_model"],
        "d_ff": shape["d_ff"],
        "d_kv": shape["d_kv"],
        "num_layers": shape["num_layers"],
        "num_decoder_layers": shape["num_layers"],
        "num_heads": shape["num_heads"],
        "feed_forward_proj": "relu",
        "dropout_rate": dropout,
        "initializer_factor": 0.05,
        "layer_norm_epsilon": 1e-6,
        "pad_token_id": 0,
        "eos_token_id": 1,
        "decoder_start_token_id": 0,
    }


def _random_chronos(cfg: EncoderConfig) -> ChronosEncoder:
    from transformers import T5EncoderModel

    tok = cfg.tokenizer_or_default
    torch.manual_seed(cfg.seed)
    model = T5EncoderModel(chronos_t5_config(cfg.size, tok)).eval()
    return ChronosEncoder(
        model,
        build_series_tokenizer(tok),
        source=f"random:{cfg.size}:seed{cfg.seed}",
        is_random_init=True,
        max_series_per_call=cfg.max_series_per_call,
    )


def _trained_tokenizer(hf_config, where: str) -> tuple[TokenizerConfig, bool]:
    """The tokeniser a Chronos-T5 checkpoint was trained with, and whether the directory records it exactly.

    ``sensorllm pretrain-encoder`` writes the exact settings under :data:`TOKENIZER_RECORD_KEY`. The published
    checkpoints only name their tokeniser class in ``chronos_config`` (``MeanScaleUniformBins``); the settings
    are then read from that block.
    """
    recorded = getattr(hf_config, TOKENIZER_RECORD_KEY, None)
    if recorded is not None:
        return TokenizerConfig(**recorded), True
    cc = hf_config.chronos_config
    if cc.get("tokenizer_class") != "MeanScaleUniformBins":
        raise ValueError(
            f"{where}: chronos_config names tokenizer {cc.get('tokenizer_class')!r}; only "
            "MeanScaleUniformBins checkpoints (all published Chronos-T5 models) are known"
        )
    kw = cc.get("tokenizer_kwargs", {})
    inferred = TokenizerConfig(
        kind="mean_scale",
        n_tokens=int(cc["n_tokens"]),
        low_limit=float(kw.get("low_limit", -15.0)),
        high_limit=float(kw.get("high_limit", 15.0)),
        context_length=int(cc["context_length"]),
    )
    return inferred, False


def _resolve_tokenizer(cfg: EncoderConfig, hf_config) -> TokenizerConfig:
    """The tokeniser a pretrained Chronos-T5 encoder is used with; mismatches with its training raise.

    Rules: a directory that records its tokeniser uses it when ``cfg.tokenizer`` is ``None``, and an explicit
    ``cfg.tokenizer`` must equal it (a shorter ``context_length`` is allowed: it only truncates). Without a
    record (the published checkpoints), ``cfg.tokenizer`` (default: the paper's ``std_uniform``) is used;
    vocabulary size, bin limits and context must fit the checkpoint, and a different normalisation than the
    ``MeanScaleUniformBins`` it was trained with is warned about: that is the paper's own choice
    (StanNormalizeUniformBins on chronos-t5-large), kept for replication.
    """
    where = str(cfg.pretrained)
    trained, recorded = _trained_tokenizer(hf_config, where)
    used = trained if (recorded and cfg.tokenizer is None) else cfg.tokenizer_or_default
    diffs = [
        f"{k}: trained {getattr(trained, k)!r}, configured {getattr(used, k)!r}"
        for k in ("kind", "n_tokens", "low_limit", "high_limit")
        if getattr(trained, k) != getattr(used, k)
    ]
    if used.context_length > trained.context_length:
        diffs.append(
            f"context_length: model reads at most {trained.context_length}, configured {used.context_length}"
        )
    hard = [d for d in diffs if not d.startswith("kind")] if not recorded else diffs
    if hard:
        hint = (
            "leave encoder.tokenizer unset to use the recorded one"
            if recorded
            else "set encoder.tokenizer to the checkpoint's settings"
        )
        raise TokenizerMismatchError(
            f"{where} was trained with another series tokenizer than configured ({'; '.join(hard)}); {hint}"
        )
    if diffs:  # only the normalisation differs, on a checkpoint without a record: the paper's choice
        warnings.warn(
            f"{where} was trained with MeanScaleUniformBins (mean_scale) but is used with {used.kind} "
            "(the paper's StanNormalizeUniformBins choice); set encoder.tokenizer.kind=mean_scale to read "
            "series as it was trained",
            stacklevel=5,  # the caller of build_encoder
        )
    return used


def _pretrained_chronos(cfg: EncoderConfig) -> ChronosEncoder:
    from chronos import ChronosPipeline
    from transformers import AutoConfig

    assert cfg.pretrained is not None
    hf_config = AutoConfig.from_pretrained(cfg.pretrained)
    chronos_block = getattr(hf_config, "chronos_config", None)
    if chronos_block is None:
        raise ValueError(f"{cfg.pretrained} is not a Chronos model (its config.json has no chronos_config)")
    if "input_patch_size" in chronos_block:
        raise ValueError(f"{cfg.pretrained} is a Chronos-Bolt model: use encoder.kind=chronos-bolt")
    if chronos_block.get("model_type") != "seq2seq":
        raise ValueError(f"{cfg.pretrained}: only seq2seq (T5) Chronos models have an encoder")
    tokenizer = _resolve_tokenizer(cfg, hf_config)
    pipeline = ChronosPipeline.from_pretrained(cfg.pretrained)
    encoder = pipeline.model.model.encoder.eval()  # T5Stack; the decoder is dropped with the pipeline
    return ChronosEncoder(
        encoder,
        build_series_tokenizer(tokenizer),
        source=str(cfg.pretrained),
        is_random_init=False,
        max_series_per_call=cfg.max_series_per_call,
    )


def _build_chronos(cfg: EncoderConfig) -> ChronosEncoder:
    return _pretrained_chronos(cfg) if cfg.pretrained is not None else _random_chronos(cfg)


def _check_chronos(cfg: EncoderConfig) -> list[str]:
    problems = []
    if cfg.pretrained is None and cfg.size not in CHRONOS_T5_SIZES:
        problems.append(f"Unknown Chronos size {cfg.size!r}. Known: {', '.join(CHRONOS_T5_SIZES)}")
    if cfg.context_length is not None:
        problems.append("context_length is not used: set encoder.tokenizer.context_length instead")
    if cfg.patch_size is not None:
        problems.append("patch_size is not used (Chronos-T5 gives one token per sample)")
    return problems


register_encoder(
    "chronos",
    description="Chronos-T5 encoder (the paper's): one token per sample + EOS; frozen by default",
    check=_check_chronos,
)(_build_chronos)
