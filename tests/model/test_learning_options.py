"""Options of the learning issue on tiny models: LLM truncation, projector normalisation, head inputs, the
text-first Stage-2 layout, per-part learning rates and the training diagnostics."""

import numpy as np
import pytest
import torch

from sensorllm.data import collate
from sensorllm.model import LLMConfig, ProjectorConfig, load_checkpoint, save_checkpoint
from sensorllm.model.prompts import STAGE2_ENDING

from _model_helpers import CHANNELS, build_tiny, make_window


def _batch(model, n=3, text="stats here"):
    exs = [model.prompts.stage2(make_window(i), text=text, label=i % 3) for i in range(n)]
    return collate(model.prompts, exs)


def test_num_layers_keeps_the_first_decoder_layers_and_survives_a_checkpoint(tmp_path):
    full = build_tiny()
    cut = build_tiny(llm=LLMConfig(name="tiny-random-llama", seed=0, num_layers=1))
    assert len(full.hf_model.get_decoder().layers) == 2
    assert len(cut.hf_model.get_decoder().layers) == 1 and cut.hf_model.config.num_hidden_layers == 1
    # the kept layer is the original first layer
    a = full.hf_model.get_decoder().layers[0].self_attn.q_proj.weight
    assert torch.equal(a, cut.hf_model.get_decoder().layers[0].self_attn.q_proj.weight)
    b = _batch(cut)
    assert cut.forward_stage2(b).logits.shape == (3, 3)
    save_checkpoint(cut, tmp_path / "m")
    again = load_checkpoint(tmp_path / "m")
    assert len(again.hf_model.get_decoder().layers) == 1
    assert torch.allclose(again.forward_stage2(b).logits, cut.forward_stage2(b).logits, atol=1e-5)
    with pytest.raises(ValueError, match="num_layers"):
        LLMConfig(num_layers=0)
    with pytest.raises(ValueError, match="has 2 decoder layers"):
        build_tiny(llm=LLMConfig(name="tiny-random-llama", seed=0, num_layers=3))


def test_normalised_projector_puts_sensor_tokens_at_text_scale():
    plain = build_tiny()
    norm = build_tiny(projector=ProjectorConfig(preset="custom", hidden=(64,), normalize=True))
    emb = norm.hf_model.get_input_embeddings().weight[: norm.layout.base_vocab]
    text_rms = float(emb.detach().pow(2).mean().sqrt())
    x = torch.randn(40, norm.encoder.d_model) * 0.02  # faint encoder tokens, as a random-init encoder gives
    y = norm.projector(x)
    assert abs(float(y.pow(2).mean().sqrt()) - text_rms) < 1e-3 * max(1.0, text_rms)
    # the input-dependent part is not swamped by the last bias, as it is without normalisation
    varying = lambda t: float((t - t.mean(0)).pow(2).mean().sqrt() / t.pow(2).mean().sqrt())  # noqa: E731
    assert varying(y) > 5 * varying(plain.projector(x))
    # the same MLP initialisation in both (the normalisation draws no random numbers)
    assert torch.equal(norm.projector.net[0].weight, plain.projector.net[0].weight)
    b = _batch(norm)
    norm.forward_stage2(b)
    assert norm.signal_stats == {}  # diagnostics are measured in training mode only
    norm.train()
    norm.forward_stage2(b)
    assert norm.signal_stats["sensor_rms"] == pytest.approx(text_rms, rel=1e-2)
    assert norm.signal_stats["text_rms"] > 0


def test_channel_mean_head_reads_each_channels_sensor_positions():
    model = build_tiny(head_input="channel_mean")
    h = model.hidden_size
    assert model.head.in_features == len(CHANNELS) * h
    b = _batch(model)
    seq = model.sequence_hidden(b)
    feats = model.head_features(b)
    assert feats.shape == (3, len(CHANNELS) * h)
    ts = model.layout.ts_id
    for i in range(3):
        pos = (b.input_ids[i] == ts).nonzero().flatten()
        n = len(pos) // len(CHANNELS)
        for c in range(len(CHANNELS)):  # runs are in channel order, each of n placeholders
            want = seq[i, pos[c * n:(c + 1) * n]].mean(0)
            assert torch.allclose(feats[i, c * h:(c + 1) * h], want, atol=1e-5)
    both = build_tiny(head_input="last+channel_mean")
    assert both.head.in_features == (len(CHANNELS) + 1) * h
    out = both.forward_stage2(_batch(both))
    assert out.hidden.shape == (3, (len(CHANNELS) + 1) * h) and out.loss is not None
    out.loss.backward()
    assert both.projector.net[0].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="all 3 channels"):
        model.head_features(collate(model.prompts, [model.prompts.stage2({"x_acc": make_window(0)["x_acc"]})]))


def test_text_first_layout_ends_every_window_with_the_same_text():
    model = build_tiny(stage2_layout="text_first")
    tok = model.tokenizer
    ends = tok(STAGE2_ENDING, add_special_tokens=False)["input_ids"]
    texts = ["Mean, std per channel:\nx_acc 1.00, 0.02 g", "something else entirely", ""]
    for i, text in enumerate(texts):
        ex = model.prompts.stage2(make_window(i), text=text)
        assert ex.input_ids[-len(ends):] == ends
        decoded = tok.decode(ex.input_ids)
        if text:
            assert decoded.index(text) < decoded.index(model.layout.channel_tokens[CHANNELS[0]][0])
    paper = build_tiny()
    ex = paper.prompts.stage2(make_window(0), text="tail text")
    assert paper.tokenizer.decode(ex.input_ids).endswith("tail text")
    with pytest.raises(ValueError, match="stage2_layout"):
        build_tiny(stage2_layout="sideways")


def test_head_lr_puts_the_head_in_its_own_group():
    model = build_tiny()
    groups = model.param_groups(0.0, head_lr=0.05)
    head = [g for g in groups if any(p is model.head.weight for p in g["params"])]
    assert len(head) == 1 and head[0]["lr"] == 0.05 and len(head[0]["params"]) == 1
    assert all("lr" not in g for g in model.param_groups(0.0))


def test_part_vectors_cover_the_trained_parts_only():
    model = build_tiny()
    parts = model.part_vectors()
    assert set(parts) == {"projector", "head", "token_rows"}
    assert parts["token_rows"].numel() == len(model.layout.trainable_ids) * model.hidden_size
    model.set_trainable(token_rows=False, head=False)
    assert set(model.part_vectors()) == {"projector"}


def test_compact_statistics_are_short_and_carry_units():
    from sensorllm.datasets.spec import ChannelSpec
    from sensorllm.text.stage2 import compact_statistics_text, statistics_text

    chans = [ChannelSpec("x_acc", "x-axis accelerometer", "acc", "x", "waist", "g"),
             ChannelSpec("x_gyro", "x-axis gyroscope", "gyro", "x", "waist", "rad/s")]
    w = np.stack([np.full(64, 1.0049), np.linspace(-0.001, 0.001, 64)], axis=1)
    text = compact_statistics_text(w, chans)
    assert text.split("\n")[1:] == ["x_acc 1.00, 0.00 g", "x_gyro 0.00, 0.00 rad/s"]
    assert len(text) < len(statistics_text(w, chans)) / 2


def test_text_first_batches_run_their_text_once_without_gradients_and_match_the_full_pass():
    model = build_tiny(stage2_layout="text_first", head_input="last+channel_mean")
    texts = ["short", "a much longer statistics text, line after line", ""]
    exs = [model.prompts.stage2(make_window(i), text=t, label=i) for i, t in enumerate(texts)]
    batch = collate(model.prompts, exs)
    assert bool(batch.attention_mask[:, -1].all())  # left-padded by default for this layout
    split = model.text_prefix_length(batch)
    assert split is not None and split > 0
    with torch.no_grad():
        assert model.text_prefix_length(batch) is None  # no gradients: one plain pass
        full = model.head_features(batch)
    out = model.forward_stage2(batch)
    assert torch.allclose(out.hidden, full, atol=1e-4)
    out.loss.backward()
    assert model.projector.net[0].weight.grad.abs().sum() > 0
    # right padding (or the paper's layout) falls back to the full pass, with the same features
    right = collate(model.prompts, exs, padding_side="right")
    assert model.text_prefix_length(right) is None
    assert torch.allclose(model.forward_stage2(right).hidden, full, atol=1e-4)
    # the gradients of the split pass equal those of the full pass
    grads = []
    for b in (batch, right):
        model.zero_grad()
        model.forward_stage2(b).loss.backward()
        grads.append(model.projector.net[0].weight.grad.clone())
    assert torch.allclose(grads[0], grads[1], atol=1e-5, rtol=1e-3)
