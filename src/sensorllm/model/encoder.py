"""Time-series encoders: the embeddings one channel of one window becomes (before pooling/projection).

The interface is :class:`SensorEncoder`. Encoders are registered by name (``EncoderConfig.kind``):

``chronos`` (:class:`ChronosEncoder`, the paper's)
    the T5 encoder of a Chronos-T5 model (the paper uses ``amazon/chronos-t5-large``, ``d_model = 1024``):
    one embedding per sample plus EOS, ``min(L, context) + 1`` tokens.
``chronos-bolt`` (:mod:`sensorllm.model.encoder_bolt`)
    the encoder of a Chronos-Bolt model: one embedding per patch of 16 samples (+ a REG token).
``raw-patch`` (:mod:`sensorllm.model.encoder_raw`)
    no pretrained encoder: z-normalised raw samples cut into patches, one linear layer; always trainable.

Each is built either from a hub id / local directory (``pretrained``) or as a seeded random initialisation
of a named size, for tests and for machines without the weights. Results made with a random encoder are
flagged by ``is_random_init`` (recorded in checkpoint configs). How many tokens a series of ``L`` samples
gives is the encoder's :meth:`SensorEncoder.num_tokens` (``ceil(min(L, context) / patch) + extra``); the
prompt builder, the splice, pooling and the cache all go through it. See ``docs/encoders.md``.

Only the encoder half of Chronos-T5 is used: ``encoder(input_ids, attention_mask).last_hidden_state``
(final layer, after the final norm). No pooling here (see :mod:`sensorllm.model.projector`).
"""

from __future__ import annotations

import hashlib
import importlib
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from sensorllm.registry import Registry

from .tokenizer import SeriesTokenizer, TokenizerConfig, build_series_tokenizer, chronos_config_dict

__all__ = [
    "CHRONOS_T5_SIZES",
    "ChronosEncoder",
    "EncoderConfig",
    "EncoderSpec",
    "SensorEncoder",
    "TOKENIZER_RECORD_KEY",
    "TokenizerMismatchError",
    "build_encoder",
    "chronos_t5_config",
    "t5_shape_kwargs",
    "describe_encoders",
    "list_encoders",
    "register_encoder",
    "weights_fingerprint",
]

ChronosSize = Literal["tiny", "mini", "small", "base", "large"]

# Shapes of the published Chronos-T5 checkpoints (encoder side); vocab 4096, relu FFN, no gating.
# Chronos-Bolt tiny/mini/small/base have the same shapes (no Bolt "large").
CHRONOS_T5_SIZES: dict[str, dict[str, int]] = {
    "tiny": {"d_model": 256, "d_ff": 1024, "num_layers": 4, "num_heads": 4, "d_kv": 64},
    "mini": {"d_model": 384, "d_ff": 1536, "num_layers": 4, "num_heads": 8, "d_kv": 64},
    "small": {"d_model": 512, "d_ff": 2048, "num_layers": 6, "num_heads": 8, "d_kv": 64},
    "base": {"d_model": 768, "d_ff": 3072, "num_layers": 12, "num_heads": 12, "d_kv": 64},
    "large": {"d_model": 1024, "d_ff": 4096, "num_layers": 24, "num_heads": 16, "d_kv": 64},
}

# Key of the ``config.json`` of a Chronos-T5 directory written by ``sensorllm pretrain-encoder`` that records
# the exact series tokeniser the weights were trained with (``TokenizerConfig`` fields).
TOKENIZER_RECORD_KEY = "sensorllm_tokenizer"

# Modules that register the built-in encoders other than ``chronos`` (imported on first registry use, so
# that they can import this module without a cycle).
_BUILTIN_ENCODER_MODULES = ("encoder_bolt", "encoder_raw")


class TokenizerMismatchError(ValueError):
    """A pretrained encoder would read series through another tokeniser than the one it was trained with."""


@dataclass(frozen=True)
class EncoderConfig:
    """How to obtain the time-series encoder.

    Attributes:
        kind: registry key: ``chronos`` (Chronos-T5), ``chronos-bolt`` or ``raw-patch``
            (see ``sensorllm models`` and ``docs/encoders.md``).
        pretrained: hub id (``amazon/chronos-t5-large``, ``amazon/chronos-bolt-small``) or local directory;
            ``None`` builds a random initialisation of ``size`` seeded with ``seed`` (``is_random_init``).
            ``raw-patch`` has no pretrained weights.
        size: Chronos shape of the random initialisation (``raw-patch``: its width is that size's d_model).
        seed: seed of the random initialisation.
        tokenizer: ``chronos`` only: series tokeniser settings. ``None`` = the default (z-normalising
            ``std_uniform`` bins, the paper's), except for a pretrained directory that records the tokeniser
            it was trained with (``sensorllm pretrain-encoder`` output), which then uses that one. Given
            explicitly, it must agree with such a record (else :class:`TokenizerMismatchError`).
        trainable: train the encoder too (the paper keeps it frozen; ``raw-patch`` must train).
        max_series_per_call: series per encoder call (memory bound); results do not depend on it.
        context_length: ``chronos-bolt`` / ``raw-patch``: longest series read (longer ones keep their last
            samples). ``None`` = 512 (a pretrained Bolt: its own context). ``chronos`` reads
            ``tokenizer.context_length`` instead.
        patch_size: ``chronos-bolt`` / ``raw-patch``: samples per token. ``None`` = 16 (a pretrained Bolt: its
            own patch size; a different explicit value is an error).
    """

    kind: str = "chronos"
    pretrained: str | None = None
    size: ChronosSize = "tiny"
    seed: int = 0
    tokenizer: TokenizerConfig | None = None
    trainable: bool = False
    max_series_per_call: int = 256
    context_length: int | None = None
    patch_size: int | None = None

    def __post_init__(self) -> None:
        if self.max_series_per_call < 1:
            raise ValueError("max_series_per_call must be ≥ 1")
        if self.context_length is not None and self.context_length < 1:
            raise ValueError(f"context_length must be ≥ 1, got {self.context_length}")
        if self.patch_size is not None and self.patch_size < 1:
            raise ValueError(f"patch_size must be ≥ 1, got {self.patch_size}")
        problems = _spec(self.kind).check(self)
        if problems:
            raise ValueError(f"encoder kind {self.kind!r}: " + "; ".join(problems))

    @property
    def tokenizer_or_default(self) -> TokenizerConfig:
        """``tokenizer``, or the default settings when it is ``None``."""
        return self.tokenizer if self.tokenizer is not None else TokenizerConfig()

    def to_json(self) -> dict:
        return {
            "kind": self.kind,
            "pretrained": self.pretrained,
            "size": self.size,
            "seed": self.seed,
            "tokenizer": None if self.tokenizer is None else dict(vars(self.tokenizer)),
            "trainable": self.trainable,
            "max_series_per_call": self.max_series_per_call,
            "context_length": self.context_length,
            "patch_size": self.patch_size,
        }

    @classmethod
    def from_json(cls, d: dict) -> EncoderConfig:
        """Inverse of :meth:`to_json`; configs saved before ``context_length``/``patch_size`` existed load."""
        d = dict(d)
        if d.get("tokenizer") is not None:
            d["tokenizer"] = TokenizerConfig(**d["tokenizer"])
        return cls(**d)


def weights_fingerprint(module: nn.Module) -> str:
    """SHA-256 (24 hex digits) over a module's state dict: names and float32 values, in name order."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:24]


class SensorEncoder(nn.Module):
    """Interface of a time-series encoder.

    A series of ``L`` samples gives ``num_tokens(L) = ceil(min(L, context_length) / patch_size) +
    extra_tokens`` embeddings (series longer than the context keep their last samples).

    Attributes:
        d_model: embedding width ``d_enc``.
        context_length: longest series read.
        patch_size: samples per embedding (1 = one per sample).
        extra_tokens: embeddings appended after the samples/patches (Chronos-T5 EOS, Bolt REG).
        is_random_init: True when the weights are a random initialisation, not a trained checkpoint.
        source: human-readable origin (hub id, directory, or ``random:<size>:seed<seed>``).
    """

    d_model: int
    context_length: int
    patch_size: int = 1
    extra_tokens: int = 0
    is_random_init: bool
    source: str
    max_series_per_call: int = 256

    def num_tokens(self, length: int) -> int:
        """Embeddings produced for a series of ``length`` samples."""
        if length < 1:
            raise ValueError(f"a series needs at least one sample, got length {length}")
        return -(-min(length, self.context_length) // self.patch_size) + self.extra_tokens

    def encode_values(self, values: torch.Tensor) -> torch.Tensor:
        """Encode equal-length series.

        Args:
            values: ``(N, T)`` raw values (any float dtype); NaN = missing sample.

        Returns:
            ``(N, num_tokens(T), d_model)`` float32.

        Raises:
            AllMissingError: a series is all NaN.
        """
        raise NotImplementedError

    def encode(self, series: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Encode series of any lengths, grouped by length so that no series is ever padded.

        Args:
            series: ``N`` 1-D tensors of raw values.

        Returns:
            ``N`` tensors ``(num_tokens(len_i), d_model)`` in input order. The result for a series does not
            depend on which other series share the call.
        """
        out: list[torch.Tensor | None] = [None] * len(series)
        by_len: dict[int, list[int]] = {}
        for i, s in enumerate(series):
            if s.ndim != 1:
                raise ValueError(f"series {i}: expected a 1-D tensor, got shape {tuple(s.shape)}")
            by_len.setdefault(int(s.shape[0]), []).append(i)
        step = self.max_series_per_call
        for length, idx in sorted(by_len.items()):
            for k in range(0, len(idx), step):
                chunk = idx[k : k + step]
                emb = self.encode_values(torch.stack([series[i] for i in chunk]))  # (n, num_tokens, d)
                if emb.shape[1] != self.num_tokens(length):
                    raise RuntimeError(
                        f"{type(self).__name__} gave {emb.shape[1]} tokens for {length} samples, "
                        f"num_tokens says {self.num_tokens(length)}"
                    )
                for j, i in enumerate(chunk):
                    out[i] = emb[j]
        return out  # type: ignore[return-value]

    def identity(self) -> str:
        """A string naming the weights and the input transform exactly (cache key, checkpoint check)."""
        raise NotImplementedError

    def invalidate_identity(self) -> None:
        """Forget a cached weight fingerprint (call after the weights change)."""

    def describe(self) -> str:
        """One line for logs: kind, origin, width and the token rule."""
        rule = f"ceil(min(L, {self.context_length}) / {self.patch_size}) + {self.extra_tokens} tokens"
        if self.patch_size == 1:
            rule = f"min(L, {self.context_length}) + {self.extra_tokens} tokens"
        init = "RANDOM-INIT" if self.is_random_init else "pretrained"
        return f"{type(self).__name__} ({init}, {self.source}), d_model {self.d_model}, {rule}"


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
        self.d_model = int(t5_encoder.config.d_model)
        vocab = int(t5_encoder.config.vocab_size)
        if tokenizer.config.n_tokens > vocab:
            raise ValueError(f"tokenizer uses {tokenizer.config.n_tokens} ids but the encoder has {vocab}")
        self._identity: str | None = None

    def encode_values(self, values: torch.Tensor) -> torch.Tensor:
        ids, mask = self.tokenizer(values)  # (N, T'+1) each
        device = next(self.t5.parameters()).device
        out = self.t5(input_ids=ids.to(device), attention_mask=mask.to(device).long())
        return out.last_hidden_state.float()  # (N, T'+1, d)

    def identity(self) -> str:
        if self._identity is None:
            # The weights and the tokeniser, not the path they came from: the same weights share a cache.
            self._identity = f"chronos|w{weights_fingerprint(self.t5)}|{self.tokenizer.config.identity}"
        return self._identity

    def invalidate_identity(self) -> None:
        self._identity = None

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


# ---- registry ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EncoderSpec:
    """A registered encoder: its builder, its config check and a one-line description."""

    name: str
    build: Callable[[EncoderConfig], SensorEncoder]
    check: Callable[[EncoderConfig], list[str]]
    description: str


_ENCODERS: Registry[EncoderSpec] = Registry("encoder", error=ValueError)


def register_encoder(
    name: str, *, description: str = "", check: Callable[[EncoderConfig], list[str]] | None = None
) -> Callable[[Callable[[EncoderConfig], SensorEncoder]], Callable[[EncoderConfig], SensorEncoder]]:
    """Decorator registering an encoder builder under ``name``; duplicates are refused.

    Args:
        name: the ``EncoderConfig.kind`` value.
        description: one line for ``sensorllm models``.
        check: returns the problems of a config for this kind (raised by ``EncoderConfig.__post_init__``).
    """

    def deco(build: Callable[[EncoderConfig], SensorEncoder]) -> Callable[[EncoderConfig], SensorEncoder]:
        _ENCODERS.add(name, EncoderSpec(name, build, check or (lambda cfg: []), description))
        return build

    return deco


register_encoder(
    "chronos",
    description="Chronos-T5 encoder (the paper's): one token per sample + EOS; frozen by default",
    check=_check_chronos,
)(_build_chronos)


def _load_builtin_encoders() -> None:
    for mod in _BUILTIN_ENCODER_MODULES:
        importlib.import_module(f"{__package__}.{mod}")


def _spec(kind: str) -> EncoderSpec:
    _load_builtin_encoders()
    return _ENCODERS.get(kind)


def list_encoders() -> list[str]:
    _load_builtin_encoders()
    return _ENCODERS.names()


def describe_encoders() -> dict[str, str]:
    """Registered encoder names → one-line descriptions."""
    return {name: _spec(name).description for name in list_encoders()}


def build_encoder(cfg: EncoderConfig) -> SensorEncoder:
    """Build the encoder ``cfg`` describes; frozen and in eval mode unless ``cfg.trainable``."""
    enc = _spec(cfg.kind).build(cfg)
    enc.requires_grad_(cfg.trainable)
    return enc.eval()
