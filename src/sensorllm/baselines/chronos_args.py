"""Checks of the Chronos feature baselines' model arguments (``--model-arg`` values), run by the registry
before any data is read (``check_model_args``): the featuriser settings both classifiers share, and the value
tests the classifiers use for their own arguments."""

from __future__ import annotations

from typing import Any

import numpy as np

from sensorllm.model.encoder import CHRONOS_T5_SIZES
from sensorllm.model.encoder_bolt import BOLT_SIZES

__all__ = ["FEATURE_ENCODERS", "encoder_arg_problems", "is_int", "is_number"]

FEATURE_ENCODERS = {"chronos": CHRONOS_T5_SIZES, "chronos-bolt": BOLT_SIZES}  # encoder kind → random-init sizes


def encoder_arg_problems(args: dict[str, Any]) -> list[str]:
    """Every problem with the featuriser settings in ``args`` (encoder, its size, seed, weights and tokeniser;
    cache, pooling, chunking, device), one message each; empty when all are valid."""
    problems = []
    kind, size, pretrained = args.get("encoder"), args.get("encoder_size"), args.get("pretrained")
    if kind not in FEATURE_ENCODERS:
        problems.append(f"encoder must be one of {', '.join(FEATURE_ENCODERS)}, got {kind!r}")
    elif pretrained is None and size not in FEATURE_ENCODERS[kind]:
        problems.append(f"encoder_size must be one of {', '.join(FEATURE_ENCODERS[kind])} for {kind}, got {size!r}")
    if kind == "chronos-bolt" and args.get("tokenizer") is not None:
        problems.append("tokenizer must be null with encoder=chronos-bolt (Bolt reads real values, no bins)")
    if pretrained is not None and (not isinstance(pretrained, str) or not pretrained.strip()):
        problems.append(f"pretrained must be a hub id or a directory (string) or null, got {pretrained!r}")
    if not is_int(args.get("encoder_seed")):
        problems.append(f"encoder_seed must be an integer, got {args.get('encoder_seed')!r}")
    cache = args.get("cache_dir")
    if cache is not None and (not isinstance(cache, str) or not cache.strip()):
        problems.append(f"cache_dir must be a directory path (string) or null, got {cache!r}")
    if not isinstance(args.get("include_eos"), bool):
        problems.append(f"include_eos must be true or false, got {args.get('include_eos')!r}")
    if not is_int(args.get("chunk_windows")) or args["chunk_windows"] < 1:
        problems.append(f"chunk_windows must be an integer >= 1, got {args.get('chunk_windows')!r}")
    if args.get("tokenizer") not in (None, "std_uniform", "mean_scale"):
        problems.append(f"tokenizer must be null, std_uniform or mean_scale, got {args.get('tokenizer')!r}")
    dev = args.get("device")
    if not isinstance(dev, str) or not (dev in ("auto", "cpu", "cuda") or dev.startswith("cuda:")):
        problems.append(f"device must be auto, cpu, cuda or cuda:N, got {dev!r}")
    return problems


def is_int(v: Any) -> bool:
    """An ``int`` that is not a ``bool``."""
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v: Any) -> bool:
    """A finite ``int`` or ``float`` that is not a ``bool``."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)

