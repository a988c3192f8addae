"""Sensor tokens: added to any tokenizer, mean-initialised, and only the start/end rows train."""

from __future__ import annotations

import pytest
import torch
from _model_helpers import CHANNELS, build_tiny, stage1_batch, stage2_batch

from sensorllm.model import add_sensor_tokens, build_tiny_llm, init_new_token_rows


def test_tokens_added_once_with_pad_and_single_ids():
    _, tok = build_tiny_llm()
    n0 = len(tok)
    assert tok.pad_token is None
    layout = add_sensor_tokens(tok, list(CHANNELS))
    assert len(tok) == n0 + 1 + 2 * len(CHANNELS) + 1  # <ts>, start/end pairs, <pad>
    assert tok.pad_token == "<pad>" and layout.pad_id == tok.pad_token_id
    assert tok.convert_ids_to_tokens(list(layout.channels["y_acc"])) == ["<y_acc_start>", "<y_acc_end>"]
    assert tok.encode("<x_acc_start><ts><ts><x_acc_end>", add_special_tokens=False) == [
        layout.channels["x_acc"][0],
        layout.ts_id,
        layout.ts_id,
        layout.channels["x_acc"][1],
    ]
    assert layout.trainable_ids == tuple(i for p in layout.channels.values() for i in p)
    again = add_sensor_tokens(tok, list(CHANNELS))  # idempotent: nothing new
    assert again.added_ids == () and again.channels == layout.channels


@pytest.mark.parametrize("tied", [True, False])
def test_new_rows_are_the_mean_of_the_old(tied):
    llm, tok = build_tiny_llm(tie_word_embeddings=tied)
    old_in = llm.get_input_embeddings().weight.detach().clone()
    old_out = llm.get_output_embeddings().weight.detach().clone()
    layout = add_sensor_tokens(tok, list(CHANNELS))
    init_new_token_rows(llm, tok, layout)
    w = llm.get_input_embeddings().weight
    assert w.shape[0] == len(tok)
    ids = list(layout.added_ids)
    torch.testing.assert_close(w[ids], old_in.mean(0).expand(len(ids), -1))
    assert torch.equal(w[: layout.base_vocab], old_in)
    if not tied:
        torch.testing.assert_close(
            llm.get_output_embeddings().weight[ids], old_out.mean(0).expand(len(ids), -1)
        )
    assert (llm.get_output_embeddings().weight is w) == tied


@pytest.mark.parametrize("tied", [True, False])
@pytest.mark.parametrize("stage", [1, 2])
def test_optimiser_step_changes_only_start_end_rows(tiny_encoder, tied, stage):
    model = build_tiny(shared_encoder=tiny_encoder, tied=tied)
    model.train()
    hf = model.hf_model
    before_in = hf.get_input_embeddings().weight.detach().clone()
    before_out = hf.get_output_embeddings().weight.detach().clone()
    opt = torch.optim.AdamW(model.param_groups(weight_decay=0.1), lr=1e-2)
    batch = stage1_batch(model) if stage == 1 else stage2_batch(model)
    loss = model.forward_stage1(batch).loss if stage == 1 else model.forward_stage2(batch).loss
    loss.backward()
    opt.step()
    n_opt = sum(p.numel() for g in opt.param_groups for p in g["params"])
    assert n_opt == sum(model.trainable_summary()[k] for k in ("projector", "token_rows", "head"))  # no V x H
    model.token_rows.push()  # (done by the next training forward pass, generation or saving)
    after = hf.get_input_embeddings().weight.detach()
    changed = (after != before_in).any(dim=1).nonzero().flatten().tolist()
    assert changed and set(changed) <= set(model.layout.trainable_ids)
    if (
        stage == 2
    ):  # the classifier's input is the last text token; every channel's start/end rows still train
        assert set(changed) == set(model.layout.trainable_ids)
    if not tied:
        assert torch.equal(hf.get_output_embeddings().weight, before_out)  # lm_head frozen


def test_token_rows_can_be_frozen(tiny_encoder):
    model = build_tiny(shared_encoder=tiny_encoder)
    model.set_trainable(token_rows=False)
    w = model.hf_model.get_input_embeddings().weight
    assert not w.requires_grad
    model.forward_stage2(stage2_batch(model)).loss.backward()
    assert w.grad is None
    assert model.projector.net[0].weight.grad is not None
