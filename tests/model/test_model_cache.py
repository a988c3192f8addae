"""On-disk embedding cache: a hit returns identical embeddings; keys separate encoders and pooling."""

from __future__ import annotations

import torch
from _model_helpers import build_tiny, ragged, stage2_batch

from sensorllm.model import EmbeddingCache, ProjectorConfig, series_hash


def test_cache_hit_gives_identical_embeddings(tmp_path, tiny_encoder):
    model = build_tiny(shared_encoder=tiny_encoder)
    batch = stage2_batch(model)
    uncached = model.encode(batch)  # (B, C, n, d): windows
    cache = model.enable_cache(tmp_path)
    first = model.encode(batch)
    assert cache.misses == 6 and cache.hits == 0 and len(cache) == 6
    second = model.encode(batch)
    assert cache.hits == 6
    assert torch.equal(uncached, first) and torch.equal(first, second)
    again = model.encode(ragged(batch))  # the same series as ragged ones: the same entries
    assert cache.hits == 12 and all(torch.equal(e, first[i // 3, i % 3]) for i, e in enumerate(again))
    with torch.no_grad():
        torch.testing.assert_close(model.forward_stage2(batch).logits, model.forward_stage2(batch).logits)
    files = list(cache.dir.rglob("*"))
    assert all(f.suffix in {".safetensors", ".json"} for f in files if f.is_file())  # no pickle


def test_namespaces_separate_pooling_and_dtype(tmp_path, tiny_encoder):
    m1 = build_tiny(shared_encoder=tiny_encoder)
    m4 = build_tiny(
        shared_encoder=tiny_encoder, projector=ProjectorConfig(preset="custom", hidden=(64,), pool=4)
    )
    c1, c4 = m1.enable_cache(tmp_path), m4.enable_cache(tmp_path)
    assert c1.dir != c4.dir
    b = stage2_batch(m1)
    e4 = m4.encode(b)
    assert e4.shape[2] == 5 and c4.misses == 6 and c1.misses == 0
    half = EmbeddingCache(tmp_path, "x", dtype=torch.float16)
    out = half.get_or_compute([torch.randn(5)], lambda xs: [torch.randn(6, 3) for _ in xs])
    again = half.get_or_compute([b.series[0, 0]], lambda xs: [torch.randn(6, 3) for _ in xs])
    assert out[0].dtype == torch.float16 and again[0].dtype == torch.float16


def test_duplicate_series_computed_once_and_hash_ignores_nan_payload(tmp_path):
    calls = []
    cache = EmbeddingCache(tmp_path, "ns")

    def compute(xs):
        calls.append(len(xs))
        return [x.nan_to_num()[:, None].repeat(1, 2).float() for x in xs]

    s = torch.tensor([1.0, float("nan"), 3.0], dtype=torch.float64)
    out = cache.get_or_compute([s, s.clone()], compute)
    assert calls == [1] and torch.equal(out[0], out[1])
    assert series_hash(s) == series_hash(torch.tensor([1.0, -float("nan"), 3.0], dtype=torch.float64))
    assert series_hash(s) != series_hash(s[:2])
