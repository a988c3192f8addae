"""The ``conv`` encoder: token counts, what its input keeps (level and shape), missing samples, training
through a tiny SensorLLM, a checkpoint round trip, Stage 1 → Stage 2 hand-over and its config checks."""

from __future__ import annotations

import pytest
import torch
from _model_helpers import build_tiny, stage1_batch, stage2_batch
from safetensors.torch import load_file

from sensorllm.model import EncoderConfig, build_encoder, init_from_stage1, list_encoders, load_checkpoint, save_checkpoint
from sensorllm.model.encoder_conv import conv_features
from sensorllm.model.series_tokenizer import AllMissingError

CONV = EncoderConfig(kind="conv", size="tiny", seed=0, trainable=True, patch_size=4)


def test_conv_is_registered_and_counts_one_token_per_patch():
    assert "conv" in list_encoders()
    enc = build_encoder(CONV)
    for length, expected in [(1, 1), (4, 1), (5, 2), (16, 4), (17, 5), (600, 128)]:
        assert enc.num_tokens(length) == expected
        out = enc.encode_values(torch.randn(2, length))
        assert out.shape == (2, expected, 256) and out.dtype == torch.float32


def test_conv_features_keep_the_level_that_z_normalising_drops():
    x = torch.tensor([[1.0, 1.1, 0.9, 1.0], [0.0, 0.1, -0.1, 0.0]], dtype=torch.float64)
    f = conv_features(x, torch.isfinite(x))
    assert torch.allclose(f[0, 1], f[1, 1])  # the same shape ...
    assert (f[0, 0] - f[1, 0]).abs().min() > 0.5  # ... at a different level
    assert torch.equal(f[:, 2], torch.ones(2, 4, dtype=torch.float64))


def test_conv_results_do_not_depend_on_the_batch():
    enc = build_encoder(CONV)
    torch.manual_seed(3)
    a, b, c = torch.randn(10), torch.randn(10), torch.randn(7)
    together = enc.encode([a, b, c])
    for s, out in zip([a, b, c], together):
        assert torch.allclose(out, enc.encode([s])[0], atol=1e-6)


def test_conv_padding_does_not_count_in_the_first_patch():
    enc = build_encoder(CONV)
    x = torch.randn(1, 5, dtype=torch.float64)  # patch 4: 3 padded positions + 1 sample, then 4 samples
    h = conv_features(x, torch.isfinite(x)).float()
    for conv, norm in zip(enc.convs, enc.norms):
        y = torch.nn.functional.gelu(norm(conv(h)))  # eval mode: running statistics
        h = y + h if y.shape == h.shape else y
    expected_first = enc.out(h[:, :, :1].mean(-1))  # the mean over the one real sample only
    assert torch.allclose(enc.encode_values(x)[:, 0], expected_first, atol=1e-5)


def test_calibrate_sets_the_batch_norm_statistics_from_training_series_and_keeps_the_mode():
    enc = build_encoder(CONV)
    assert enc.training is False
    series = [torch.randn(32) * 3 + 1 for _ in range(40)]
    before = enc.encode(series[:2])
    assert enc.calibrate(series) is True
    assert enc.training is False and all(n.momentum == 0.1 for n in enc.norms)
    assert not torch.equal(enc.norms[0].running_mean, torch.zeros_like(enc.norms[0].running_mean))
    after = enc.encode(series[:2])
    assert not torch.allclose(before[0], after[0])
    # the eval-mode features are now standardised like the training-mode ones: each filter near 0 / 1 on the data
    x = torch.stack(series)
    h = enc.norms[0](enc.convs[0](conv_features(x.double(), torch.isfinite(x)).float()))
    assert h.mean().abs() < 0.05 and (h.std() - 1).abs() < 0.1
    assert build_encoder(EncoderConfig(kind="raw-patch", trainable=True)).calibrate(series) is False


def test_small_calls_use_running_statistics_in_training_and_unequal_lengths_calibrate():
    from sensorllm.model.encoder_conv import MIN_BATCH_SERIES

    enc = build_encoder(CONV)
    torch.manual_seed(0)
    # Stage-1-like series of many lengths: calibration cuts them to one length and uses one batch
    series = [torch.randn(int(n)) + 0.5 for n in torch.randint(20, 120, (64,))]
    assert enc.calibrate(series)
    assert int(enc.norms[0].num_batches_tracked) == 1
    stats = enc.norms[0].running_mean.clone()
    enc.train()
    few = [torch.randn(30) for _ in range(MIN_BATCH_SERIES - 1)]
    enc.eval()
    expected = enc.encode(few)
    enc.train()
    got = enc.encode(few)  # fewer series than MIN_BATCH_SERIES: running statistics, not updated
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(expected, got))
    assert torch.equal(enc.norms[0].running_mean, stats)
    enc.encode([torch.randn(30) for _ in range(MIN_BATCH_SERIES)])  # a batch: its statistics, running ones move
    assert not torch.equal(enc.norms[0].running_mean, stats)
    enc.eval()


def test_conv_missing_samples_and_all_missing_series():
    enc = build_encoder(CONV)
    x = torch.randn(1, 12, dtype=torch.float64)
    x[0, 3] = float("nan")
    assert torch.isfinite(enc.encode_values(x)).all()
    with pytest.raises(AllMissingError):
        enc.encode_values(torch.full((1, 8), float("nan")))


def test_conv_trains_in_stage2_and_round_trips_through_a_checkpoint(tmp_path):
    m = build_tiny(encoder=CONV)
    assert all(p.requires_grad for p in m.encoder.parameters())
    before = m.encoder.convs[0].weight.detach().clone()
    opt = torch.optim.AdamW(m.param_groups(), lr=1e-2)
    m.train()
    m.forward_stage2(stage2_batch(m)).loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.encoder.parameters())
    opt.step()
    assert not torch.equal(before, m.encoder.convs[0].weight)
    save_checkpoint(m, tmp_path)
    assert "encoder.convs.0.weight" in load_file(tmp_path / "weights.safetensors")
    loaded = load_checkpoint(tmp_path)
    b = stage2_batch(m)
    m.eval()
    with torch.no_grad():
        assert torch.equal(m.forward_stage2(b).logits, loaded.forward_stage2(b).logits)


def test_stage2_starts_from_a_stage1_trained_conv_encoder(tmp_path):
    s1 = build_tiny(encoder=CONV, labels=None)
    opt = torch.optim.AdamW(s1.param_groups(), lr=1e-2)
    s1.train()
    s1.forward_stage1(stage1_batch(s1)).loss.backward()
    opt.step()
    save_checkpoint(s1, tmp_path)
    s2 = build_tiny(encoder=CONV)
    assert "encoder" in init_from_stage1(s2, tmp_path)
    assert torch.equal(s2.encoder.out.weight, s1.encoder.out.weight)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({}, "set encoder.trainable=true"),
        ({"trainable": True, "pretrained": "x"}, "no pretrained weights"),
        ({"trainable": True, "size": "huge"}, "Unknown size"),
    ],
)
def test_conv_config_errors(overrides, message):
    with pytest.raises(ValueError, match=message):
        EncoderConfig(kind="conv", **overrides)


def test_encoder_lr_factor_holds_then_ramps():
    from sensorllm.train.loop import encoder_lr_factor

    assert [encoder_lr_factor(s, 2, 4) for s in range(7)] == [0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    assert encoder_lr_factor(0, 0, 0) == 1.0


def test_encoder_group_has_its_own_rate_and_is_held_still_in_the_freeze_phase(tmp_path):
    from accelerate import Accelerator

    from sensorllm.train.config import OptimConfig, RunConfig
    from sensorllm.train.loop import train_loop

    m = build_tiny(encoder=CONV)
    groups = m.param_groups(0.0, encoder_lr=1e-4)
    (enc,) = [g for g in groups if g.get("name") == "encoder"]
    assert enc["lr"] == 1e-4 and {id(p) for p in enc["params"]} == {id(p) for p in m.encoder.parameters()}
    assert not any(g.get("name") == "encoder" for g in m.param_groups(0.0))  # one group unless asked
    batch = stage2_batch(m)
    weights = []

    def loss_fn(model, b):
        weights.append((model.encoder.convs[0].weight.detach().clone(), model.projector.net[0].weight.detach().clone()))
        return model.forward_stage2(b).loss

    optim = OptimConfig(lr=1e-2, encoder_lr=1e-2, encoder_freeze_steps=2, batch_size=1, grad_accum=1, max_steps=4,
                        warmup_ratio=0.0, schedule="constant")
    run = RunConfig(out_dir=str(tmp_path), eval_every=100, save_every=100, log_every=1, resume=False)
    train_loop(model=m, accelerator=Accelerator(cpu=True), n_examples=4, make_batch=lambda idx: batch,
               loss_fn=loss_fn, optim=optim, run=run, out_dir=tmp_path, save_extra=dict)
    enc_w = [w for w, _ in weights]
    proj_w = [p for _, p in weights]
    assert torch.equal(enc_w[0], enc_w[1]) and torch.equal(enc_w[1], enc_w[2])  # steps 0 and 1: held still
    assert not torch.equal(enc_w[2], enc_w[3])  # step 2 moves it
    assert not torch.equal(proj_w[0], proj_w[1])  # the projector trains from the first step


def test_encoder_schedule_needs_a_trainable_encoder():
    from sensorllm.train.config import ConfigError, Stage2Config, load_config

    with pytest.raises(ConfigError, match="encoder.trainable is false"):
        load_config(Stage2Config, None, ["optim.encoder_lr=1e-4"])
    cfg = load_config(Stage2Config, None, ["encoder.kind=conv", "encoder.trainable=true", "optim.encoder_lr=1e-4"])
    assert cfg.optim.encoder_lr == 1e-4


SUMMARY = EncoderConfig(kind="conv", size="tiny", seed=0, trainable=True, patch_size=1, summary_token=True)


def test_the_summary_token_follows_the_sample_tokens_and_sees_the_whole_series():
    plain, enc = build_encoder(EncoderConfig(**{**SUMMARY.to_json(), "summary_token": False})), build_encoder(SUMMARY)
    assert enc.summary_token and enc.extra_tokens == 1 and not plain.summary_token
    assert enc.num_tokens(20) == 21 and "summary" in enc.source and enc.identity() != plain.identity()
    torch.manual_seed(0)
    x = torch.randn(3, 20)
    out = enc.encode_values(x)
    assert out.shape == (3, 21, 256)
    # the layers before it are drawn as without it: the sample tokens are the plain encoder's
    torch.testing.assert_close(out[:, :20], plain.encode_values(x))
    # it reads both ends: moving the first sample moves it
    y = x.clone()
    y[:, 0] += 3.0
    assert (enc.encode_values(y)[:, -1] - out[:, -1]).abs().amax() > 1e-3
    # missing samples: still finite
    x[0, -1] = float("nan")
    assert torch.isfinite(enc.encode_values(x)).all()


def test_the_summary_token_trains_and_survives_a_checkpoint(tmp_path):
    m = build_tiny(encoder=SUMMARY, labels=None)
    assert m.num_sensor_tokens(10) == 11
    m.train()
    m.forward_stage1(stage1_batch(m)).loss.backward()
    assert m.encoder.summary.weight.grad is not None and m.encoder.summary.weight.grad.abs().sum() > 0
    save_checkpoint(m, tmp_path)
    loaded = load_checkpoint(tmp_path)
    assert loaded.encoder.summary_token and loaded.config.encoder.summary_token
    assert torch.equal(loaded.encoder.summary.weight, m.encoder.summary.weight)


def test_only_kinds_with_a_summary_token_take_the_setting():
    with pytest.raises(ValueError, match="has no summary token.*conv"):
        EncoderConfig(kind="raw-patch", trainable=True, summary_token=True)
    with pytest.raises(ValueError, match="has no summary token"):
        EncoderConfig(kind="chronos", summary_token=True)
    old = {k: v for k, v in SUMMARY.to_json().items() if k != "summary_token"}  # a config saved before it existed
    assert EncoderConfig.from_json(old).summary_token is False
