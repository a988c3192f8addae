"""Checkpoints: only trained parts, safetensors + JSON, strict loading, identical logits after reload."""

from __future__ import annotations

import json

import pytest
import torch
from _model_helpers import build_tiny, stage1_batch, stage2_batch
from safetensors.torch import load_file, save_file

from sensorllm.model import (
    CheckpointError,
    LLMConfig,
    LoRASettings,
    init_from_stage1,
    load_checkpoint,
    read_checkpoint_config,
    save_checkpoint,
)


def _train_a_bit(model, stage: int, steps: int = 2):
    model.train()
    opt = torch.optim.AdamW(model.param_groups(), lr=1e-2)
    for _ in range(steps):
        batch = stage1_batch(model) if stage == 1 else stage2_batch(model)
        loss = model.forward_stage1(batch).loss if stage == 1 else model.forward_stage2(batch).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


@pytest.mark.parametrize(
    "kind",
    ["stage2-tied", "stage1-untied", "stage2-lora"],
)
def test_round_trip_gives_identical_logits(tmp_path, kind):
    if kind == "stage2-tied":
        model, stage = build_tiny(), 2
    elif kind == "stage1-untied":
        model, stage = build_tiny(tied=False, labels=None), 1
    else:
        lora = LoRASettings(r=2, target_modules=("q_proj", "v_proj"))
        model, stage = build_tiny(llm=LLMConfig(name="tiny-random-llama", lora=lora)), 2
    _train_a_bit(model, stage)
    save_checkpoint(model, tmp_path / "ckpt", extra={"stage": stage, "step": 2})
    loaded = load_checkpoint(tmp_path / "ckpt")
    loaded.eval()
    batch = stage1_batch(model) if stage == 1 else stage2_batch(model)
    with torch.no_grad():
        if stage == 1:
            a, b = model.lm_logits(batch), loaded.lm_logits(batch)
        else:
            a, b = model.forward_stage2(batch).logits, loaded.forward_stage2(batch).logits
    assert torch.equal(a, b)
    assert loaded.token_rows.enabled == model.token_rows.enabled


def test_files_hold_only_trained_parts(tmp_path):
    model = build_tiny(tied=False)
    save_checkpoint(model, tmp_path)
    state = load_file(tmp_path / "weights.safetensors")
    prefixes = {k.split(".", 1)[0] for k in state}
    assert prefixes == {"projector", "tokens", "head"}
    n_added = len(model.layout.added_ids)
    assert state["tokens.input_rows"].shape == (n_added, model.hidden_size)
    assert state["tokens.output_rows"].shape == (n_added, model.hidden_size)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "config.json",
        "weights.safetensors",
    ]  # no temp files
    meta = read_checkpoint_config(tmp_path)
    assert meta["config"]["llm"]["name"] == "tiny-random-llama-untied"
    assert meta["config"]["channels"] == ["x_acc", "y_acc", "z_acc"]
    assert meta["config"]["labels"] == ["walking", "sitting", "lying"]
    assert meta["encoder"]["is_random_init"] is True and meta["encoder"]["source"] == "random:tiny:seed0"
    assert meta["tokens"]["added_tokens"][:2] == ["<ts>", "<x_acc_start>"]
    assert meta["llm"]["tied_embeddings"] is False and meta["llm"]["is_random_init"] is True


def test_strict_loading_names_missing_unexpected_and_misshaped_keys(tmp_path):
    model = build_tiny()
    save_checkpoint(model, tmp_path)
    weights = tmp_path / "weights.safetensors"
    state = load_file(weights)

    bad = dict(state)
    del bad["head.weight"]
    bad["projector.net.9.weight"] = torch.zeros(1)
    save_file(bad, weights)
    with pytest.raises(
        CheckpointError,
        match=r"missing keys: \['head.weight'\].*unexpected keys: \['projector.net.9.weight'\]",
    ):
        load_checkpoint(tmp_path)

    bad = dict(state)
    bad["head.weight"] = torch.zeros(4, model.hidden_size)
    save_file(bad, weights)
    with pytest.raises(CheckpointError, match=r"head.weight: checkpoint \(4, 64\) vs model \(3, 64\)"):
        load_checkpoint(tmp_path)


def test_not_a_checkpoint_and_foreign_encoder(tmp_path):
    with pytest.raises(CheckpointError, match="not a SensorLLM checkpoint"):
        load_checkpoint(tmp_path)
    model = build_tiny()
    save_checkpoint(model, tmp_path)
    meta = json.loads((tmp_path / "config.json").read_text())
    meta["encoder"]["identity"] = "chronos|wdeadbeef|std_uniform"
    (tmp_path / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="encoder weights differ"):
        load_checkpoint(tmp_path)


def test_stage2_starts_from_stage1(tmp_path):
    s1 = build_tiny(labels=None)
    _train_a_bit(s1, 1)
    save_checkpoint(s1, tmp_path)
    s2 = build_tiny()
    assert not torch.equal(s2.projector.net[0].weight, s1.projector.net[0].weight)
    assert init_from_stage1(s2, tmp_path) == ["projector", "tokens"]
    assert torch.equal(s2.projector.net[0].weight, s1.projector.net[0].weight)
    ids = list(s1.layout.trainable_ids)
    assert torch.equal(
        s2.hf_model.get_input_embeddings().weight[ids], s1.hf_model.get_input_embeddings().weight[ids]
    )
    other = build_tiny(llm=LLMConfig(name="tiny-random-llama", seed=5))
    with pytest.raises(CheckpointError, match="Stage 1 used LLM"):
        init_from_stage1(other, tmp_path)


def test_trainable_encoder_weights_are_saved(tmp_path):
    from sensorllm.model import EncoderConfig

    model = build_tiny(encoder=EncoderConfig(size="tiny", seed=0, trainable=True))
    _train_a_bit(model, 2, steps=1)
    save_checkpoint(model, tmp_path)
    assert any(k.startswith("encoder.") for k in load_file(tmp_path / "weights.safetensors"))
    loaded = load_checkpoint(tmp_path)
    b = stage2_batch(model)
    model.eval()
    loaded.eval()
    with torch.no_grad():
        assert torch.equal(model.forward_stage2(b).logits, loaded.forward_stage2(b).logits)
