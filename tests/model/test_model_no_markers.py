"""The "without special tokens" ablation: no <c_start>/<c_end> around channels, runs matched by channel order."""

import pytest
import torch

from sensorllm.data import collate
from sensorllm.model.checkpoint import CheckpointError, init_from_stage1, load_checkpoint, save_checkpoint
from sensorllm.model.splice import SpliceError, placeholder_runs, splice_sensor_embeddings

from _model_helpers import build_tiny, make_window, stage1_batch, stage2_batch


@pytest.fixture()
def model(tiny_encoder):
    return build_tiny(tiny_encoder, channel_markers=False)


def test_block_has_only_placeholder_runs(model):
    w = make_window(0, length=20)
    ex = model.prompts.stage2({"y_acc": w["y_acc"], "z_acc": w["z_acc"]}, text="hi")
    markers = set(model.layout.trainable_ids)
    assert not markers & set(ex.input_ids)
    runs = placeholder_runs(ex.input_ids, model.layout)
    assert [n for _, n in runs] == [model.num_sensor_tokens(20)] * 2


def test_runs_receive_their_channels_in_model_order(model):
    w = make_window(1, length=24)
    exs = [model.prompts.stage2({"z_acc": w["z_acc"], "x_acc": w["x_acc"]}, text="a"),
           model.prompts.stage2(make_window(2, length=9), text="b")]
    batch = collate(model.prompts, exs)
    text = model.hf_model.get_input_embeddings()(batch.input_ids)
    H = text.shape[-1]
    # One distinct constant embedding per series, so the destination of each is visible.
    embeds = [torch.full((model.num_sensor_tokens(len(s)), H), float(i + 1)) for i, s in enumerate(batch.series)]
    out = splice_sensor_embeddings(text, batch.input_ids, embeds, batch.series_example, batch.series_channel,
                                   model.layout, channel_markers=False)
    for i, (b, name) in enumerate(zip(batch.series_example, batch.series_channel)):
        order = [c for c in model.channels if c in exs[b].series]
        first, n = placeholder_runs(batch.input_ids[b].tolist(), model.layout)[order.index(name)]
        assert torch.all(out[b, first : first + n] == i + 1), (b, name)
    assert batch.series_channel[:2] == ["x_acc", "z_acc"]  # model order, not the dict's order

    with pytest.raises(SpliceError, match="3 placeholder runs in the text but data for 2 channels"):
        splice_sensor_embeddings(text, batch.input_ids, embeds[:2] + embeds[3:], [0, 0, 1, 1],
                                 ["x_acc", "z_acc", "x_acc", "y_acc"], model.layout, channel_markers=False)
    marked = collate(build_tiny(None).prompts, [build_tiny(None).prompts.stage2(make_window(3, 9), "c")])
    with pytest.raises(SpliceError, match="marker tokens"):
        splice_sensor_embeddings(text[:1, : marked.input_ids.shape[1]], marked.input_ids, embeds[2:5], [0, 0, 0],
                                 ["x_acc", "y_acc", "z_acc"], model.layout, channel_markers=False)


def test_both_stages_train_without_token_rows(model):
    model.set_trainable(projector=True, token_rows=True, head=True)
    assert not model.hf_model.get_input_embeddings().weight.requires_grad  # nothing to train there
    assert model.trainable_summary()["token_rows"] == 0
    out = model.forward_stage2(stage2_batch(model))
    out.loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.projector.parameters()
               if p.ndim == 2)
    model.zero_grad()
    model.forward_stage1(stage1_batch(model)).loss.backward()
    assert next(model.projector.parameters()).grad.abs().sum() > 0


def test_checkpoint_keeps_the_option(model, tmp_path):
    ckpt = save_checkpoint(model, tmp_path / "m")
    back = load_checkpoint(ckpt)
    assert back.config.channel_markers is False
    batch = stage2_batch(model)
    with torch.no_grad():
        assert torch.allclose(back.forward_stage2(batch).logits, model.eval().forward_stage2(batch).logits,
                              atol=1e-5)
    marked = build_tiny(None, labels=None)
    with pytest.raises(CheckpointError, match="channel_markers"):
        init_from_stage1(marked, ckpt)
