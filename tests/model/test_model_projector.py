"""Projector presets and token pooling."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sensorllm.model import PROJECTOR_PRESETS, Projector, ProjectorConfig, pool_tokens, pooled_length


@pytest.mark.parametrize("preset", sorted(PROJECTOR_PRESETS))
def test_presets_shapes(preset):
    cfg = ProjectorConfig(preset=preset)
    p = Projector.from_config(cfg, 32, 24)
    linears = [m for m in p.modules() if isinstance(m, nn.Linear)]
    assert [m.out_features for m in linears[:-1]] == list(PROJECTOR_PRESETS[preset])
    assert sum(isinstance(m, nn.GELU) for m in p.modules()) == len(PROJECTOR_PRESETS[preset])
    assert p(torch.randn(2, 5, 32)).shape == (2, 5, 24)


def test_paper_preset_is_one_hidden_layer_and_reference_two():
    assert PROJECTOR_PRESETS["paper"] == (2048,)
    assert PROJECTOR_PRESETS["reference"] == (2048, 3072)


def test_custom_hidden_and_dropout():
    p = Projector.from_config(ProjectorConfig(preset="custom", hidden=(8, 6), dropout=0.3), 4, 3)
    assert sum(isinstance(m, nn.Dropout) for m in p.modules()) == 2
    with pytest.raises(ValueError, match="only used with preset='custom'"):
        ProjectorConfig(preset="paper", hidden=(8,))
    with pytest.raises(ValueError, match="Unknown projector preset"):
        ProjectorConfig(preset="mlp9")


def test_pooling_means_groups_with_short_tail():
    x = torch.arange(7, dtype=torch.float32)[:, None].repeat(1, 2)  # (7, 2)
    y = pool_tokens(x, 3)
    assert y.shape == (3, 2) and pooled_length(7, 3) == 3
    assert y[:, 0].tolist() == [1.0, 4.0, 6.0]  # means of [0,1,2], [3,4,5], [6]
    assert torch.equal(pool_tokens(x, 1), x)
    batched = pool_tokens(torch.stack([x, 2 * x]), 3)
    assert torch.equal(batched[1], 2 * y)
