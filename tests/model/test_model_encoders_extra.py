"""The other registered encoders (``chronos-bolt``, ``raw-patch``): token counts, a tiny SensorLLM through
both stages, trainability, checkpoints, the embedding cache, pretrained directories and config errors."""

from __future__ import annotations

import warnings

import pytest
import torch
from _model_helpers import build_tiny, make_window, stage1_batch, stage2_batch
from safetensors.torch import load_file

from sensorllm.model import (
    EncoderConfig,
    ProjectorConfig,
    TokenizerConfig,
    build_encoder,
    init_from_stage1,
    list_encoders,
    load_checkpoint,
    save_checkpoint,
)
from sensorllm.model.checkpoint import CheckpointError
from sensorllm.model.encoder_chronos import TOKENIZER_RECORD_KEY, TokenizerMismatchError
from sensorllm.model.series_tokenizer import AllMissingError, chronos_config_dict

BOLT = EncoderConfig(kind="chronos-bolt", size="tiny", seed=0)
RAW = EncoderConfig(kind="raw-patch", size="tiny", seed=0, trainable=True, patch_size=4)


@pytest.fixture(scope="module")
def bolt_encoder():
    return build_encoder(BOLT)


def _small_bolt_dir(path, use_reg_token: bool = True, patch: int = 8):
    """A Chronos-Bolt directory laid out like amazon/chronos-bolt-* (random, small)."""
    from chronos.chronos_bolt import ChronosBoltModelForForecasting
    from transformers import T5Config

    cfg = T5Config(
        d_model=32, d_ff=64, d_kv=8, num_layers=1, num_decoder_layers=1, num_heads=4,
        feed_forward_proj="relu", chronos_pipeline_class="ChronosBoltPipeline",
        chronos_config={"context_length": 64, "prediction_length": 8, "input_patch_size": patch,
                        "input_patch_stride": patch, "quantiles": [0.1, 0.5, 0.9],
                        "use_reg_token": use_reg_token},
    )
    torch.manual_seed(1)
    ChronosBoltModelForForecasting(cfg).save_pretrained(path)
    return path


def test_all_encoders_are_registered():
    assert {"chronos", "chronos-bolt", "raw-patch", "conv"} <= set(list_encoders())


def test_the_base_caches_each_kinds_identity_until_it_is_invalidated(monkeypatch, tiny_encoder, bolt_encoder):
    """Every kind only supplies ``_identity_string``; ``SensorEncoder`` computes it once and forgets it on
    ``invalidate_identity`` (and on a rocket encoder's calibration)."""
    rocket = build_encoder(EncoderConfig(kind="rocket", seed=0, context_length=32))
    conv = build_encoder(EncoderConfig(kind="conv", size="tiny", seed=0, trainable=True, patch_size=4))
    for enc in (tiny_encoder, bolt_encoder, build_encoder(RAW), conv, rocket):
        kind = type(enc)
        assert "identity" not in vars(kind) and "invalidate_identity" not in vars(kind), kind.__name__
        calls = []
        string = kind._identity_string
        monkeypatch.setattr(kind, "_identity_string", lambda self, f=string: calls.append(1) or f(self))
        enc.invalidate_identity()
        first = enc.identity()
        assert enc.identity() == first and len(calls) == 1, kind.__name__  # cached
        enc.invalidate_identity()
        assert enc.identity() == first and len(calls) == 2, kind.__name__  # recomputed, same weights
    with torch.no_grad():
        conv.out.bias.add_(1.0)
    stale = conv.identity()
    conv.invalidate_identity()
    assert conv.identity() != stale  # a weight change shows after invalidation
    before = rocket.identity()
    rocket.calibrate([torch.randn(32) for _ in range(4)])
    assert rocket.identity() != before


@pytest.mark.parametrize(
    ("cfg", "expected"),
    [  # lengths 1, 15, 16, 17, 40, 600 (beyond the 512 context)
        (EncoderConfig(size="tiny"), [2, 16, 17, 18, 41, 513]),
        (BOLT, [2, 2, 2, 3, 4, 33]),
        (RAW, [1, 4, 4, 5, 10, 128]),
    ],
    ids=["chronos", "chronos-bolt", "raw-patch"],
)
def test_documented_token_counts(cfg, expected, tiny_encoder, bolt_encoder):
    enc = {"chronos": tiny_encoder, "chronos-bolt": bolt_encoder}.get(cfg.kind) or build_encoder(cfg)
    lengths = [1, 15, 16, 17, 40, 600]
    assert [enc.num_tokens(n) for n in lengths] == expected
    out = enc.encode([torch.randn(n, dtype=torch.float64) for n in lengths])
    assert [o.shape for o in out] == [(k, enc.d_model) for k in expected]
    assert all(torch.isfinite(o).all() for o in out)


@pytest.mark.parametrize("cfg", [BOLT, RAW], ids=["chronos-bolt", "raw-patch"])
def test_missing_samples_and_batch_independence(cfg, bolt_encoder):
    enc = bolt_encoder if cfg.kind == "chronos-bolt" else build_encoder(cfg)
    x = torch.randn(20, dtype=torch.float64)
    x[3:6] = float("nan")
    together = enc.encode([x, torch.randn(20), torch.randn(7)])
    assert torch.isfinite(together[0]).all()
    torch.testing.assert_close(enc.encode([x])[0], together[0])
    with pytest.raises(AllMissingError):
        enc.encode([torch.full((8,), float("nan"))])


def test_raw_patch_is_scale_free_and_patches_end_at_the_last_sample():
    enc = build_encoder(RAW)
    x = torch.randn(10, dtype=torch.float64)
    torch.testing.assert_close(enc.encode([x])[0], enc.encode([5 * x + 3])[0])  # z-normalised per window
    y = torch.cat([torch.randn(3, dtype=torch.float64), x[-8:]])  # same last 8 samples, other first patch
    assert not torch.equal(enc.encode([x])[0][0], enc.encode([y])[0][0])
    assert enc.encode([x])[0].shape[0] == enc.encode([y])[0].shape[0] == 3


@pytest.mark.parametrize("cfg", [BOLT, RAW], ids=["chronos-bolt", "raw-patch"])
@pytest.mark.parametrize("pool", [1, 2])
def test_tiny_sensorllm_both_stages(cfg, pool, bolt_encoder):
    shared = bolt_encoder if cfg.kind == "chronos-bolt" else None
    proj = ProjectorConfig(preset="custom", hidden=(32,), pool=pool)
    m = build_tiny(shared_encoder=shared, encoder=cfg, projector=proj)
    assert m.num_sensor_tokens(16) == -(-m.encoder.num_tokens(16) // pool)
    ex = m.prompts.stage2(make_window(0), text="t", label=1)
    assert m.tokenizer.decode(ex.input_ids).count("<ts>") == 3 * m.num_sensor_tokens(16)
    m.train()
    for loss in (m.forward_stage1(stage1_batch(m)).loss, m.forward_stage2(stage2_batch(m)).loss):
        m.zero_grad(set_to_none=True)
        assert torch.isfinite(loss)
        loss.backward()
        assert m.projector.net[0].weight.grad.abs().sum() > 0
        enc_grads = [p.grad for p in m.encoder.parameters()]
        if cfg.trainable:
            assert all(g is not None for g in enc_grads) and sum(float(g.abs().sum()) for g in enc_grads) > 0
        else:
            assert all(g is None for g in enc_grads)
    m.eval()


def test_raw_patch_trains_and_round_trips_through_a_checkpoint(tmp_path):
    m = build_tiny(encoder=RAW)
    assert m.encoder.training is False and all(p.requires_grad for p in m.encoder.parameters())
    before = m.encoder.embed.weight.detach().clone()
    opt = torch.optim.AdamW(m.param_groups(), lr=1e-2)
    m.train()
    m.forward_stage2(stage2_batch(m)).loss.backward()
    opt.step()
    assert not torch.equal(before, m.encoder.embed.weight)
    save_checkpoint(m, tmp_path)
    saved = load_file(tmp_path / "weights.safetensors")
    assert torch.equal(saved["encoder.embed.weight"], m.encoder.embed.weight.detach())
    loaded = load_checkpoint(tmp_path)
    b = stage2_batch(m)
    m.eval()
    with torch.no_grad():
        assert torch.equal(m.forward_stage2(b).logits, loaded.forward_stage2(b).logits)
    assert torch.equal(loaded.encoder.embed.weight, m.encoder.embed.weight)


def test_stage2_starts_from_a_stage1_trained_raw_patch_encoder(tmp_path):
    s1 = build_tiny(encoder=RAW, labels=None)
    opt = torch.optim.AdamW(s1.param_groups(), lr=1e-2)
    s1.train()
    s1.forward_stage1(stage1_batch(s1)).loss.backward()
    opt.step()
    save_checkpoint(s1, tmp_path)
    s2 = build_tiny(encoder=RAW)
    assert "encoder" in init_from_stage1(s2, tmp_path)
    assert torch.equal(s2.encoder.embed.weight, s1.encoder.embed.weight)
    with pytest.raises(CheckpointError, match="Stage 1 trained its 'raw-patch' encoder"):
        init_from_stage1(build_tiny(encoder=EncoderConfig(size="tiny", seed=0, trainable=True)), tmp_path)


def test_cache_refuses_a_trainable_encoder_and_serves_a_frozen_bolt(tmp_path, bolt_encoder):
    m = build_tiny(encoder=RAW)
    with pytest.raises(ValueError, match="needs a frozen encoder.*'raw-patch' encoder here trains"):
        m.enable_cache(tmp_path)
    assert m.cache is None
    b = build_tiny(shared_encoder=bolt_encoder, encoder=BOLT)
    cache = b.enable_cache(tmp_path)
    assert "chronos-bolt|" in cache.namespace
    batch = stage2_batch(b)
    first = b.encode(batch)
    second = b.encode(batch)
    assert cache.misses == 6 and cache.hits == 6
    assert torch.equal(first, second) and first.shape == (2, 3, 2, 256)


@pytest.mark.parametrize("reg", [True, False])
def test_pretrained_bolt_directory_matches_chronos_embed(tmp_path, reg):
    from chronos import ChronosBoltPipeline

    d = _small_bolt_dir(tmp_path / "bolt", use_reg_token=reg)
    enc = build_encoder(EncoderConfig(kind="chronos-bolt", pretrained=str(d)))
    assert not enc.is_random_init and enc.context_length == 64 and enc.patch_size == 8
    assert enc.num_tokens(20) == 3 + int(reg)
    x = torch.randn(20)
    ref, _ = ChronosBoltPipeline.from_pretrained(str(d)).embed(x[None])
    torch.testing.assert_close(enc.encode([x])[0], ref[0])
    with pytest.raises(ValueError, match="patches of 8 samples"):
        build_encoder(EncoderConfig(kind="chronos-bolt", pretrained=str(d), patch_size=16))
    with pytest.raises(ValueError, match="exceeds the model's 64"):
        build_encoder(EncoderConfig(kind="chronos-bolt", pretrained=str(d), context_length=128))
    with pytest.raises(ValueError, match="Chronos-Bolt model: use encoder.kind=chronos-bolt"):
        build_encoder(EncoderConfig(kind="chronos", pretrained=str(d)))


def _small_t5_dir(path, record: TokenizerConfig | None):
    from transformers import T5Config, T5ForConditionalGeneration

    extra = {} if record is None else {TOKENIZER_RECORD_KEY: dict(vars(record))}
    tok = record or TokenizerConfig()
    cfg = T5Config(vocab_size=tok.n_tokens, d_model=32, d_ff=64, d_kv=8, num_layers=1, num_decoder_layers=1,
                   num_heads=4, feed_forward_proj="relu", pad_token_id=0, eos_token_id=1,
                   decoder_start_token_id=0, chronos_config=chronos_config_dict(tok), **extra)
    torch.manual_seed(2)
    T5ForConditionalGeneration(cfg).save_pretrained(path)
    return str(path)


def test_pretrained_chronos_tokenizer_must_match_its_training(tmp_path):
    trained = TokenizerConfig(kind="mean_scale", n_tokens=256)
    d = _small_t5_dir(tmp_path / "rec", trained)
    assert build_encoder(EncoderConfig(pretrained=d)).tokenizer.config == trained  # taken from the record
    shorter = TokenizerConfig(kind="mean_scale", n_tokens=256, context_length=64)
    assert build_encoder(EncoderConfig(pretrained=d, tokenizer=shorter)).context_length == 64
    with pytest.raises(TokenizerMismatchError, match="kind: trained 'mean_scale', configured 'std_uniform'"):
        build_encoder(EncoderConfig(pretrained=d, tokenizer=TokenizerConfig(n_tokens=256)))
    hub = _small_t5_dir(tmp_path / "hub", None)  # names MeanScaleUniformBins, records nothing
    with pytest.raises(TokenizerMismatchError, match="n_tokens"):
        build_encoder(EncoderConfig(pretrained=hub, tokenizer=TokenizerConfig(n_tokens=512)))
    with pytest.warns(UserWarning, match="paper's StanNormalizeUniformBins"):
        build_encoder(EncoderConfig(pretrained=hub))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build_encoder(EncoderConfig(pretrained=hub, tokenizer=TokenizerConfig(kind="mean_scale")))


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"kind": "raw-patch"}, "set encoder.trainable=true"),
        ({"kind": "raw-patch", "trainable": True, "pretrained": "x"}, "no pretrained weights"),
        ({"kind": "chronos-bolt", "size": "large"}, "Known: tiny, mini, small, base"),
        ({"kind": "chronos-bolt", "tokenizer": TokenizerConfig()}, "remove encoder.tokenizer"),
        ({"kind": "chronos", "patch_size": 4}, "patch_size is not used"),
        ({"kind": "chronos", "context_length": 64}, "encoder.tokenizer.context_length"),
        ({"kind": "bolt"}, "Known: chronos, chronos-bolt, conv, raw-patch"),
    ],
)
def test_config_errors_name_the_fix(kw, match):
    with pytest.raises(ValueError, match=match):
        EncoderConfig(**kw)


def test_encoder_config_json_round_trip_and_old_configs():
    for cfg in (BOLT, RAW, EncoderConfig(tokenizer=TokenizerConfig(context_length=8))):
        assert EncoderConfig.from_json(cfg.to_json()) == cfg
    old = {"kind": "chronos", "pretrained": None, "size": "tiny", "seed": 0, "trainable": False,
           "tokenizer": dict(vars(TokenizerConfig())), "max_series_per_call": 256}  # before this change
    assert EncoderConfig.from_json(old).tokenizer == TokenizerConfig()


def test_models_command_lists_the_encoders(capsys):
    from sensorllm.cli.main import main

    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert all(k in out for k in ("chronos-bolt", "raw-patch", "Chronos-T5"))
