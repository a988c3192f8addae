"""Splicing by channel name: invariance, gradient to every channel, clear errors."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from _model_helpers import build_tiny, make_window, ragged, stage1_batch, stage2_batch

from sensorllm.data import collate
from sensorllm.model import SpliceError, channel_spans, splice_sensor_embeddings, splice_window_embeddings


@pytest.fixture(scope="module")
def model():
    from sensorllm.model import EncoderConfig, build_encoder

    return build_tiny(shared_encoder=build_encoder(EncoderConfig(size="tiny", seed=0)))


def _permute(batch, perm):
    return dataclasses.replace(
        batch,
        series=[batch.series[i] for i in perm],
        series_example=[batch.series_example[i] for i in perm],
        series_channel=[batch.series_channel[i] for i in perm],
    )


def test_shuffling_channel_order_keeps_logits(model):
    batch = ragged(stage2_batch(model))
    perm = list(reversed(range(len(batch.series))))
    with torch.no_grad():
        a = model.forward_stage2(batch).logits
        b = model.forward_stage2(_permute(batch, perm)).logits
        # control: the same permutation with the names left in place mislabels channels → logits change
        wrong = dataclasses.replace(
            _permute(batch, perm), series_channel=batch.series_channel, series_example=batch.series_example
        )
        c = model.forward_stage2(wrong).logits
    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    assert not torch.allclose(a, c, atol=1e-4)


def test_windows_and_ragged_series_give_the_same_logits(model):
    """The (B, C, L) path and the ragged one are the same computation; the windows' channel axis may be in any
    order, as long as the names follow it."""
    batch = stage2_batch(model)
    swapped = dataclasses.replace(batch, series=batch.series.flip(1), channels=tuple(reversed(batch.channels)))
    with torch.no_grad():
        a = model.forward_stage2(batch).logits
        b = model.forward_stage2(ragged(batch)).logits
        c = model.forward_stage2(swapped).logits
    assert torch.equal(a, b)
    torch.testing.assert_close(a, c, rtol=0, atol=1e-6)


def test_dict_order_of_a_window_does_not_matter(model):
    w = make_window(0)
    ex1 = model.prompts.stage2(w, text="t", label=0)
    ex2 = model.prompts.stage2(dict(reversed(list(w.items()))), text="t", label=0)
    assert ex1.input_ids == ex2.input_ids
    with torch.no_grad():
        a = model.forward_stage2(collate(model.prompts, [ex1])).logits
        b = model.forward_stage2(collate(model.prompts, [ex2])).logits
    assert torch.equal(a, b)


@pytest.mark.parametrize("form", ["windows", "ragged"])
@pytest.mark.parametrize("stage", [1, 2])
def test_gradient_reaches_every_channels_projector_input(model, stage, form):
    """The reference (B3) let only the last channel learn; here every channel gets gradient."""
    batch = stage1_batch(model) if stage == 1 else stage2_batch(model)
    batch = ragged(batch) if form == "ragged" else batch
    text = model.hf_model.get_input_embeddings()(batch.input_ids)
    if form == "windows":
        enc = model.encode(batch).detach().clone().requires_grad_(True)  # (B, C, n, d_enc)
        embeds = splice_window_embeddings(text, batch.input_ids, model.project(enc), batch.channels, model.layout)
    else:
        enc = [e.detach().clone().requires_grad_(True) for e in model.encode(batch)]
        embeds = splice_sensor_embeddings(
            text, batch.input_ids, model.project(enc), batch.series_example, batch.series_channel, model.layout
        )
    if stage == 1:
        logits = model.hf_model(inputs_embeds=embeds, attention_mask=batch.attention_mask).logits
        loss = torch.nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, logits.shape[-1]), batch.labels[:, 1:].reshape(-1), ignore_index=-100
        )
    else:
        h = model.hf_model.get_decoder()(
            inputs_embeds=embeds, attention_mask=batch.attention_mask
        ).last_hidden_state
        last = batch.attention_mask.sum(1) - 1
        loss = model.forward_head(h[torch.arange(h.shape[0]), last]).logsumexp(-1).sum()
    loss.backward()
    if form == "windows":
        assert enc.grad is not None and bool((enc.grad.abs().sum((2, 3)) > 0).all()), enc.grad.abs().sum((2, 3))
        return
    for e, name, b in zip(enc, batch.series_channel, batch.series_example, strict=True):
        assert e.grad is not None and e.grad.abs().sum() > 0, f"no gradient for example {b}, channel {name}"


def _spliced(model, batch, **changes):
    b = dataclasses.replace(batch, **changes)
    embeds = [torch.zeros(model.num_sensor_tokens(len(s)), model.hidden_size) for s in b.series]
    text = torch.zeros(*b.input_ids.shape, model.hidden_size)
    return splice_sensor_embeddings(
        text, b.input_ids, embeds, b.series_example, b.series_channel, model.layout
    )


def test_errors_are_clear(model):
    batch = ragged(stage2_batch(model))
    with pytest.raises(SpliceError, match="unknown channel 'w_acc'.*known channels"):
        _spliced(model, batch, series_channel=["w_acc"] + batch.series_channel[1:])
    with pytest.raises(SpliceError, match="channel 'x_acc' given twice"):
        _spliced(model, batch, series_channel=["x_acc", "x_acc"] + batch.series_channel[2:])
    with pytest.raises(SpliceError, match="placeholders but 9 sensor embeddings"):
        _spliced(model, batch, series=[batch.series[0][:8]] + batch.series[1:])
    with pytest.raises(SpliceError, match="channels in the text without data: \\['z_acc'\\]"):
        keep = [
            i
            for i, (b, c) in enumerate(zip(batch.series_example, batch.series_channel, strict=True))
            if (b, c) != (0, "z_acc")
        ]
        _spliced(
            model,
            batch,
            series=[batch.series[i] for i in keep],
            series_example=[batch.series_example[i] for i in keep],
            series_channel=[batch.series_channel[i] for i in keep],
        )


def test_window_errors_are_clear(model):
    batch = stage2_batch(model)
    text = torch.zeros(*batch.input_ids.shape, model.hidden_size)
    n = model.num_sensor_tokens(batch.series.shape[2])

    def splice(channels, n_tokens=n, n_examples=2):
        embeds = torch.zeros(n_examples, len(channels), n_tokens, model.hidden_size)
        return splice_window_embeddings(text, batch.input_ids, embeds, channels, model.layout)

    assert torch.equal(splice(batch.channels), text)
    with pytest.raises(SpliceError, match="unknown channel 'w_acc'"):
        splice(("w_acc", "y_acc", "z_acc"))
    with pytest.raises(SpliceError, match="given twice"):
        splice(("x_acc", "x_acc", "z_acc"))
    with pytest.raises(SpliceError, match="placeholders but 3 sensor embeddings"):
        splice(batch.channels, n_tokens=3)
    with pytest.raises(SpliceError, match="channels in the text without data: \\['z_acc'\\]"):
        splice(("x_acc", "y_acc"))
    with pytest.raises(SpliceError, match="shapes differ"):
        splice(batch.channels, n_examples=1)


def test_channel_spans_invariants(model):
    lay = model.layout
    xs, xe = lay.channels["x_acc"]
    ys, ye = lay.channels["y_acc"]
    ts = lay.ts_id
    assert channel_spans([5, xs, ts, ts, xe, ys, ts, ye], lay) == {"x_acc": (2, 3), "y_acc": (6,)}
    with pytest.raises(SpliceError, match="outside every channel run"):
        channel_spans([ts, xs, ts, xe], lay)
    with pytest.raises(SpliceError, match="has no end token"):
        channel_spans([xs, ts, ts], lay)
    with pytest.raises(SpliceError, match="inside the run of channel 'x_acc'"):
        channel_spans([xs, ts, 5, xe], lay)
    with pytest.raises(SpliceError, match="appears more than once"):
        channel_spans([xs, ts, xe, xs, ts, xe], lay)
