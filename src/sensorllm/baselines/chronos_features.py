"""The Chronos window feature extractor, :class:`ChronosWindowFeatures`, and its caching.

It maps windows ``(N, T, C)`` to features ``(N, C * d)``: every channel of every window is encoded separately
by the frozen Chronos-T5 encoder (``sensorllm.model.encoder.build_encoder``; or Chronos-Bolt with
``EncoderConfig(kind="chronos-bolt")``), the encoder outputs are **mean-pooled over the sample positions**
(Bolt: over its patch positions), and the channels are concatenated in their order (columns
``c*d … (c+1)*d - 1`` are channel ``c``).

Pooling choice: the mean runs over the ``T'`` sample positions only, and only over the observed (finite)
ones; the EOS position is left out by default, because it is not a time step but a summary slot whose value a
frozen, possibly random encoder gives no special meaning. ``include_eos=True`` adds it to the mean (then the
mean runs over ``T' + 1`` positions). The choice is part of the cache namespace, so the two never mix.

Caching, two levels: the last few feature matrices are kept in memory (keyed by the windows' bytes, so the
train, val and test splits of one run are encoded once), and with ``cache_dir`` the pooled vector of each
series is stored by ``sensorllm.model.cache.EmbeddingCache`` (namespace = encoder weight fingerprint +
tokeniser + pooling), so a second run, another seed or the other classifier reads the features back instead
of running the encoder again.

The classifiers built on these features (``chronos-mlp``, ``chronos-ncm``) are in :mod:`.chronos_models`.
"""

from __future__ import annotations

import hashlib
import sys
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from sensorllm.model.encoder import EncoderConfig, SensorEncoder, build_encoder
from sensorllm.utils import resolve_device

__all__ = ["ChronosWindowFeatures"]

_MEMO_SIZE = 4  # feature matrices kept in memory per featuriser (train, val, test: no re-encoding in one run)


class ChronosWindowFeatures:
    """Windows ``(N, T, C)`` → frozen-encoder features ``(N, C * d_model)`` float32.

    Args:
        encoder: the encoder's config (frozen is enforced: ``trainable`` must be False).
        include_eos: add the EOS position to the time mean (default: sample positions only).
        cache_dir: directory of an :class:`~sensorllm.model.cache.EmbeddingCache`; ``None`` = no disk cache.
        chunk_windows: windows per encoder chunk (bounds memory; one progress-bar step each).
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``.
        progress: show a tqdm bar while encoding.

    Raises:
        ValueError: a trainable encoder config, or ``chunk_windows < 1``.
    """

    def __init__(self, encoder: EncoderConfig, *, include_eos: bool = False,
                 cache_dir: str | Path | None = None, chunk_windows: int = 256, device: str = "auto",
                 progress: bool = True) -> None:
        if encoder.trainable:
            raise ValueError("ChronosWindowFeatures needs a frozen encoder (EncoderConfig.trainable=False)")
        if chunk_windows < 1:
            raise ValueError(f"chunk_windows must be >= 1, got {chunk_windows}")
        self.encoder_config = encoder
        self.include_eos = include_eos
        self.chunk_windows = chunk_windows
        self.progress = progress
        self.device = resolve_device(device)
        self.encoder: SensorEncoder = build_encoder(encoder).to(self.device).eval()
        self.cache = None
        if cache_dir is not None:
            from sensorllm.model.cache import EmbeddingCache

            self.cache = EmbeddingCache(cache_dir, self.namespace)
        self._memo: OrderedDict[str, np.ndarray] = OrderedDict()

    @property
    def d_model(self) -> int:
        return int(self.encoder.d_model)

    @property
    def pooling(self) -> str:
        """Human-readable pooling rule (also part of the cache namespace)."""
        if self.include_eos:
            return "mean over observed samples + EOS"
        return "mean over observed samples (no EOS)"

    @property
    def namespace(self) -> str:
        """Cache namespace: encoder weights and tokeniser (``identity()``) plus the pooling rule."""
        return f"{self.encoder.identity()}|pool=time-mean{'+eos' if self.include_eos else ''}"

    @property
    def is_random_init(self) -> bool:
        return bool(self.encoder.is_random_init)

    @property
    def source(self) -> str:
        return str(self.encoder.source)

    def _pool(self, series: list[torch.Tensor]) -> list[torch.Tensor]:
        """Encode ``series`` (1-D each) and mean-pool every output over time → ``(1, d)`` each.

        The encoder gives ``num_tokens(L)`` rows: the sample (or patch) positions, then ``extra_tokens``
        (Chronos-T5: EOS). With one position per sample, missing (non-finite) samples are left out of the
        mean.
        """
        extra = int(getattr(self.encoder, "extra_tokens", 1))
        per_sample = int(getattr(self.encoder, "patch_size", 1)) == 1
        out = []
        for s, emb in zip(series, self.encoder.encode(series), strict=True):  # emb: (n_pos + extra, d)
            n_pos = emb.shape[0] - extra
            mask = emb.new_ones(n_pos)
            if per_sample:
                mask = torch.isfinite(s[-n_pos:]).to(emb.device, emb.dtype)  # (n_pos,) observed samples
            if self.include_eos:
                mask = torch.cat([mask, mask.new_ones(extra)])
            else:
                emb = emb[:n_pos]
            out.append(((emb * mask[:, None]).sum(0) / mask.sum()).unsqueeze(0).cpu())  # (1, d)
        return out

    @staticmethod
    def _check(windows: np.ndarray, channel_names: Sequence[str] | None, what: str) -> np.ndarray:
        w = np.asarray(windows)
        if w.ndim != 3:
            raise ValueError(f"{what}: expected windows of shape (N, T, C), got {w.shape}")
        if not np.issubdtype(w.dtype, np.floating):
            raise ValueError(f"{what}: expected float windows, got dtype {w.dtype}")
        if channel_names is not None and len(channel_names) != w.shape[2]:
            raise ValueError(f"{what}: {w.shape[2]} channels but {len(channel_names)} channel names")
        empty = ~np.isfinite(w).any(axis=1)  # (N, C): a series with nothing to encode
        if empty.any():
            n, c = (int(i) for i in np.argwhere(empty)[0])
            name = f" ({channel_names[c]!r})" if channel_names is not None else ""
            raise ValueError(f"{what}: window {n}, channel {c}{name} has no finite sample (all NaN/inf); "
                             f"{int(empty.sum())} such series in total")
        return w

    def __call__(self, windows: np.ndarray, channel_names: Sequence[str] | None = None,
                 what: str = "windows") -> np.ndarray:
        """Features of ``windows``.

        Args:
            windows: ``(N, T, C)`` float array; NaN/inf samples are missing and left out of the mean.
            channel_names: optional names, only for error messages.
            what: what the windows are (``"train windows"``), for messages and the progress bar.

        Returns:
            ``(N, C * d_model)`` float32; channel ``c`` occupies columns ``c*d … (c+1)*d - 1``.

        Raises:
            ValueError: wrong shape or dtype, or a channel of a window without any finite sample (names both).
        """
        w = self._check(windows, channel_names, what)
        n, _, c = w.shape
        d = self.d_model
        key = hashlib.sha256(str((w.shape, w.dtype.str)).encode()
                             + np.ascontiguousarray(w).tobytes()).hexdigest()
        if key in self._memo:
            self._memo.move_to_end(key)
            return self._memo[key].copy()
        from tqdm import tqdm

        feats = np.zeros((n, c * d), dtype=np.float32)
        bar = tqdm(total=n, desc=f"chronos features: {what}", unit="win", file=sys.stderr,
                   disable=not self.progress or n == 0, mininterval=5.0)
        with torch.inference_mode():
            for start in range(0, n, self.chunk_windows):
                chunk = torch.from_numpy(np.ascontiguousarray(w[start:start + self.chunk_windows]))  # (b,T,C)
                series = [chunk[i, :, j] for i in range(len(chunk)) for j in range(c)]  # window-major
                pooled = (self.cache.get_or_compute(series, self._pool) if self.cache is not None
                          else self._pool(series))
                block = torch.cat(pooled, dim=0).to(torch.float32).reshape(len(chunk), c * d)  # (b, C*d)
                feats[start:start + len(chunk)] = block.numpy()
                bar.update(len(chunk))
        bar.close()
        self._memo[key] = feats.copy()
        while len(self._memo) > _MEMO_SIZE:
            self._memo.popitem(last=False)
        return feats
