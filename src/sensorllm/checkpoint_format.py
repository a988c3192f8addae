"""The names of a SensorLLM checkpoint directory's format, in one place that imports nothing (so that
:mod:`sensorllm.serve.model_info` can tell a checkpoint from its JSON without importing torch).

Written and read by :mod:`sensorllm.model.checkpoint`; ``docs/model.md`` describes the files.
"""

__all__ = ["CHECKPOINT_FORMAT", "CONFIG_FILE", "FORMAT_VERSION", "WEIGHTS_FILE"]

CHECKPOINT_FORMAT = "sensorllm-delta"
"""``config.json``'s ``"format"`` (and the weights file's safetensors metadata ``format``)."""

FORMAT_VERSION = 1
"""``config.json``'s ``"format_version"``: the one this version writes and reads."""

WEIGHTS_FILE = "weights.safetensors"
"""The trained tensors (the delta over the base LLM and encoder)."""

CONFIG_FILE = "config.json"
"""The checkpoint's configuration and metadata."""
