"""The file names and format strings of every model directory, in one place that imports nothing (so that
:mod:`sensorllm.infer.artifact` can tell what a directory holds from its JSON without importing torch).

A SensorLLM checkpoint is written and read by :mod:`sensorllm.model.checkpoint`; a baseline run's model by the
baseline classes (:mod:`sensorllm.baselines`). ``docs/model.md`` and ``docs/baselines.md`` describe the files.
"""

__all__ = ["BASELINE_WEIGHTS_FILE", "CHECKPOINT_FORMAT", "CONFIG_FILE", "FORMAT_VERSION", "WEIGHTS_FILE"]

CHECKPOINT_FORMAT = "sensorllm-delta"
"""``config.json``'s ``"format"`` (and the weights file's safetensors metadata ``format``)."""

FORMAT_VERSION = 1
"""``config.json``'s ``"format_version"``: the one this version writes and reads."""

WEIGHTS_FILE = "weights.safetensors"
"""The trained tensors (the delta over the base LLM and encoder)."""

CONFIG_FILE = "config.json"
"""The checkpoint's configuration and metadata; in a baseline run directory, the run's settings (a
``"baseline"`` key names the baseline)."""

BASELINE_WEIGHTS_FILE = "model.safetensors"
"""A baseline run's kept model (safetensors, no pickle); a run directory without it is unfinished."""
