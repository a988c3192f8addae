"""SensorLLM end to end on tiny random models: shapes, losses, trainability, LoRA, generation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from _model_helpers import CHANNELS, LABELS, build_tiny, make_window, ragged, stage1_batch, stage2_batch

from sensorllm.data import collate
from sensorllm.model import (
    AllMissingError,
    EncoderConfig,
    LLMConfig,
    LoRASettings,
    ProjectorConfig,
    class_weights_from_labels,
)


@pytest.fixture(scope="module")
def model():
    from sensorllm.model import build_encoder

    return build_tiny(shared_encoder=build_encoder(EncoderConfig(size="tiny", seed=0)))


def test_shapes(model):
    b2 = stage2_batch(model)
    out = model.forward_stage2(b2)
    assert out.logits.shape == (2, len(LABELS)) and out.hidden.shape == (2, model.hidden_size)
    assert out.loss is not None and out.loss.ndim == 0
    assert b2.series.shape == (2, 3, 16) and b2.series.dtype == torch.float32 and b2.channels == CHANNELS
    enc = model.encode(b2)
    assert tuple(enc.shape) == (2, 3, 17, 256)
    assert tuple(model.project(enc).shape) == (2, 3, 17, model.hidden_size)
    assert model.build_inputs_embeds(b2).shape == (*b2.input_ids.shape, model.hidden_size)
    b1 = stage1_batch(model)
    o1 = model.forward_stage1(b1)
    assert o1.loss.ndim == 0 and o1.num_tokens == int((b1.labels[:, 1:] != -100).sum())
    assert model.lm_logits(b1).shape == (*b1.input_ids.shape, len(model.tokenizer))


def test_stage1_loss_equals_full_logit_cross_entropy(model):
    b1 = stage1_batch(model)
    with torch.no_grad():
        fast = model.forward_stage1(b1).loss
        logits = model.lm_logits(b1)
    ref = torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]), b1.labels[:, 1:].reshape(-1), ignore_index=-100
    )
    torch.testing.assert_close(fast, ref)


def test_padding_does_not_change_stage2_logits(model):
    w0, w1 = make_window(0), make_window(1, 8)
    alone = model.forward_stage2(collate(model.prompts, [model.prompts.stage2(w0, text="x")])).logits
    both = model.forward_stage2(
        collate(model.prompts, 
            [model.prompts.stage2(w0, text="x"), model.prompts.stage2(w1, text="a much longer text")]
        )
    ).logits
    torch.testing.assert_close(both[0], alone[0], atol=1e-5, rtol=1e-5)


def test_class_weights_over_all_classes():
    with pytest.warns(UserWarning, match=r"classes \[2\] do not occur"):
        w = class_weights_from_labels([0, 0, 0, 1], num_classes=3)
    p = torch.tensor([0.75, 0.25])
    ref = (1 / p) / (1 / p).sum()
    torch.testing.assert_close(w[:2], ref.float())
    assert w[2] == w.max()  # absent class gets the largest present weight, not a shifted one
    assert not torch.isnan(class_weights_from_labels([0, 1, 2], num_classes=3)).any()
    with pytest.raises(ValueError, match="must lie in"):
        class_weights_from_labels([0, 3], num_classes=3)


def test_weighted_loss_uses_the_weights(model):
    b = stage2_batch(model)
    w = torch.tensor([1.0, 1.0, 5.0])
    with torch.no_grad():
        out = model.forward_stage2(b, class_weights=w)
        ref = torch.nn.functional.cross_entropy(out.logits, b.class_labels, weight=w)
    torch.testing.assert_close(out.loss, ref)


def test_nan_only_channel_is_a_clear_error_in_the_model(model):
    b = stage2_batch(model)
    series = b.series.clone()
    series[1, 2] = float("nan")
    with pytest.raises(AllMissingError, match="example 1, channel 'z_acc'"):
        model.forward_stage2(dataclasses.replace(b, series=series))
    r = ragged(b)
    bad = dataclasses.replace(r, series=[torch.full((16,), float("nan"))] + r.series[1:])
    with pytest.raises(AllMissingError, match="example 0, channel 'x_acc'"):
        model.forward_stage2(bad)


def test_nan_samples_inside_a_channel_are_fine(model):
    w = make_window(0)
    w["x_acc"] = w["x_acc"].copy()
    w["x_acc"][3:6] = np.nan
    out = model.forward_stage2(collate(model.prompts, [model.prompts.stage2(w, text="t", label=0)]))
    assert torch.isfinite(out.logits).all() and torch.isfinite(out.loss)


def test_encoder_frozen_by_default_and_trains_when_unfrozen(model):
    b = stage2_batch(model)
    model.zero_grad(set_to_none=True)
    model.forward_stage2(b).loss.backward()
    assert all(p.grad is None and not p.requires_grad for p in model.encoder.parameters())
    assert model.projector.net[0].weight.grad is not None

    m = build_tiny(encoder=EncoderConfig(size="tiny", seed=0, trainable=True))
    m.train()
    assert m.encoder.training
    m.forward_stage2(stage2_batch(m)).loss.backward()
    grads = [p.grad for p in m.encoder.parameters()]
    assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0
    with pytest.raises(ValueError, match="needs a frozen encoder"):
        m.enable_cache("/tmp/never-used")


def test_frozen_parts_stay_in_eval_mode(model):
    model.train()
    assert model.projector.training and not model.encoder.training and not model.llm.training
    model.eval()


def test_lora_trains_adapters_only():
    m = build_tiny(
        llm=LLMConfig(name="tiny-random-llama", lora=LoRASettings(r=2, target_modules=("q_proj", "v_proj")))
    )
    summary = m.trainable_summary()
    assert summary["lora"] > 0 and summary["projector"] > 0
    base_before = {n: p.detach().clone() for n, p in m.hf_model.named_parameters() if not p.requires_grad}
    lora_before = [p.detach().clone() for p in m._lora_params]
    opt = torch.optim.AdamW(m.param_groups(), lr=1e-2)
    m.train()
    assert m.llm.training
    m.forward_stage1(stage1_batch(m)).loss.backward()
    opt.step()
    assert any(not torch.equal(a, p) for a, p in zip(lora_before, m._lora_params, strict=True))
    for n, p in m.hf_model.named_parameters():
        if n in base_before:
            assert torch.equal(base_before[n], p), n


def test_pooling_shortens_the_sensor_run(tiny_encoder):
    m = build_tiny(
        shared_encoder=tiny_encoder, projector=ProjectorConfig(preset="custom", hidden=(32,), pool=4)
    )
    assert m.num_sensor_tokens(16) == 5  # ceil(17 / 4)
    ex = m.prompts.stage2(make_window(0), text="t", label=1)
    assert m.tokenizer.decode(ex.input_ids).count("<ts>") == 15
    assert m.forward_stage2(collate(m.prompts, [ex])).logits.shape == (1, 3)


def test_generate_describes_a_window(model):
    exs = [model.prompts.stage1(make_window(s), "Describe.", None) for s in (0, 1)]
    texts = model.generate(collate(model.prompts, exs, padding_side="left"), max_new_tokens=4)
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)
    with pytest.raises(ValueError, match="left-padded"):
        model.generate(collate(model.prompts, [exs[0], model.prompts.stage1(make_window(2, 8), "D", None)]))


def test_subset_of_channels_in_stage1(model):
    ex = model.prompts.stage1({"y_acc": make_window(0)["y_acc"]}, "Trend of y?", "Up.")
    b = collate(model.prompts, [ex])
    assert b.channels == ("y_acc",) and b.series.shape == (1, 1, 16)  # one example: a (1, 1, L) window
    assert torch.isfinite(model.forward_stage1(b).loss)
