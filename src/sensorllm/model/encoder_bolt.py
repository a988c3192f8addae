"""The ``chronos-bolt`` encoder: the encoder half of a Chronos-Bolt model, one embedding per patch.

Chronos-Bolt (``chronos.chronos_bolt.ChronosBoltModelForForecasting``) reads real values, not token ids:
it standardises each series (``InstanceNorm``: nan-mean and population std, so levels and scales are
removed as by the paper's z-normalising tokeniser), cuts it into non-overlapping patches of
``input_patch_size`` samples (left-padded with NaN to a whole number of patches), embeds
``[patch values, patch mask]`` with a residual MLP, appends a learned ``[REG]`` embedding when
``use_reg_token`` is set, and runs a T5 encoder stack. We call the model's own ``encode`` and keep its
``last_hidden_state``, so a series of ``L`` samples gives ``ceil(min(L, context) / patch) + reg`` tokens.

The decoder and the quantile head are removed after construction: they are never used for embeddings, and
keeping them would put unused weights into the identity hash and into checkpoints of a trainable encoder.
"""

from __future__ import annotations

import torch
from torch import nn

from .encoder import EncoderConfig, SensorEncoder, register_encoder, weights_fingerprint
from .encoder_chronos import t5_shape_kwargs
from .series_tokenizer import check_and_truncate

__all__ = ["BOLT_DEFAULT_CONTEXT", "BOLT_DEFAULT_PATCH", "BOLT_SIZES", "ChronosBoltEncoder"]

BOLT_SIZES = ("tiny", "mini", "small", "base")  # the published Chronos-Bolt sizes (shapes as Chronos-T5)
BOLT_DEFAULT_PATCH = 16  # the published models' input_patch_size (= stride)
BOLT_DEFAULT_CONTEXT = 512  # random init: the same context as the Chronos-T5 encoder here
_QUANTILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


class ChronosBoltEncoder(SensorEncoder):
    """The encoder of a Chronos-Bolt model.

    Args:
        bolt: a ``ChronosBoltModelForForecasting`` (its decoder and output head are dropped here).
        context_length: longest series read (≤ the model's own context).
        source: where the weights came from.
        is_random_init: whether they are random.
        max_series_per_call: series per encoder call.
    """

    def __init__(
        self,
        bolt: nn.Module,
        context_length: int,
        source: str,
        is_random_init: bool,
        max_series_per_call: int,
    ) -> None:
        super().__init__()
        cc = bolt.chronos_config
        if cc.input_patch_stride != cc.input_patch_size:
            raise ValueError(
                f"{source}: patch stride {cc.input_patch_stride} ≠ patch size {cc.input_patch_size}; only "
                "non-overlapping patches (all published Chronos-Bolt models) are supported"
            )
        if context_length > cc.context_length:
            raise ValueError(
                f"{source}: context_length {context_length} exceeds the model's {cc.context_length}"
            )
        bolt.decoder = None  # unused for embeddings (see the module docstring)
        bolt.output_patch_embedding = None
        self.bolt = bolt
        self.d_model = int(bolt.config.d_model)
        self.context_length = int(context_length)
        self.patch_size = int(cc.input_patch_size)
        self.extra_tokens = 1 if cc.use_reg_token else 0
        self.source = source
        self.is_random_init = is_random_init
        self.max_series_per_call = max_series_per_call

    def encode_values(self, values: torch.Tensor) -> torch.Tensor:
        x, observed = check_and_truncate(values, self.context_length)  # (N, T') float64; raises if all-NaN
        x = torch.where(observed, x, torch.full_like(x, float("nan"))).to(torch.float32)
        device = next(self.bolt.parameters()).device
        hidden = self.bolt.encode(context=x.to(device))[0]  # (N, ceil(T'/P) [+1 REG], d)
        return hidden.float()

    def _identity_string(self) -> str:
        return (
            f"chronos-bolt|w{weights_fingerprint(self.bolt)}|ctx{self.context_length}|"
            f"patch{self.patch_size}|reg{self.extra_tokens}"
        )


def _random_bolt(cfg: EncoderConfig) -> ChronosBoltEncoder:
    from chronos.chronos_bolt import ChronosBoltModelForForecasting
    from transformers import T5Config

    context = cfg.context_length or BOLT_DEFAULT_CONTEXT
    patch = cfg.patch_size or BOLT_DEFAULT_PATCH
    t5_cfg = T5Config(
        **t5_shape_kwargs(cfg.size),
        chronos_config={
            "context_length": context,
            "prediction_length": 64,
            "input_patch_size": patch,
            "input_patch_stride": patch,
            "quantiles": _QUANTILES,
            "use_reg_token": True,  # as the published models
        },
    )
    torch.manual_seed(cfg.seed)
    model = ChronosBoltModelForForecasting(t5_cfg).eval()
    return ChronosBoltEncoder(
        model,
        context,
        source=f"random:chronos-bolt-{cfg.size}:seed{cfg.seed}",
        is_random_init=True,
        max_series_per_call=cfg.max_series_per_call,
    )


def _pretrained_bolt(cfg: EncoderConfig) -> ChronosBoltEncoder:
    from chronos import ChronosBoltPipeline
    from transformers import AutoConfig

    assert cfg.pretrained is not None
    block = getattr(AutoConfig.from_pretrained(cfg.pretrained), "chronos_config", None)
    if block is None:
        raise ValueError(f"{cfg.pretrained} is not a Chronos model (its config.json has no chronos_config)")
    if "input_patch_size" not in block:
        raise ValueError(
            f"{cfg.pretrained} is not a Chronos-Bolt model (use encoder.kind=chronos for Chronos-T5)"
        )
    model = ChronosBoltPipeline.from_pretrained(cfg.pretrained).model.float()
    cc = model.chronos_config
    if cfg.patch_size is not None and cfg.patch_size != cc.input_patch_size:
        raise ValueError(
            f"{cfg.pretrained} was trained with patches of {cc.input_patch_size} samples; "
            f"encoder.patch_size={cfg.patch_size} cannot change that (leave it unset)"
        )
    return ChronosBoltEncoder(
        model.eval(),
        cfg.context_length or int(cc.context_length),
        source=str(cfg.pretrained),
        is_random_init=False,
        max_series_per_call=cfg.max_series_per_call,
    )


def _check_bolt(cfg: EncoderConfig) -> list[str]:
    problems = []
    if cfg.pretrained is None and cfg.size not in BOLT_SIZES:
        problems.append(f"Unknown Chronos-Bolt size {cfg.size!r}. Known: {', '.join(BOLT_SIZES)}")
    if cfg.tokenizer is not None:
        problems.append(
            "Chronos-Bolt reads real values (no tokenizer): remove encoder.tokenizer; "
            "the context is encoder.context_length"
        )
    return problems


@register_encoder(
    "chronos-bolt",
    description="Chronos-Bolt encoder: one token per patch of 16 samples + REG; frozen by default",
    check=_check_bolt,
)
def _build_bolt(cfg: EncoderConfig) -> ChronosBoltEncoder:
    return _pretrained_bolt(cfg) if cfg.pretrained is not None else _random_bolt(cfg)
