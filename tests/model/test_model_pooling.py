"""Sensor-token compression modes (``ProjectorConfig.pool_mode``): token counts, ragged tails and EOS,
strided rows, learned pooling (init, gradients, checkpoints), cache storage (pooled vs unpooled) and a Stage-2
forward/backward per mode."""

from __future__ import annotations

import json

import pytest
import torch
from _model_helpers import build_tiny, stage2_batch

from sensorllm.model import (
    CheckpointError,
    ProjectorConfig,
    load_checkpoint,
    pool_tokens,
    pooled_length,
    read_checkpoint_config,
    save_checkpoint,
    trained_state_dict,
)
from sensorllm.model.projector import (
    POOL_MODES,
    LearnedPatchPool,
    Projector,
    build_pooler,
    stride_tokens,
    strided_indices,
)
from sensorllm.train.config import ConfigError, Stage2Config, load_config


def _proj(pool: int, mode: str) -> ProjectorConfig:
    return ProjectorConfig(preset="custom", hidden=(64,), pool=pool, pool_mode=mode)


# ---- the pooling functions ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", POOL_MODES)
@pytest.mark.parametrize("k", [2, 3, 8])
def test_every_mode_gives_ceil_n_over_k_tokens(mode, k):
    pooler = build_pooler(mode, 4, k)
    for n in sorted({1, k - 1, k, k + 1, 2 * k, 17, 129}):
        x = torch.randn(n, 4)
        m = pooled_length(n, k)
        assert pooler(x).shape == (m, 4), (mode, k, n)
        assert pooler(torch.stack([x, x])).shape == (2, m, 4)


def test_strided_keeps_the_last_row_of_each_group_and_always_the_eos():
    x = torch.arange(7, dtype=torch.float32)[:, None].repeat(1, 2)  # row i holds i
    assert stride_tokens(x, 3)[:, 0].tolist() == [2.0, 5.0, 6.0]  # groups [0,1,2] [3,4,5] [6]
    assert stride_tokens(x[:6], 3)[:, 0].tolist() == [2.0, 5.0]  # no ragged tail
    assert torch.equal(stride_tokens(x, 1), x)
    # UCI-HAR: 128 samples + EOS = 129 tokens, k = 8 → rows 7, 15, …, 127 and the EOS alone in group 17.
    assert strided_indices(129, 8) == [*range(7, 128, 8), 128]
    for n in range(1, 40):
        idx = strided_indices(n, 8)
        assert len(idx) == pooled_length(n, 8) and idx[-1] == n - 1
    batched = stride_tokens(torch.stack([x, 2 * x]), 3)
    assert torch.equal(batched[1], 2 * stride_tokens(x, 3))


def test_learned_pool_starts_as_mean_including_the_ragged_tail():
    torch.manual_seed(1)
    pool = LearnedPatchPool(5, 4)
    for n in (4, 7, 9, 17):  # 7 = 4 + 3, 9 = 8 + 1 (the EOS alone), 17 = 16 + 1
        x = torch.randn(3, n, 5)
        torch.testing.assert_close(pool(x), pool_tokens(x, 4))


def test_learned_pool_short_group_uses_only_its_real_tokens():
    pool = LearnedPatchPool(3, 4)
    with torch.no_grad():
        pool.weight.normal_()
    x = torch.randn(6, 3)  # groups: rows 0-3 and rows 4-5 (+ 2 padded slots)
    before = pool(x)
    with torch.no_grad():  # slots 2 and 3 of a group never see a real token in the short last group
        pool.weight[:, 2 * 3 :].normal_()
    after = pool(x)
    assert torch.equal(before[1], after[1]) and not torch.equal(before[0], after[0])
    expected = pool.weight[:, : 2 * 3] @ (x[4:6].reshape(-1) * 2.0) + pool.bias  # scaled by k / c = 2
    torch.testing.assert_close(after[1], expected)


def test_projector_state_dict_has_pooler_params_only_when_learned():
    for mode in POOL_MODES:
        keys = set(Projector.from_config(_proj(4, mode), 8, 6).state_dict())
        assert ("pooler.weight" in keys) == (mode == "learned"), mode
        assert {"net.0.weight", "net.2.weight"} <= keys


def test_pool_series_equals_per_series_mean():
    """Stacking same-length series must not change mean pooling (older cache entries stay valid)."""
    p = Projector.from_config(_proj(4, "mean"), 8, 6)
    xs = [torch.randn(17, 8), torch.randn(9, 8), torch.randn(17, 8)]
    for got, x in zip(p.pool_series(xs), xs, strict=True):
        assert torch.equal(got, pool_tokens(x, 4))


# ---- config ------------------------------------------------------------------------------------------


def test_config_validation_json_and_yaml(tmp_path):
    assert ProjectorConfig().pool_mode == "mean"
    with pytest.raises(ValueError, match="Unknown pool_mode"):
        ProjectorConfig(pool=4, pool_mode="max")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs pool ≥ 2"):
        ProjectorConfig(pool_mode="learned")
    cfg = _proj(8, "learned")
    assert ProjectorConfig.from_json(cfg.to_json()) == cfg
    old = {"preset": "paper", "hidden": [], "dropout": 0.0, "pool": 8}  # written before pool_mode existed
    assert ProjectorConfig.from_json(old).pool_mode == "mean"
    y = tmp_path / "s2.yaml"
    y.write_text("projector:\n  pool: 8\n  pool_mode: learned\n")
    assert load_config(Stage2Config, y).model.projector == ProjectorConfig(pool=8, pool_mode="learned")
    with pytest.raises(ConfigError, match="pool_mode"):
        load_config(Stage2Config, y, ["projector.pool_mode=maxpool"])
    with pytest.raises(ConfigError, match="needs pool ≥ 2"):
        load_config(Stage2Config, y, ["projector.pool=1"])


def test_cache_keys_name_pooled_or_unpooled_storage():
    assert _proj(4, "mean").cache_key == "pool=4"  # unchanged: existing mean caches stay valid
    assert _proj(4, "strided").cache_key == "pool=4|pool_mode=strided"
    assert _proj(4, "learned").cache_key == _proj(8, "learned").cache_key == "unpooled"
    assert _proj(1, "strided").cache_key == _proj(1, "mean").cache_key  # k = 1: identical tensors


# ---- the model ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", POOL_MODES)
def test_model_token_counts_over_lengths(mode, tiny_encoder):
    model = build_tiny(shared_encoder=tiny_encoder, projector=_proj(4, mode))
    for length in (3, 15, 16, 17):  # n = length + 1 tokens: 4 (exact), 16 (exact), 17 and 18 (ragged)
        batch = stage2_batch(model, length=length)
        enc = model.encode(batch)
        n = model.num_sensor_tokens(length)
        assert n == pooled_length(length + 1, 4) == model.prompts.tokens_per_series(length)
        assert tuple(enc.shape) == (2, 3, n, tiny_encoder.d_model)
        ts = int((batch.input_ids == model.layout.ts_id).sum())
        assert ts == 6 * n  # placeholders in the prompts = pooled tokens spliced in


def test_strided_model_uses_the_right_encoder_rows(tiny_encoder):
    model = build_tiny(shared_encoder=tiny_encoder, projector=_proj(4, "strided"))
    batch = stage2_batch(model, length=16)  # 17 tokens → rows 3, 7, 11, 15, 16 (EOS)
    got = model.encode(batch)  # (2, 3, 5, d)
    with torch.no_grad():
        full = tiny_encoder.encode_windows(batch.series)  # (2, 3, 17, d)
    assert torch.equal(got, full[:, :, [3, 7, 11, 15, 16]])


@pytest.mark.parametrize("mode", POOL_MODES)
def test_stage2_forward_backward(mode, tiny_encoder):
    model = build_tiny(shared_encoder=tiny_encoder, projector=_proj(4, mode))
    model.train()
    out = model.forward_stage2(stage2_batch(model))
    assert out.logits.shape == (2, 3) and torch.isfinite(out.loss)
    out.loss.backward()
    for name, p in model.projector.named_parameters():
        assert p.grad is not None and bool(p.grad.abs().sum() > 0), name
    assert all(p.grad is None for p in model.encoder.parameters())
    assert model.trainable_summary()["projector"] == sum(p.numel() for p in model.projector.parameters())


def test_learned_pooling_trains_and_round_trips_through_checkpoints(tmp_path, tiny_encoder):
    model = build_tiny(shared_encoder=tiny_encoder, projector=_proj(4, "learned"))
    before = model.projector.pooler.weight.detach().clone()
    opt = torch.optim.AdamW(model.param_groups(), lr=1e-2)
    model.train()
    for _ in range(2):
        loss = model.forward_stage2(stage2_batch(model)).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    assert not torch.equal(model.projector.pooler.weight, before)
    state = trained_state_dict(model)
    assert {"projector.pooler.weight", "projector.pooler.bias"} <= set(state)
    save_checkpoint(model, tmp_path / "ckpt")
    assert read_checkpoint_config(tmp_path / "ckpt")["config"]["projector"]["pool_mode"] == "learned"
    loaded = load_checkpoint(tmp_path / "ckpt", encoder=tiny_encoder)
    assert loaded.config.projector.pool_mode == "learned"
    assert torch.equal(loaded.projector.pooler.weight, model.projector.pooler.weight)
    batch = stage2_batch(model)
    with torch.no_grad():
        assert torch.equal(model.forward_stage2(batch).logits, loaded.forward_stage2(batch).logits)
    # A mean-mode config cannot silently take a learned checkpoint's weights (strict keys).
    cfg_path = tmp_path / "ckpt" / "config.json"
    meta = json.loads(cfg_path.read_text())
    meta["config"]["projector"]["pool_mode"] = "mean"
    cfg_path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="unexpected keys.*pooler"):
        load_checkpoint(tmp_path / "ckpt", encoder=tiny_encoder)


def test_checkpoint_without_pool_mode_loads_as_mean(tmp_path, tiny_encoder):
    model = build_tiny(shared_encoder=tiny_encoder, projector=_proj(4, "mean"))
    save_checkpoint(model, tmp_path / "old")
    cfg_path = tmp_path / "old" / "config.json"
    meta = json.loads(cfg_path.read_text())
    del meta["config"]["projector"]["pool_mode"]  # as written before pool modes existed
    cfg_path.write_text(json.dumps(meta))
    loaded = load_checkpoint(tmp_path / "old", encoder=tiny_encoder)
    assert loaded.config.projector.pool_mode == "mean"
    batch = stage2_batch(model)
    with torch.no_grad():
        assert torch.equal(model.forward_stage2(batch).logits, loaded.forward_stage2(batch).logits)


def test_cache_stores_unpooled_for_learned_and_pooled_otherwise(tmp_path, tiny_encoder):
    models = {m: build_tiny(shared_encoder=tiny_encoder, projector=_proj(4, m)) for m in POOL_MODES}
    caches = {m: model.enable_cache(tmp_path) for m, model in models.items()}  # one root for all
    assert len({c.dir for c in caches.values()}) == 3
    assert "unpooled" in caches["learned"].namespace and "unpooled" not in caches["mean"].namespace
    batch = stage2_batch(models["mean"], length=16)  # 17 encoder tokens → 5 pooled
    models["mean"].encode(batch)  # fills the mean (pooled) entries first
    models["strided"].encode(batch)
    learned = models["learned"]
    got = learned.encode(batch)
    # The learned model found nothing to reuse: the pooled entries of the same series were not returned.
    assert caches["learned"].misses == 6 and caches["learned"].hits == 0
    stored = {m: sorted({tuple(t.shape) for t in c.get_or_compute(list(batch.series.reshape(6, 16)), None)})  # hits
              for m, c in caches.items()}
    assert stored == {"mean": [(5, 256)], "strided": [(5, 256)], "learned": [(17, 256)]}
    # Pooling after the cache: a hit gives the same tokens as no cache, and gradients reach the pooler.
    learned.cache = None
    torch.testing.assert_close(got, learned.encode(batch), rtol=0, atol=0)
    learned.cache = caches["learned"]
    again = learned.encode(batch)
    assert caches["learned"].hits >= 6 and tuple(again.shape) == (2, 3, 5, 256)
    again.sum().backward()
    assert learned.projector.pooler.weight.grad is not None
