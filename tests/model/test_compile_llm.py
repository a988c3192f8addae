"""`run.compile`: the LLM decoder is compiled in place, so parameter names (and checkpoints) do not change."""

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
