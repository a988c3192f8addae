"""The ``rocket`` encoder: MiniRocket's dilations and features (checked against aeon's implementation), the
fit on training series, its refusal before the fit, the saved state and its config checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _model_helpers import build_tiny, make_window, stage2_batch
from safetensors.torch import load_file

from sensorllm.model import EncoderConfig, build_encoder, list_encoders, load_checkpoint, save_checkpoint
from sensorllm.model.encoder_rocket import ROCKET_FEATURES, ROCKET_TOKENS, RocketEncoder, rocket_dilations

ROCKET = EncoderConfig(kind="rocket", seed=0, context_length=32)


def _series(n: int, length: int = 32, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(length) / 10.0
    return [torch.sin(t * (1 + i % 5)) * (1 + i % 3) + 0.3 * torch.randn(length, generator=g) + i % 2
            for i in range(n)]


def test_rocket_is_registered_and_gives_four_feature_slices_for_any_length():
    assert "rocket" in list_encoders()
    enc = build_encoder(ROCKET)
    enc.calibrate(_series(20))
    for length in (10, 32, 50):
        assert enc.num_tokens(length) == ROCKET_TOKENS
        out = enc.encode_values(torch.randn(3, length))
        assert out.shape == (3, ROCKET_TOKENS, ROCKET_FEATURES // ROCKET_TOKENS) and out.dtype == torch.float32


def test_dilations_and_features_are_minirockets():
    """Same dilations as aeon's MiniRocket for the same length, and, given aeon's fitted biases, the same PPV
    features of univariate series (ties at a bias may differ in float rounding: at most a few in a thousand)."""
    mr = pytest.importorskip("aeon.transformations.collection.convolution_based._minirocket")
    for length in (10, 32, 128, 300):
        dil, counts = mr._fit_dilations(length, ROCKET_FEATURES, 32)
        assert (list(dil), list(counts)) == rocket_dilations(length)
    x = torch.stack(_series(12, 64, seed=1))
    aeon = mr.MiniRocket(n_kernels=10_000, random_state=0).fit(x[:, None].numpy())
    expected = np.asarray(aeon.transform(x[:, None].numpy()))
    enc = RocketEncoder(64, seed=0)
    enc.biases.copy_(torch.as_tensor(aeon.parameters[4]))
    got = enc._ppv(x).numpy()
    assert got.shape == expected.shape
    assert np.mean(np.abs(got - expected) > 1e-6) < 5e-3


def test_unfitted_encoder_refuses_and_calibrate_standardises_the_features():
    enc = build_encoder(ROCKET)
    with pytest.raises(RuntimeError, match="not fitted"):
        enc.encode_values(torch.randn(2, 32))
    series = _series(40)
    assert enc.calibrate(series) is True and bool(enc.fitted)
    z = torch.stack([e.reshape(-1) for e in enc.encode(series)])
    varying = enc.feature_std > 0.05
    assert z[:, varying].mean(0).abs().max() < 1e-4
    assert ((z[:, varying].std(0) - 1).abs() < 1e-3).all()
    again = build_encoder(ROCKET)
    again.calibrate(series)
    assert torch.equal(again.biases, enc.biases)  # seeded: the same fit from the same series
    assert again.calibrate(_series(40, seed=5)) is False and torch.equal(again.biases, enc.biases)  # fitted once


def test_level_reaches_the_features_through_the_padded_edges():
    """MiniRocket's kernels sum to zero, so a constant offset changes only the zero-padded edges' outputs; the
    features must still tell two series of the same shape at different levels apart (gravity on an axis)."""
    enc = build_encoder(ROCKET)
    enc.calibrate(_series(40))
    x = _series(1)[0]
    a, b = enc.encode_values(torch.stack([x, x + 1.0]))
    assert not torch.allclose(a, b)


def test_missing_samples_take_the_series_mean():
    enc = build_encoder(ROCKET)
    enc.calibrate(_series(20))
    x = _series(1)[0].clone()
    x[5] = float("nan")
    filled = x.clone()
    filled[5] = x[torch.isfinite(x)].mean()
    assert torch.allclose(enc.encode_values(x[None]), enc.encode_values(filled[None]), atol=1e-5)


def test_fitted_state_is_saved_and_loaded_although_the_encoder_does_not_train(tmp_path):
    m = build_tiny(encoder=ROCKET)
    assert list(m.encoder.parameters()) == []
    m.encoder.calibrate([torch.as_tensor(v, dtype=torch.float32) for s in range(8)
                         for v in make_window(s, 32).values()])
    m.eval()
    save_checkpoint(m, tmp_path)
    assert "encoder.biases" in load_file(tmp_path / "weights.safetensors")
    loaded = load_checkpoint(tmp_path)
    assert torch.equal(loaded.encoder.biases, m.encoder.biases) and bool(loaded.encoder.fitted)
    b = stage2_batch(m, length=32)
    with torch.no_grad():
        assert torch.equal(m.forward_stage2(b).logits, loaded.forward_stage2(b).logits)


def test_stage2_keeps_the_fit_of_the_stage1_model_it_starts_from(tmp_path):
    from sensorllm.model import init_from_stage1

    s1 = build_tiny(encoder=ROCKET, labels=None)
    s1.encoder.calibrate(_series(30))
    save_checkpoint(s1, tmp_path)
    s2 = build_tiny(encoder=ROCKET)
    assert "encoder" in init_from_stage1(s2, tmp_path)
    assert torch.equal(s2.encoder.biases, s1.encoder.biases) and bool(s2.encoder.fitted)
    assert s2.encoder.calibrate(_series(30, seed=9)) is False


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"trainable": True}, "no weights to train"),
        ({"pretrained": "x"}, "no pretrained weights"),
        ({"patch_size": 16}, "feature slices"),
        ({"context_length": 8}, "context_length must be"),
    ],
)
def test_rocket_config_errors(overrides, message):
    with pytest.raises(ValueError, match=message):
        build_encoder(EncoderConfig(kind="rocket", **overrides))
