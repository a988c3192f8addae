"""On-disk cache of a frozen encoder's (pooled) outputs.

A frozen encoder is a pure function of (weights, tokeniser, pooling, series values), so its output for a
series is computed once and read back in later epochs and in Stage 2. Layout::

    <root>/<namespace hash>/namespace.json          # the full namespace string, for humans
    <root>/<namespace hash>/<ab>/<series hash>.safetensors   # {"embeddings": (n, d)}

The namespace is the encoder's :meth:`~sensorllm.model.encoder.SensorEncoder.identity` (weights
fingerprint + tokeniser settings) plus the pooling factor and the storage dtype; the series hash is
SHA-256 over the series' float64 bytes (NaN canonicalised). Files are written atomically (temporary
file + ``os.replace``), so concurrent writers and interrupted runs never leave a partial entry. No
pickle anywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

__all__ = ["EmbeddingCache", "series_hash"]


def series_hash(values: torch.Tensor) -> str:
    """SHA-256 of a 1-D series' values as float64 (every NaN hashes alike)."""
    a = values.detach().to("cpu", torch.float64).numpy()
    a = np.where(np.isnan(a), np.nan, a)
    h = hashlib.sha256()
    h.update(str(a.shape).encode())
    h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


class EmbeddingCache:
    """Name-keyed store of per-series embeddings.

    Args:
        root: cache directory (created).
        namespace: string identifying everything except the values (encoder identity, pooling, dtype).
        dtype: storage dtype; values returned on a miss are rounded through it too, so a hit and a miss
            give identical tensors.
    """

    def __init__(self, root: str | Path, namespace: str, dtype: torch.dtype = torch.float32) -> None:
        self.namespace = f"{namespace}|store={str(dtype).removeprefix('torch.')}"
        self.dtype = dtype
        self.dir = Path(root) / hashlib.sha256(self.namespace.encode()).hexdigest()[:24]
        self.dir.mkdir(parents=True, exist_ok=True)
        meta = self.dir / "namespace.json"
        if meta.exists():
            stored = json.loads(meta.read_text())["namespace"]
            if stored != self.namespace:
                raise RuntimeError(
                    f"cache directory {self.dir} holds namespace {stored!r}, not {self.namespace!r}"
                )
        else:
            self._atomic_write_text(meta, json.dumps({"namespace": self.namespace}, indent=1))
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.safetensors"

    @staticmethod
    def _atomic_write_text(path: Path, text: str) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)

    def _store(self, key: str, emb: torch.Tensor) -> None:
        path = self._path(key)
        path.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".safetensors")
        os.close(fd)
        try:
            save_file({"embeddings": emb.contiguous()}, tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def get_or_compute(
        self,
        series: Sequence[torch.Tensor],
        compute: Callable[[list[torch.Tensor]], list[torch.Tensor]],
    ) -> list[torch.Tensor]:
        """Embeddings for ``series``, computing (in one call) and storing only the missing ones.

        Args:
            series: ``N`` 1-D raw series.
            compute: maps a list of series to ``(n_i, d)`` embeddings (the frozen encoder + pooling).

        Returns:
            ``N`` CPU tensors ``(n_i, d)`` in ``self.dtype``.
        """
        keys = [series_hash(s) for s in series]
        out: list[torch.Tensor | None] = [None] * len(series)
        missing: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            path = self._path(key)
            if key in missing:
                missing[key].append(i)
            elif path.exists():
                out[i] = load_file(path)["embeddings"]
                self.hits += 1
            else:
                missing[key] = [i]
        if missing:
            firsts = [idx[0] for idx in missing.values()]
            with torch.no_grad():
                computed = compute([series[i] for i in firsts])
            for key, emb in zip(missing, computed, strict=True):
                emb = emb.detach().to("cpu", self.dtype)
                self._store(key, emb)
                for i in missing[key]:
                    out[i] = emb
                self.misses += len(missing[key])
        return out  # type: ignore[return-value]

    def get_or_compute_rows(
        self, rows: torch.Tensor, compute: Callable[[torch.Tensor], torch.Tensor]
    ) -> torch.Tensor:
        """:meth:`get_or_compute` for ``N`` series of one length, given as one tensor.

        Args:
            rows: ``(N, L)`` raw series.
            compute: maps ``(M, L)`` series (the missing ones, each once, in first-seen order) to ``(M, n, d)``.

        Returns:
            ``(N, n, d)`` CPU tensor in ``self.dtype``.
        """
        parts = self.get_or_compute(list(rows), lambda xs: list(compute(torch.stack(xs))))
        return torch.stack(parts)

    def __len__(self) -> int:
        return sum(1 for _ in self.dir.glob("*/*.safetensors"))
