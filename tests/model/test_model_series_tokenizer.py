"""Series tokenisers: z-normalising uniform bins (default) and Chronos mean-scale."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sensorllm.model import AllMissingError, TokenizerConfig, build_series_tokenizer, list_series_tokenizers

NAN = float("nan")


def test_registry_lists_both_and_rejects_unknown():
    assert list_series_tokenizers() == ["mean_scale", "std_uniform"]
    with pytest.raises(KeyError, match="Known: mean_scale, std_uniform"):
        build_series_tokenizer(TokenizerConfig(kind="nope"))  # type: ignore[arg-type]


def test_std_uniform_matches_the_papers_formula():
    tok = build_series_tokenizer(TokenizerConfig())
    x = torch.tensor([[1.0, 2.0, 3.0, 10.0, -4.0]], dtype=torch.float64)
    ids, mask = tok(x)
    assert ids.shape == (1, 6) and mask.all()
    assert ids[0, -1] == 1  # EOS appended
    mean, std = x.mean(), torch.sqrt(x.var(unbiased=False) + 1e-8)
    z = (x[0] - mean) / std
    centers = torch.linspace(-15, 15, 4093, dtype=torch.float64)
    expected = (z[:, None] - centers[None]).abs().argmin(dim=1) + 3  # nearest centre; ids start at 3
    assert ids[0, :-1].tolist() == expected.tolist()


def test_nan_is_pad_and_masked_constant_is_finite():
    tok = build_series_tokenizer(TokenizerConfig())
    ids, mask = tok(torch.tensor([[5.0, NAN, 5.0, 5.0]]))
    assert ids[0].tolist() == [2049, 0, 2049, 2049, 1]  # constant → centre bin (z = 0), no division by zero
    assert mask[0].tolist() == [True, False, True, True, True]


def test_left_truncation_to_context_and_all_nan_error():
    tok = build_series_tokenizer(TokenizerConfig(context_length=8))
    x = torch.arange(20, dtype=torch.float64)[None]
    ids, _ = tok(x)
    assert ids.shape == (1, 9)
    ids_tail, _ = tok(x[:, -8:])
    assert torch.equal(ids, ids_tail)  # the last 8 samples are kept
    assert TokenizerConfig(context_length=8).num_tokens(20) == 9
    with pytest.raises(AllMissingError, match=r"row\(s\) \[1\]"):
        tok(torch.tensor([[1.0, 2.0], [NAN, NAN]]))


def test_mean_scale_delegates_to_chronos():
    from chronos import ChronosConfig, MeanScaleUniformBins

    from sensorllm.model.series_tokenizer import chronos_config_dict

    cfg = TokenizerConfig(kind="mean_scale")
    ours = build_series_tokenizer(cfg)
    ref = MeanScaleUniformBins(-15.0, 15.0, ChronosConfig(**chronos_config_dict(cfg)))
    x = torch.tensor(np.random.default_rng(0).normal(size=(3, 12)), dtype=torch.float32)
    x[1, 4] = NAN
    a_ids, a_mask = ours(x)
    b_ids, b_mask, _ = ref.context_input_transform(x)
    assert torch.equal(a_ids, b_ids) and torch.equal(a_mask, b_mask)
