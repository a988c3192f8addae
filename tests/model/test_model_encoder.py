"""Chronos-T5 encoder: shapes, seeded random init, local-directory loading, frozen vs trainable."""

from __future__ import annotations

import pytest
import torch

from sensorllm.model import ChronosEncoder, EncoderConfig, TokenizerConfig, build_encoder


def test_shapes_and_flags(tiny_encoder):
    assert isinstance(tiny_encoder, ChronosEncoder)
    assert tiny_encoder.d_model == 256 and tiny_encoder.is_random_init
    out = tiny_encoder.encode([torch.randn(16), torch.randn(7, dtype=torch.float64), torch.randn(16)])
    assert [tuple(o.shape) for o in out] == [(17, 256), (8, 256), (17, 256)]
    assert all(torch.isfinite(o).all() for o in out)


def test_frozen_by_default(tiny_encoder):
    assert not any(p.requires_grad for p in tiny_encoder.parameters())
    assert not tiny_encoder.training


def test_batch_composition_does_not_change_results(tiny_encoder):
    xs = [torch.randn(20) for _ in range(4)] + [torch.randn(9)]
    together = tiny_encoder.encode(xs)
    alone = tiny_encoder.encode([xs[2]])[0]
    assert torch.equal(together[2], alone)


def test_seeded_random_init_is_reproducible(tiny_encoder):
    again = build_encoder(EncoderConfig(size="tiny", seed=0))
    other = build_encoder(EncoderConfig(size="tiny", seed=1))
    x = [torch.randn(12)]
    assert torch.equal(again.encode(x)[0], tiny_encoder.encode(x)[0])
    assert again.identity() == tiny_encoder.identity() != other.identity()


def test_unknown_size_is_refused():
    with pytest.raises(ValueError, match="Known: tiny, mini, small, base, large"):
        EncoderConfig(size="huge")  # type: ignore[arg-type]


def test_loads_a_local_chronos_directory_like_the_hub(tmp_path):
    """A directory laid out like amazon/chronos-t5-* loads through ChronosPipeline (offline)."""
    from transformers import T5Config, T5ForConditionalGeneration

    from sensorllm.model.series_tokenizer import chronos_config_dict

    cfg = T5Config(
        vocab_size=4096,
        d_model=32,
        d_ff=64,
        d_kv=8,
        num_layers=1,
        num_decoder_layers=1,
        num_heads=4,
        feed_forward_proj="relu",
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
        chronos_config=chronos_config_dict(TokenizerConfig()),
    )
    torch.manual_seed(3)
    t5 = T5ForConditionalGeneration(cfg).eval()
    t5.save_pretrained(tmp_path)
    enc = build_encoder(EncoderConfig(pretrained=str(tmp_path)))
    assert not enc.is_random_init and enc.d_model == 32 and enc.source == str(tmp_path)
    x = torch.randn(10)
    ids, mask = enc.tokenizer(x[None])
    with torch.no_grad():
        ref = t5.encoder(input_ids=ids, attention_mask=mask.long()).last_hidden_state[0]
        got = enc.encode([x])[0]
    torch.testing.assert_close(got, ref)


def test_trainable_encoder_really_trains():
    enc = build_encoder(EncoderConfig(size="tiny", seed=0, trainable=True))
    assert all(p.requires_grad for p in enc.parameters())
    enc.train()
    out = enc.encode([torch.randn(12), torch.randn(12)])
    torch.stack(out).pow(2).mean().backward()
    grads = [p.grad for p in enc.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)
