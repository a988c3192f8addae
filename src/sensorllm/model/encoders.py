"""The built-in encoder kinds, all registered: importing this module imports each kind's module, whose
``register_encoder`` call adds it to the registry of :mod:`sensorllm.model.encoder`.

The kinds import the base module (:class:`~sensorllm.model.encoder.SensorEncoder`, ``register_encoder``); the
base module imports none of them. The package (:mod:`sensorllm.model`) imports this module, and Python runs
a package's ``__init__`` before any of its modules, so every kind is registered wherever
:func:`~sensorllm.model.encoder.build_encoder`, :func:`~sensorllm.model.encoder.list_encoders` or
:class:`~sensorllm.model.encoder.EncoderConfig`'s check is used. An encoder of one's own registers the same
way, by importing the module that defines it (``docs/encoders.md``, "Adding an encoder").
"""

from __future__ import annotations

from .encoder_bolt import ChronosBoltEncoder
from .encoder_chronos import ChronosEncoder
from .encoder_conv import ConvEncoder
from .encoder_raw import RawPatchEncoder
from .encoder_rocket import RocketEncoder

__all__ = ["BUILTIN_ENCODERS", "ChronosBoltEncoder", "ChronosEncoder", "ConvEncoder", "RawPatchEncoder", "RocketEncoder"]

BUILTIN_ENCODERS: dict[str, type] = {
    "chronos": ChronosEncoder,
    "chronos-bolt": ChronosBoltEncoder,
    "raw-patch": RawPatchEncoder,
    "conv": ConvEncoder,
    "rocket": RocketEncoder,
}
"""Registry name → encoder class of each built-in kind (the order of ``docs/encoders.md``)."""
