"""The Stage-1 oracle diagnostic (benchmarks/stage1_oracle_tokens.py): its tokens hold exactly the trends the
answers are computed from, and its encoder is registered by the script only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import stage1_oracle_tokens as oracle  # noqa: E402

from sensorllm.model.encoder import list_encoders  # noqa: E402
from sensorllm.text import segment_trends  # noqa: E402


def test_oracle_tokens_follow_the_answers_segmentation():
    rng = np.random.default_rng(0)
    x = np.concatenate([np.linspace(0, 1, 12), np.linspace(1, -0.5, 15)[1:], np.full(10, -0.5)])
    x = x + rng.normal(0, 1e-4, x.shape)
    feats = oracle.oracle_tokens(x, 50.0)
    segs = segment_trends(x, 50.0, "tolerant")
    assert feats.shape == (x.shape[0], oracle.ORACLE_FEATURES)
    assert len(segs) >= 2
    for start, end, trend in zip(segs.start_idx, segs.end_idx, segs.trend):
        inner = slice(start + 1, end)  # boundary samples belong to the later segment
        assert (feats[inner, 1 + int(trend)] == 1).all()
        assert (feats[inner, :3].sum(1) == 1).all()
    assert set(np.flatnonzero(feats[:, 3])) == {int(s) for s in segs.start_idx if s > 0}
    assert (feats[:, 4] == 1).all()  # ends below its start: overall decrease, in every token
    assert feats[0, 7] == 0 and feats[-1, 7] == 1


def test_oracle_encoder_is_registered_by_the_script_only():
    assert oracle.KIND not in list_encoders()
    r = subprocess.run([sys.executable, "benchmarks/stage1_oracle_tokens.py", "--dry-run", "--pairs", "16"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "data.max_train_examples=16" in r.stdout and f"encoder.kind={oracle.KIND}" in r.stdout


@pytest.mark.parametrize("length", [1, 5, 40])
def test_oracle_encoder_gives_one_token_per_sample(length):
    enc = oracle.oracle_encoder(50.0)  # not registered: the registry is shared by every test
    out = enc.encode([torch.linspace(0, 1, length), torch.linspace(1, 0, length)])
    assert [tuple(o.shape) for o in out] == [(length, oracle.ORACLE_FEATURES)] * 2
