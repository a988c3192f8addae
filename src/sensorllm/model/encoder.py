"""Time-series encoders: one embedding per sample (+ EOS) for every channel of every window.

The interface is :class:`SensorEncoder`; the one implementation is :class:`ChronosEncoder`, the T5
encoder of a Chronos-T5 model (the paper uses ``amazon/chronos-t5-large``, ``d_model = 1024``).
It is built either from a hub id / local directory through ``chronos.ChronosPipeline`` — exactly
what users with the weights do — or as a seeded random initialisation of a named size, for tests
and for machines without the weights. Results made with a random encoder are flagged by
``is_random_init`` (recorded in checkpoint configs).

Only the encoder half of the T5 model is used: ``encoder(input_ids, attention_mask).last_hidden_state``
(final layer, after the final norm). No pooling here (see :mod:`sensorllm.model.projector`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from sensorllm.registry import Registry

from .tokenizer import SeriesTokenizer, TokenizerConfig, build_series_tokenizer, chronos_config_dict

__all__ = [
    "CHRONOS_T5_SIZES",
    "ChronosEncoder",
    "EncoderConfig",
    "SensorEncoder",
    "build_encoder",
    "list_encoders",
    "register_encoder",
]

ChronosSize = Literal["tiny", "mini", "small", "base", "large"]

# Shapes of the published Chronos-T5 checkpoints (encoder side); vocab 4096, relu FFN, no gating.
CHRONOS_T5_SIZES: dict[str, dict[str, int]] = {
    "tiny": {"d_model": 256, "d_ff": 1024, "num_layers": 4, "num_heads": 4, "d_kv": 64},
    "mini": {"d_model": 384, "d_ff": 1536, "num_layers": 4, "num_heads": 8, "d_kv": 64},
    "small": {"d_model": 512, "d_ff": 2048, "num_layers": 6, "num_heads": 8, "d_kv": 64},
    "base": {"d_model": 768, "d_ff": 3072, "num_layers": 12, "num_heads": 12, "d_kv": 64},
    "large": {"d_model": 1024, "d_ff": 4096, "num_layers": 24, "num_heads": 16, "d_kv": 64},
}


@dataclass(frozen=True)
class EncoderConfig:
    """How to obtain the time-series encoder.

    Attributes:
        kind: registry key (``chronos``).
        pretrained: hub id (``amazon/chronos-t5-large``) or local directory; ``None`` builds a random
            initialisation of ``size`` seeded with ``seed`` (flagged ``is_random_init``).
        size: Chronos-T5 shape for the random initialisation.
        seed: seed of the random initialisation.
        tokenizer: series tokeniser settings (z-normalising bins by default).
        trainable: train the encoder too (the paper keeps it frozen).
        max_series_per_call: series per encoder call (memory bound); results do not depend on it.
    """

    kind: str = "chronos"
    pretrained: str | None = None
    size: ChronosSize = "tiny"
    seed: int = 0
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    trainable: bool = False
    max_series_per_call: int = 256

    def __post_init__(self) -> None:
        if self.pretrained is None and self.size not in CHRONOS_T5_SIZES:
            raise ValueError(f"Unknown Chronos size {self.size!r}. Known: {', '.join(CHRONOS_T5_SIZES)}")
        if self.max_series_per_call < 1:
            raise ValueError("max_series_per_call must be ≥ 1")

    def to_json(self) -> dict:
        return {
            "kind": self.kind,
            "pretrained": self.pretrained,
            "size": self.size,
            "seed": self.seed,
            "tokenizer": dict(vars(self.tokenizer)),
            "trainable": self.trainable,
            "max_series_per_call": self.max_series_per_call,
        }

    @classmethod
    def from_json(cls, d: dict) -> EncoderConfig:
        d = dict(d)
        d["tokenizer"] = TokenizerConfig(**d["tokenizer"])
        return cls(**d)


class SensorEncoder(nn.Module):
    """Interface of a time-series encoder.

    Attributes:
        d_model: embedding width ``d_enc``.
        tokenizer: the series tokeniser (its ``config.identity`` is part of cache keys).
        is_random_init: True when the weights are a random initialisation, not a trained checkpoint.
        source: human-readable origin (hub id, directory, or ``random:<size>:seed<seed>``).
    """

    d_model: int
    tokenizer: SeriesTokenizer
    is_random_init: bool
    source: str
    max_series_per_call: int = 256

    def num_tokens(self, length: int) -> int:
        """Embeddings produced for a series of ``length`` samples (``min(length, context) + 1``)."""
        return self.tokenizer.config.num_tokens(length)

    def encode_values(self, values: torch.Tensor) -> torch.Tensor:
        """Encode equal-length series.

        Args:
            values: ``(N, T)`` raw values (any float dtype); NaN = missing sample.

        Returns:
            ``(N, T' + 1, d_model)`` float32, ``T' = min(T, context_length)``; the last row is EOS.

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
        for _, idx in sorted(by_len.items()):
            for k in range(0, len(idx), step):
                chunk = idx[k : k + step]
                emb = self.encode_values(torch.stack([series[i] for i in chunk]))  # (n, T'+1, d)
                for j, i in enumerate(chunk):
                    out[i] = emb[j]
        return out  # type: ignore[return-value]

    def identity(self) -> str:
        """A string naming the weights and the tokeniser exactly (cache key)."""
        raise NotImplementedError


class ChronosEncoder(SensorEncoder):
    """The encoder of a Chronos-T5 model.

    Args:
        t5_encoder: a module called as ``t5_encoder(input_ids=…, attention_mask=…)`` returning an object
            with ``last_hidden_state`` (``T5EncoderModel`` or the ``encoder`` stack of a
            ``T5ForConditionalGeneration``).
        tokenizer: the series tokeniser.
        source: where the weights came from.
        is_random_init: whether they are random.
        max_series_per_call: series per encoder call.
    """

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
            h = hashlib.sha256()
            for name, t in sorted(self.t5.state_dict().items()):
                h.update(name.encode())
                h.update(t.detach().float().cpu().contiguous().numpy().tobytes())
            # The weights and the tokeniser, not the path they came from: the same weights share a cache.
            self._identity = f"chronos|w{h.hexdigest()[:24]}|{self.tokenizer.config.identity}"
        return self._identity

    def invalidate_identity(self) -> None:
        """Forget the cached weight fingerprint (call after the weights change)."""
        self._identity = None


def _random_chronos(cfg: EncoderConfig) -> ChronosEncoder:
    from chronos import ChronosConfig
    from transformers import T5Config, T5EncoderModel

    shape = CHRONOS_T5_SIZES[cfg.size]
    chronos_cfg = chronos_config_dict(cfg.tokenizer)
    ChronosConfig(**chronos_cfg)  # validates the block as Chronos would
    t5_cfg = T5Config(
        vocab_size=cfg.tokenizer.n_tokens,
        d_model=shape["d_model"],
        d_ff=shape["d_ff"],
        d_kv=shape["d_kv"],
        num_layers=shape["num_layers"],
        num_decoder_layers=shape["num_layers"],
        num_heads=shape["num_heads"],
        feed_forward_proj="relu",
        dropout_rate=0.1,
        initializer_factor=0.05,
        layer_norm_epsilon=1e-6,
        relative_attention_num_buckets=32,
        relative_attention_max_distance=128,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
        chronos_config=chronos_cfg,
    )
    torch.manual_seed(cfg.seed)
    model = T5EncoderModel(t5_cfg).eval()
    return ChronosEncoder(
        model,
        build_series_tokenizer(cfg.tokenizer),
        source=f"random:{cfg.size}:seed{cfg.seed}",
        is_random_init=True,
        max_series_per_call=cfg.max_series_per_call,
    )


def _pretrained_chronos(cfg: EncoderConfig) -> ChronosEncoder:
    from chronos import ChronosPipeline

    assert cfg.pretrained is not None
    pipeline = ChronosPipeline.from_pretrained(cfg.pretrained)
    chronos_cfg = pipeline.model.config  # ChronosConfig
    if chronos_cfg.model_type != "seq2seq":
        raise ValueError(f"{cfg.pretrained}: only seq2seq (T5) Chronos models have an encoder")
    if chronos_cfg.n_tokens != cfg.tokenizer.n_tokens:
        raise ValueError(
            f"{cfg.pretrained} was trained with n_tokens={chronos_cfg.n_tokens}, "
            f"the tokenizer config says {cfg.tokenizer.n_tokens}"
        )
    if cfg.tokenizer.context_length > chronos_cfg.context_length:
        raise ValueError(
            f"tokenizer context_length {cfg.tokenizer.context_length} exceeds the model's "
            f"{chronos_cfg.context_length}"
        )
    encoder = pipeline.model.model.encoder.eval()  # T5Stack; the decoder is dropped with the pipeline
    return ChronosEncoder(
        encoder,
        build_series_tokenizer(cfg.tokenizer),
        source=str(cfg.pretrained),
        is_random_init=False,
        max_series_per_call=cfg.max_series_per_call,
    )


def _build_chronos(cfg: EncoderConfig) -> ChronosEncoder:
    enc = _pretrained_chronos(cfg) if cfg.pretrained is not None else _random_chronos(cfg)
    enc.requires_grad_(cfg.trainable)
    return enc.eval()


_ENCODERS: Registry[Callable[[EncoderConfig], SensorEncoder]] = Registry("encoder")


def register_encoder(name: str) -> Callable[[Callable[[EncoderConfig], SensorEncoder]], Callable]:
    """Register an encoder builder under ``name``; duplicates are refused."""
    return _ENCODERS.register(name)


register_encoder("chronos")(_build_chronos)


def list_encoders() -> list[str]:
    return _ENCODERS.names()


def build_encoder(cfg: EncoderConfig) -> SensorEncoder:
    """Build the encoder ``cfg`` describes; frozen and in eval mode unless ``cfg.trainable``."""
    return _ENCODERS.get(cfg.kind)(cfg)
