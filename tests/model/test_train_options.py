"""Training options on tiny models: `run.compile` (decoder compiled in place) and the standardised Stage-2 head."""

import torch

from sensorllm.train.common import compile_llm
from sensorllm.train.config import Stage2Config, load_config

from _model_helpers import build_tiny


def test_compile_llm_in_place_keeps_parameter_names():
    model = build_tiny()
    names = list(model.state_dict())
    decoder = model.hf_model.get_decoder()
    assert decoder._compiled_call_impl is None
    compile_llm(model)
    assert decoder._compiled_call_impl is not None  # nn.Module.compile: calls go through torch.compile
    assert model.hf_model.get_decoder() is decoder
    assert list(model.state_dict()) == names
    assert all(not isinstance(m, torch._dynamo.eval_frame.OptimizedModule) for m in model.modules())


def test_compile_is_off_by_default_and_set_from_the_cli():
    assert load_config(Stage2Config).run.compile is False
    assert load_config(Stage2Config, None, ["run.compile=true"]).run.compile is True


def test_standardised_head_is_linear_on_standardised_features_and_checkpointed(tmp_path):
    from sensorllm.model import load_checkpoint, save_checkpoint

    model = build_tiny(head_standardize=True)
    h = model.hidden_size
    feats = torch.randn(50, h, dtype=torch.float64) * torch.linspace(0.01, 3, h, dtype=torch.float64) + 5
    model.set_head_statistics(feats)
    assert torch.allclose(model.head.feature_mean.double(), feats.mean(0), atol=1e-5)
    x = torch.randn(4, h)
    expect = ((x - feats.mean(0).float()) / feats.std(0).float()) @ model.head.weight.T
    assert torch.allclose(model.forward_head(x), expect, atol=1e-4)
    save_checkpoint(model, tmp_path / "m")
    again = load_checkpoint(tmp_path / "m")
    assert again.config.head_standardize and torch.equal(again.head.feature_std, model.head.feature_std)
    assert torch.allclose(again.forward_head(x), model.forward_head(x))
    plain = build_tiny()
    assert not plain.head.standardize and not hasattr(plain.head, "feature_mean")
    import pytest

    with pytest.raises(ValueError, match="does not standardise"):
        plain.set_head_statistics(feats)
    with pytest.raises(ValueError, match="expected"):
        model.set_head_statistics(feats[:1])
