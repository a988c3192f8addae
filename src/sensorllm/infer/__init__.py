"""Inference: loading a trained model of any kind and running it over windows.

* :mod:`.artifact`: the one module that saves, inspects and loads every model kind (SensorLLM checkpoints and
  baseline runs); :func:`~.artifact.load_model` is the loader of ``evaluate``, ``predict``, ``stream`` and
  ``compare``.
* :mod:`.sensorllm`: a Stage-2 SensorLLM as a :class:`~sensorllm.classifier.Classifier` (the baselines implement
  the interface in :mod:`sensorllm.baselines`).
* :mod:`.evaluate`: ``sensorllm evaluate`` on a prepared split (the metrics themselves are :mod:`sensorllm.eval`).

Raw recordings and live streams are :mod:`sensorllm.serve`, on top of this package. Importing it imports no
torch: :func:`~.artifact.inspect_model` tells a model directory from its JSON alone.
"""

from sensorllm.classifier import Classifier, ModelDirError, ModelInfo

from .artifact import inspect_model, load_model, load_sensorllm, save_model

__all__ = ["Classifier", "ModelDirError", "ModelInfo", "inspect_model", "load_model", "load_sensorllm", "save_model"]
