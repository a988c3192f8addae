"""Fixtures for the model tests: offline hub, a shared frozen tiny Chronos encoder, a fixed seed."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest
import torch

from sensorllm.model import EncoderConfig, build_encoder


@pytest.fixture(scope="session")
def tiny_encoder():
    """One frozen random Chronos-T5-tiny for read-only use (the chronos/T5 import is the slow part)."""
    return build_encoder(EncoderConfig(size="tiny", seed=0))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
