"""Any Hugging Face causal LM: tiny random GPT-2 and Qwen2 models go through both stages (the Llama family is
covered by the other model tests)."""

import numpy as np
import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, Qwen2Config, Qwen2ForCausalLM

from sensorllm.data import collate
from sensorllm.model import (
    EncoderConfig, LLMConfig, ProjectorConfig, SensorLLMConfig, build_byte_tokenizer, build_sensor_llm,
)

ARCHS = {
    "gpt2": lambda v: GPT2LMHeadModel(GPT2Config(vocab_size=v, n_embd=64, n_layer=2, n_head=2, n_positions=1024,
                                                 bos_token_id=None, eos_token_id=None)),
    "qwen2": lambda v: Qwen2ForCausalLM(Qwen2Config(vocab_size=v, hidden_size=64, intermediate_size=128,
                                                    num_hidden_layers=2, num_attention_heads=2,
                                                    num_key_value_heads=1, max_position_embeddings=1024)),
}


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_other_architectures_run_both_stages(arch):
    tok = build_byte_tokenizer()
    torch.manual_seed(0)
    cfg = SensorLLMConfig(channels=("x_acc", "y_acc"), llm=LLMConfig(name=arch), encoder=EncoderConfig(size="tiny"),
                          projector=ProjectorConfig(preset="custom", hidden=(32,), pool=4), labels=("a", "b"))
    m = build_sensor_llm(cfg, llm=ARCHS[arch](len(tok)), tokenizer=tok)
    x = {"x_acc": np.sin(np.arange(50) / 5), "y_acc": np.cos(np.arange(50) / 7)}
    swapped = {"y_acc": x["y_acc"], "x_acc": x["x_acc"]}
    b = collate(m.prompts, [m.prompts.stage2(x, "hello", 1), m.prompts.stage2(swapped, "hello", 1)])
    out = m.forward_stage2(b)
    assert out.logits.shape == (2, 2)
    torch.testing.assert_close(out.logits[0], out.logits[1])  # channels spliced by name, not by position
    out.loss.backward()
    assert all(p.grad is not None for p in m.projector.parameters())
    s1 = collate(m.prompts, [m.prompts.stage1({"x_acc": x["x_acc"]}, "Describe.", "It rises.")])
    assert torch.isfinite(m.forward_stage1(s1).loss)
