"""Helpers shared by the model tests (tiny random models and synthetic windows)."""

from __future__ import annotations

import numpy as np

from sensorllm.data import collate
from sensorllm.model import EncoderConfig, LLMConfig, ProjectorConfig, SensorLLMConfig, build_sensor_llm

CHANNELS = ("x_acc", "y_acc", "z_acc")
LABELS = ("walking", "sitting", "lying")


def make_window(seed: int, length: int = 16, channels=CHANNELS) -> dict[str, np.ndarray]:
    """A synthetic multi-channel window: sine + step + noise per channel (raw units)."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / 50.0
    out = {}
    for k, name in enumerate(channels):
        x = np.sin(2 * np.pi * (1 + k) * t + rng.uniform(0, 6)) + (t > t.mean()) * rng.normal()
        x = x + 0.1 * rng.normal(size=length)
        out[name] = 9.81 * x if k == 2 else x
    return out


def tiny_config(channels=CHANNELS, labels=LABELS, tied: bool = True, **kw) -> SensorLLMConfig:
    llm = kw.pop("llm", LLMConfig(name="tiny-random-llama" if tied else "tiny-random-llama-untied", seed=0))
    return SensorLLMConfig(
        channels=tuple(channels),
        llm=llm,
        encoder=kw.pop("encoder", EncoderConfig(size="tiny", seed=0)),
        projector=kw.pop("projector", ProjectorConfig(preset="custom", hidden=(64,))),
        labels=None if labels is None else tuple(labels),
        **kw,
    )


def build_tiny(shared_encoder=None, **kw):
    """A tiny SensorLLM; pass the session encoder to skip rebuilding Chronos (frozen encoders only)."""
    return build_sensor_llm(tiny_config(**kw), encoder=shared_encoder)


def stage2_batch(model, seeds=(0, 1), length: int = 16, texts=("mean 0.1", "std 2.3"), labels=(0, 2)):
    exs = [
        model.prompts.stage2(make_window(s, length), text=t, label=y)
        for s, t, y in zip(seeds, texts, labels, strict=True)
    ]
    return collate(model.prompts, exs)


def stage1_batch(model, seeds=(0, 1), length: int = 16):
    exs = [
        model.prompts.stage1(
            make_window(s, length),
            question="Describe the trend of each axis.",
            answer=f"Window {s}: the x-axis rises, then falls.",
            system="You analyse sensor data.",
        )
        for s in seeds
    ]
    return collate(model.prompts, exs)


def ragged(batch):
    """The same batch with its ``(B, C, L)`` windows as ragged series (one 1-D tensor per channel of each example,
    with its example and channel), the form Stage 1's windows of many lengths take."""
    import dataclasses

    B, C, _ = batch.series.shape
    return dataclasses.replace(batch, series=[batch.series[b, c] for b in range(B) for c in range(C)], channels=(),
                               series_example=[b for b in range(B) for _ in range(C)],
                               series_channel=[ch for _ in range(B) for ch in batch.channels])
