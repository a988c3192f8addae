"""Time-series encoders: the embeddings one channel of one window becomes (before pooling/projection).

The interface is :class:`SensorEncoder`; :class:`EncoderConfig` says which one to build and how. Encoders
are registered by name (``EncoderConfig.kind``, :func:`register_encoder`); the built-in ones live in their
own modules, which import this one; :mod:`sensorllm.model.encoders` imports them all (and the package
:mod:`sensorllm.model` imports that), so this module never imports a kind:

``chronos`` (:mod:`sensorllm.model.encoder_chronos`, the paper's)
    the T5 encoder of a Chronos-T5 model (the paper uses ``amazon/chronos-t5-large``, ``d_model = 1024``):
    one embedding per sample plus EOS, ``min(L, context) + 1`` tokens.
``chronos-bolt`` (:mod:`sensorllm.model.encoder_bolt`)
    the encoder of a Chronos-Bolt model: one embedding per patch of 16 samples (+ a REG token).
``raw-patch`` (:mod:`sensorllm.model.encoder_raw`)
    no pretrained encoder: z-normalised raw samples cut into patches, one linear layer; always trainable.
``conv`` (:mod:`sensorllm.model.encoder_conv`)
    a small 1-D CNN per channel that learns motion features with the LLM; one token per patch; always trainable.
``rocket`` (:mod:`sensorllm.model.encoder_rocket`)
    MiniRocket features of each channel, fitted on training series (never trained); 4 tokens per series.

Each is built either from a hub id / local directory (``pretrained``) or as a seeded random initialisation
of a named size (:data:`CHRONOS_T5_SIZES`), for tests and for machines without the weights. Results made
with a random encoder are flagged by ``is_random_init`` (recorded in checkpoint configs). How many tokens a
series of ``L`` samples gives is the encoder's :meth:`SensorEncoder.num_tokens` (``ceil(min(L, context) /
patch) + extra``); the prompt builder, the splice, pooling and the cache all go through it. No pooling here
(see :mod:`sensorllm.model.projector`). See ``docs/encoders.md``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from sensorllm.registry import Registry

from .series_tokenizer import TokenizerConfig

__all__ = [
    "CHRONOS_T5_SIZES",
    "ChronosSize",
    "EncoderConfig",
    "EncoderSpec",
    "SensorEncoder",
    "build_encoder",
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

@dataclass(frozen=True)
class EncoderConfig:
    """How to obtain the time-series encoder.

    Attributes:
        kind: registry key: ``chronos`` (Chronos-T5), ``chronos-bolt``, ``raw-patch``, ``conv`` or ``rocket``
            (see ``sensorllm models`` and ``docs/encoders.md``).
        pretrained: hub id (``amazon/chronos-t5-large``, ``amazon/chronos-bolt-small``) or local directory;
            ``None`` builds a random initialisation of ``size`` seeded with ``seed`` (``is_random_init``).
            ``raw-patch`` has no pretrained weights.
        size: Chronos shape of the random initialisation (``raw-patch``: its width is that size's d_model).
        seed: seed of the random initialisation.
        tokenizer: ``chronos`` only: series tokeniser settings. ``None`` = the default (z-normalising
            ``std_uniform`` bins, the paper's), except for a pretrained directory that records the tokeniser
            it was trained with (``sensorllm pretrain-encoder`` output), which then uses that one. Given
            explicitly, it must agree with such a record (else
            :class:`~sensorllm.model.encoder_chronos.TokenizerMismatchError`).
        trainable: train the encoder too (the paper keeps it frozen; ``raw-patch`` must train).
        max_series_per_call: series per encoder call (memory bound); results do not depend on it.
        context_length: ``chronos-bolt`` / ``raw-patch`` / ``conv``: longest series read (longer ones keep their last
            samples). ``None`` = 512 (a pretrained Bolt: its own context). ``chronos`` reads
            ``tokenizer.context_length`` instead. ``rocket`` (a kind registered with ``context_from_data``):
            ``None`` = fitted to the data by the training programs, which write the value they chose into the
            run's config and the checkpoint (``sensorllm.train.common.resolve_encoder_context``); 128 for a
            model built in code.
        patch_size: ``chronos-bolt`` / ``raw-patch`` / ``conv``: samples per token. ``None`` = 16 (a pretrained Bolt: its
            own patch size; a different explicit value is an error).
        summary_token: one more token after the series' tokens, computed from the whole series (kinds
            registered with ``summary_token=True``: ``conv``). Stage 1's trend-token warm start teaches it the
            word of the window's overall direction (sign of last − first sample), which no per-sample token
            carries (``docs/encoders.md``). Not in the paper.
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
    summary_token: bool = False

    def __post_init__(self) -> None:
        if self.max_series_per_call < 1:
            raise ValueError("max_series_per_call must be ≥ 1")
        if self.context_length is not None and self.context_length < 1:
            raise ValueError(f"context_length must be ≥ 1, got {self.context_length}")
        if self.patch_size is not None and self.patch_size < 1:
            raise ValueError(f"patch_size must be ≥ 1, got {self.patch_size}")
        problems = _spec(self.kind).check(self)
        if self.summary_token and not _spec(self.kind).summary_token:
            problems.append("has no summary token: remove encoder.summary_token (kinds that have one: "
                            + ", ".join(n for n in list_encoders() if _spec(n).summary_token) + ")")
        if problems:
            raise ValueError(f"encoder kind {self.kind!r}: " + "; ".join(problems))

    @property
    def context_from_data(self) -> bool:
        """Whether this kind takes ``context_length: None`` to mean "the data's longest series" (its
        registration's ``context_from_data``: ``rocket``), for the training programs to fill in."""
        return _spec(self.kind).context_from_data

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
            "summary_token": self.summary_token,
        }

    @classmethod
    def from_json(cls, d: dict) -> EncoderConfig:
        """Inverse of :meth:`to_json`; configs saved before ``context_length``/``patch_size``/``summary_token``
        existed load (their defaults)."""
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
        normalizes_series: True when every series is z-normalised before encoding (the texts may then call
            the data "normalized", as the paper's do); False when the scaling keeps the offset (Chronos' mean
            scaling).
        fitted_state: True when the encoder keeps state fitted on training series by :meth:`calibrate` (the
            ``rocket`` encoder's biases): checkpoints then save the encoder's state even though it does not
            train, and its outputs are not cached across runs (the cache key would precede the fit).
        summary_token: True when the last of the ``extra_tokens`` is computed from the whole series
            (:attr:`EncoderConfig.summary_token`), the token Stage 1's warm start teaches the overall direction.
    """

    d_model: int
    context_length: int
    patch_size: int = 1
    extra_tokens: int = 0
    is_random_init: bool
    source: str
    max_series_per_call: int = 256
    normalizes_series: bool = True
    fitted_state: bool = False
    summary_token: bool = False

    def __init__(self) -> None:
        super().__init__()
        self._identity: str | None = None  # cached by identity(), cleared by invalidate_identity()

    @property
    def device(self) -> torch.device:
        """Where the encoder's weights (or, for one without weights, its buffers) are."""
        for t in (*self.parameters(), *self.buffers()):
            return t.device
        return torch.device("cpu")

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

    def encode_windows(self, windows: torch.Tensor) -> torch.Tensor:
        """Encode windows whose series share one length, in one piece (the Stage-2 path).

        Args:
            windows: ``(B, C, L)`` raw values (float32); NaN = missing sample.

        Returns:
            ``(B, C, num_tokens(L), d_model)`` float32: row ``(b, c)`` is :meth:`encode_values` of series
            ``windows[b, c]``, read as ``B·C`` series of one call (at most ``max_series_per_call`` per call).
        """
        if windows.ndim != 3:
            raise ValueError(f"expected windows (B, C, L), got shape {tuple(windows.shape)}")
        b, c, length = windows.shape
        flat = windows.reshape(b * c, length)
        step = self.max_series_per_call
        parts = [self.encode_values(flat[k : k + step]) for k in range(0, b * c, step)]
        emb = parts[0] if len(parts) == 1 else torch.cat(parts)  # (B·C, num_tokens, d)
        self._check_tokens(emb, length)
        return emb.reshape(b, c, emb.shape[1], emb.shape[2])

    def _check_tokens(self, emb: torch.Tensor, length: int) -> None:
        if emb.shape[1] != self.num_tokens(length):
            raise RuntimeError(
                f"{type(self).__name__} gave {emb.shape[1]} tokens for {length} samples, "
                f"num_tokens says {self.num_tokens(length)}"
            )

    def encode(self, series: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Encode series of any lengths, grouped by length so that no series is ever padded (the Stage-1 path).

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
                self._check_tokens(emb, length)
                for j, i in enumerate(chunk):
                    out[i] = emb[j]
        return out  # type: ignore[return-value]

    def calibrate(self, series: Sequence[torch.Tensor]) -> bool:
        """Set statistics the encoder keeps apart from its weights (batch-norm running statistics) from training
        ``series``; returns True when it did. Most encoders keep none: nothing happens and False is returned."""
        return False

    def identity(self) -> str:
        """A string naming the weights and the input transform exactly (cache key, checkpoint check).

        Computed once by the kind's :meth:`_identity_string` (it hashes the weights) and kept until
        :meth:`invalidate_identity`."""
        if self._identity is None:
            self._identity = self._identity_string()
        return self._identity

    def _identity_string(self) -> str:
        """The kind's identity: its name, a fingerprint of its weights and its input settings."""
        raise NotImplementedError

    def invalidate_identity(self) -> None:
        """Forget the cached identity (call after the weights or fitted state change)."""
        self._identity = None

    def describe(self) -> str:
        """One line for logs: kind, origin, width and the token rule."""
        rule = f"ceil(min(L, {self.context_length}) / {self.patch_size}) + {self.extra_tokens} tokens"
        if self.patch_size == 1:
            rule = f"min(L, {self.context_length}) + {self.extra_tokens} tokens"
        init = "RANDOM-INIT" if self.is_random_init else "pretrained"
        return f"{type(self).__name__} ({init}, {self.source}), d_model {self.d_model}, {rule}"


# ---- registry ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EncoderSpec:
    """A registered encoder: its builder, its config check, a one-line description, whether an unset
    ``context_length`` is taken from the data (:attr:`EncoderConfig.context_from_data`) and whether it can add
    a summary token (:attr:`EncoderConfig.summary_token`)."""

    name: str
    build: Callable[[EncoderConfig], SensorEncoder]
    check: Callable[[EncoderConfig], list[str]]
    description: str
    context_from_data: bool = False
    summary_token: bool = False


_ENCODERS: Registry[EncoderSpec] = Registry("encoder", error=ValueError)


def register_encoder(
    name: str, *, description: str = "", check: Callable[[EncoderConfig], list[str]] | None = None,
    context_from_data: bool = False, summary_token: bool = False,
) -> Callable[[Callable[[EncoderConfig], SensorEncoder]], Callable[[EncoderConfig], SensorEncoder]]:
    """Decorator registering an encoder builder under ``name``; duplicates are refused.

    Args:
        name: the ``EncoderConfig.kind`` value.
        description: one line for ``sensorllm models``.
        check: returns the problems of a config for this kind (raised by ``EncoderConfig.__post_init__``).
        context_from_data: ``context_length: None`` means the data's longest series: ``sensorllm align`` /
            ``tune`` set it from the prepared dataset before building the model (an encoder fitted for one
            series length, ``rocket``).
        summary_token: the builder honours ``EncoderConfig.summary_token`` (other kinds refuse it).
    """

    def deco(build: Callable[[EncoderConfig], SensorEncoder]) -> Callable[[EncoderConfig], SensorEncoder]:
        _ENCODERS.add(name, EncoderSpec(name, build, check or (lambda cfg: []), description, context_from_data,
                                        summary_token))
        return build

    return deco


# The built-in kinds are registered by the package's import of ``sensorllm.model.encoders``, which Python
# completes before any use of this module from outside the package.


def _spec(kind: str) -> EncoderSpec:
    return _ENCODERS.get(kind)


def list_encoders() -> list[str]:
    """Registered encoder names, sorted."""
    return _ENCODERS.names()


def describe_encoders() -> dict[str, str]:
    """Registered encoder names → one-line descriptions."""
    return {name: _spec(name).description for name in list_encoders()}


def build_encoder(cfg: EncoderConfig) -> SensorEncoder:
    """Build the encoder ``cfg`` describes; frozen and in eval mode unless ``cfg.trainable``."""
    enc = _spec(cfg.kind).build(cfg)
    enc.requires_grad_(cfg.trainable)
    return enc.eval()
