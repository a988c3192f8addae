"""The sensor path of a SensorLLM: raw series → encoder (or its on-disk cache) → pooling → projector, i.e. the
embeddings that replace the ``<ts>`` placeholders of a batch.

Windows (Stage 2)::

    (B, C, L) float32 ─encode_windows→ (B, C, n_enc, d_enc) ─pool_windows→ (B, C, n, d_enc)
                     ─projector (on (B·C·n, d_enc))→ (B, C, n, H)

Ragged series (Stage 1) take the same steps per series, grouped by length where the encoder and the pooler
batch them: ``N × (L_i,)`` → ``N × (n_i, d_enc)`` → ``N × (n_i, H)``.

With a frozen encoder, :class:`~sensorllm.model.cache.EmbeddingCache` keeps each series' encoder output
(pooled, when pooling has no parameters) keyed by its values; the model reads it back instead of encoding again.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.profiler import record_function

from .batch import SensorBatch
from .cache import EmbeddingCache
from .encoder import SensorEncoder
from .projector import Projector
from .sensorllm_config import SensorLLMConfig
from .series_tokenizer import AllMissingError

__all__ = ["Encoded", "SensorPath"]

Encoded = torch.Tensor | list[torch.Tensor]
"""Embeddings of a batch's series: ``(B, C, n, d)`` for windows, ``N × (n_i, d)`` for ragged series."""


class SensorPath:
    """The encoder, pooling and projector of one model, applied to a batch's series.

    Holds references to the model's own ``encoder`` and ``projector`` modules (which stay registered on the
    model, so parameter names and checkpoints do not depend on this class), and the embedding cache.
    """

    def __init__(self, encoder: SensorEncoder, projector: Projector, config: SensorLLMConfig) -> None:
        self.encoder = encoder
        self.projector = projector
        self.config = config
        self.cache: EmbeddingCache | None = None

    @property
    def _frozen(self) -> bool:
        return not self.config.encoder.trainable

    def enable_cache(self, root: str | Path, dtype: torch.dtype = torch.float32) -> EmbeddingCache:
        """Cache the frozen encoder's outputs under ``root`` (refused for a trainable encoder).

        Parameter-free pooling (``mean``, ``strided``) is applied before the cache, so entries are pooled;
        ``learned`` pooling trains, so entries are the unpooled encoder outputs and pooling runs after the
        cache. The namespace names which (:attr:`ProjectorConfig.cache_key`), so the two never mix.
        """
        if not self._frozen:
            raise ValueError(
                "an embedding cache needs a frozen encoder (EncoderConfig.trainable=False); the "
                f"{self.config.encoder.kind!r} encoder here trains, so its outputs change every step"
            )
        namespace = f"{self.encoder.identity()}|{self.config.projector.cache_key}"
        self.cache = EmbeddingCache(root, namespace, dtype=dtype)
        return self.cache

    # ---- encoding -----------------------------------------------------------------------------------------
    def encode(self, batch: SensorBatch) -> Encoded:
        """Encode and pool the batch's series: ``(B, C, n, d_enc)`` for windows, ``N × (n_i, d_enc)`` for ragged
        series; float32 on the encoder's device, or for ``pool_mode='learned'`` on the projector's device and
        dtype (with gradients to the pooler).

        Raises:
            AllMissingError: a series has no finite sample (names the channel and example).
        """
        self._check_finite(batch)
        with record_function("sensorllm.encode"):
            if batch.is_windows:
                return self._windows(batch.series)  # type: ignore[arg-type]
            return self._ragged(list(batch.series))

    def _check_finite(self, batch: SensorBatch) -> None:
        if batch.is_windows:
            ok = torch.isfinite(batch.series).any(dim=-1)  # (B, C)
            if not bool(ok.all()):
                b, c = (int(v) for v in (~ok).nonzero()[0])
                self._all_missing(b, batch.channels[c])
            return
        for s, name, b in zip(batch.series, batch.series_channel, batch.series_example, strict=True):
            if not bool(torch.isfinite(s).any()):
                self._all_missing(b, name)

    def embed_series(self, series: list[torch.Tensor]) -> list[torch.Tensor]:
        """The projected sensor tokens of 1-D series without a text batch, ``N × (n_i, H)`` (what the splice would
        put into the text; used to train the sensor path alone, :mod:`sensorllm.train.trend_tokens`)."""
        for i, s in enumerate(series):
            if not bool(torch.isfinite(s).any()):
                raise AllMissingError(f"series {i}: every sample is NaN/inf (nothing to encode)")
        return self.project(self._ragged(list(series)))  # type: ignore[return-value]

    @staticmethod
    def _all_missing(example: int, channel: str) -> None:
        raise AllMissingError(f"example {example}, channel {channel!r}: every sample is NaN/inf (nothing to encode)")

    def _stored_windows(self, windows: torch.Tensor) -> torch.Tensor:
        """What the cache holds for windows: encoder outputs, pooled here only when pooling has no parameters."""
        encoded = self.encoder.encode_windows(windows)  # (B, C, n_enc, d_enc)
        return encoded if self.config.projector.pool_is_trainable else self.projector.pool_windows(encoded)

    def _stored_series(self, series: list[torch.Tensor]) -> list[torch.Tensor]:
        encoded = self.encoder.encode(series)  # N × (n_enc_i, d_enc)
        return encoded if self.config.projector.pool_is_trainable else self.projector.pool_series(encoded)

    def _windows(self, windows: torch.Tensor) -> torch.Tensor:
        B, C, L = windows.shape
        if self.cache is not None and self._frozen:
            device = self.encoder.device
            rows = self.cache.get_or_compute_rows(  # cached per series: (B·C, n, d)
                windows.reshape(B * C, L), lambda x: self._stored_windows(x[:, None, :])[:, 0])
            stored = rows.to(device=device, dtype=torch.float32).reshape(B, C, *rows.shape[1:])
        else:
            with torch.set_grad_enabled(torch.is_grad_enabled() and not self._frozen):
                stored = self._stored_windows(windows)
        return self.projector.pool_windows(stored) if self.config.projector.pool_is_trainable else stored

    def _ragged(self, series: list[torch.Tensor]) -> list[torch.Tensor]:
        if self.cache is not None and self._frozen:
            device = self.encoder.device
            out = self.cache.get_or_compute(series, self._stored_series)
            stored = [e.to(device=device, dtype=torch.float32) for e in out]
        else:
            with torch.set_grad_enabled(torch.is_grad_enabled() and not self._frozen):
                stored = self._stored_series(series)
        return self.projector.pool_series(stored) if self.config.projector.pool_is_trainable else stored

    # ---- projection ---------------------------------------------------------------------------------------
    def project(self, encoded: Encoded) -> Encoded:
        """Encoder width → the LLM's: ``(B, C, n, d_enc)`` → ``(B, C, n, H)``, or ``N × (n_i, d_enc)`` →
        ``N × (n_i, H)``; one projector call over all tokens ``(Σ n, d_enc)``."""
        dtype = next(self.projector.parameters()).dtype
        with record_function("sensorllm.project"):
            if isinstance(encoded, torch.Tensor):
                flat = encoded.reshape(-1, encoded.shape[-1])  # (B·C·n, d_enc), rows in (b, c, token) order
                return self.projector(flat.to(dtype)).reshape(*encoded.shape[:-1], -1)
            sizes = [e.shape[0] for e in encoded]
            flat = torch.cat(list(encoded), dim=0)  # (Σn_i, d_enc)
            return list(torch.split(self.projector(flat.to(dtype)), sizes, dim=0))

    @staticmethod
    def flat_tokens(projected: Encoded) -> torch.Tensor:
        """Every sensor token of a batch, ``(Σ n, H)`` (diagnostics)."""
        if isinstance(projected, torch.Tensor):
            return projected.reshape(-1, projected.shape[-1])
        return torch.cat(list(projected))
