"""The ``conv`` encoder: a small 1-D CNN that learns motion features from each channel, trained with the LLM.

No pretrained time-series encoder exists on a machine without a model hub, and a frozen random-init Chronos
caps what any reader of its features reaches (``docs/encoders.md``). This encoder learns instead. It reads
one channel of one window at a time, as every encoder here does, so the LLM still sees one block of tokens
per channel between ``<{channel}_start>`` and ``<{channel}_end>``.

Input features (per sample, no dataset statistics needed, so it works on any prepared data):

- ``asinh(x)``: the value itself, signed and with its offset kept (gravity tells sitting from lying), linear
  near 0 and logarithmic for large values, so that m/s² and g both stay in a trainable range;
- the series z-normalised over its observed samples: its shape, whatever its amplitude;
- the observed flag (a missing sample is 0 in the first two and 0 here).

Layers: ``len(widths)`` blocks of Conv1d ('same' padding, the dilations of ``dilations``) → BatchNorm → GELU,
with a residual connection where the widths agree (as the ``cnn1d`` baseline's trunk); then the feature maps are
mean-pooled over patches of ``P`` samples (left-padded, so that the last patch ends with the last sample; padded
positions do not count) and a linear layer maps each patch to ``d_model``. A series of ``L`` samples gives
``ceil(min(L, context) / P)`` tokens.

With ``summary_token: true`` one more token follows them: a linear map of the series' mean feature map, the
feature maps at its first and last samples, and its last − first change in both input values. It sees the whole
series at once, so it can say what no per-sample token says: where the window ends up relative to where it began
(the Stage-1 answers' "overall trend", which Stage 1's trend-token warm start teaches it,
:mod:`sensorllm.train.trend_tokens`).

Why batch normalisation: without it the GELU outputs share a large positive part in every window, so after the
projector's LayerNorm the sensor tokens barely differ from window to window (measured on the learning proxy:
their varying RMS was a fifth of Chronos-T5's and the head's loss exploded). A batch holds every channel of each
of its windows, so its statistics are those of the data. A call with fewer than ``MIN_BATCH_SERIES`` series (Stage
1, whose single-channel series are grouped by length) uses the running statistics, also in training. In eval mode
the running statistics are used; they are
calibrated on training windows before Stage 2 reads its head statistics (:meth:`ConvEncoder.calibrate`), so that
the head is standardised on the features training computes.

It has no pretrained weights: ``trainable: true`` is required, its weights are saved with the projector,
and it is never served from the embedding cache.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .encoder import CHRONOS_T5_SIZES, EncoderConfig, SensorEncoder, register_encoder, weights_fingerprint
from .encoder_raw import RAW_DEFAULT_CONTEXT, check_untrained_kind, znormalise
from .series_tokenizer import check_and_truncate

__all__ = ["CONV_DEFAULT_PATCH", "CONV_WIDTHS", "CONV_KERNELS", "CONV_DILATIONS", "ConvEncoder", "conv_features"]

CONV_DEFAULT_PATCH = 16
CONV_WIDTHS = (64, 128, 128)
CONV_KERNELS = (7, 5, 3)
CONV_DILATIONS = (1, 2, 4)
IN_FEATURES = 3
SUMMARY_CHANGES = 2  # last − first of the level and of the shape input
MIN_BATCH_SERIES = 8  # fewer series in one call: batch norm uses its running statistics, also in training
CALIBRATION_LENGTH = 64  # series of unequal lengths are cut to their last samples for calibration


def conv_features(x: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
    """``(N, T)`` values and observed flags → ``(N, 3, T)`` input features (see the module docstring)."""
    level = torch.where(observed, torch.asinh(torch.nan_to_num(x)), torch.zeros_like(x))
    shape = znormalise(x, observed)
    return torch.stack([level, shape, observed.to(x.dtype)], dim=1)


class ConvEncoder(SensorEncoder):
    """Per-channel 1-D CNN → one token per patch of ``patch_size`` samples.

    Args:
        d_model: output width (the projector's input).
        patch_size: samples per token ``P``.
        context_length: longest series read (longer ones keep their last samples).
        seed: seed of the initialisation (PyTorch's default init, drawn from this seed).
        widths, kernels, dilations: the conv blocks.
        max_series_per_call: series per call.
        summary_token: append one token computed from the whole series (module docstring).
    """

    extra_tokens = 0
    normalizes_series = False  # asinh(x) keeps each channel's level

    def __init__(
        self, d_model: int, patch_size: int, context_length: int, seed: int,
        widths: tuple[int, ...] = CONV_WIDTHS, kernels: tuple[int, ...] = CONV_KERNELS,
        dilations: tuple[int, ...] = CONV_DILATIONS, max_series_per_call: int = 256, summary_token: bool = False,
    ) -> None:
        super().__init__()
        if not (len(widths) == len(kernels) == len(dilations)) or not widths:
            raise ValueError(f"widths {widths}, kernels {kernels} and dilations {dilations} must be non-empty "
                             "and of equal length")
        self.d_model, self.patch_size = int(d_model), int(patch_size)
        self.context_length = int(context_length)
        self.max_series_per_call = max_series_per_call
        fork = torch.random.fork_rng(devices=[])
        with fork:
            torch.manual_seed(seed)
            cin = IN_FEATURES
            self.convs = nn.ModuleList()
            self.norms = nn.ModuleList()
            for w, k, d in zip(widths, kernels, dilations):
                self.convs.append(nn.Conv1d(cin, w, k, padding="same", dilation=d, bias=False))
                self.norms.append(nn.BatchNorm1d(w))
                cin = w
            self.out = nn.Linear(cin, d_model)
            # drawn after the layers above, so that they are the same with or without it
            self.summary = nn.Linear(3 * cin + SUMMARY_CHANGES, d_model) if summary_token else None
        self.extra_tokens = 1 if summary_token else 0
        self.summary_token = bool(summary_token)
        self.is_random_init = True  # no pretrained weights: the trained ones live in the checkpoint
        self.source = (f"conv:P{patch_size}:{'-'.join(map(str, widths))}:d{d_model}:seed{seed}"
                       + (":summary" if summary_token else ""))

    def encode_values(self, values: torch.Tensor) -> torch.Tensor:
        x, observed = check_and_truncate(values, self.context_length)  # (N, T') float64; raises if all-NaN
        w = self.out.weight
        h = inputs = conv_features(x, observed).to(device=w.device, dtype=w.dtype)  # (N, 3, T)
        # batch statistics need a batch: a call with few series (Stage 1 groups series by length) uses the
        # running statistics even in training
        batch_stats = self.training and h.shape[0] >= MIN_BATCH_SERIES
        for conv, norm in zip(self.convs, self.norms):
            factor = 0.0
            if batch_stats:  # as nn.BatchNorm1d: momentum None = a plain average over the batches seen
                norm.num_batches_tracked.add_(1)
                factor = 1.0 / float(norm.num_batches_tracked) if norm.momentum is None else norm.momentum
            y = F.gelu(F.batch_norm(conv(h), norm.running_mean, norm.running_var, norm.weight, norm.bias,
                                    training=batch_stats, momentum=factor, eps=norm.eps))
            h = y + h if y.shape == h.shape else y
        summary = None
        if self.summary is not None:
            weight = observed.to(device=w.device, dtype=w.dtype).unsqueeze(1)  # (N, 1, T)
            mean = (h * weight).sum(-1) / weight.sum(-1).clamp_min(1.0)
            change = inputs[:, :SUMMARY_CHANGES, -1] - inputs[:, :SUMMARY_CHANGES, 0]  # level and shape
            summary = self.summary(torch.cat([mean, h[..., 0], h[..., -1], change], dim=1)).unsqueeze(1)
        pad = (-h.shape[-1]) % self.patch_size
        keep = F.pad(torch.ones_like(h[:, :1]), (pad, 0))  # (N, 1, T + pad): 0 on the padding
        h = F.pad(h, (pad, 0))
        n, c, t = h.shape
        sums = h.reshape(n, c, t // self.patch_size, self.patch_size).sum(-1)
        counts = keep.reshape(n, 1, t // self.patch_size, self.patch_size).sum(-1)
        pooled = (sums / counts).transpose(1, 2)  # (N, n_patches, C)
        tokens = self.out(pooled)  # (N, n_patches, d_model)
        if summary is not None:
            tokens = torch.cat([tokens, summary], dim=1)
        return tokens.float()

    @torch.no_grad()
    def calibrate(self, series: Sequence[torch.Tensor]) -> bool:
        """Set the batch-norm running statistics from training ``series``: they are reset, then computed in one
        pass with batch statistics, as training computes them. Series of unequal lengths (Stage 1) are cut to
        their last :data:`CALIBRATION_LENGTH` samples first (shorter ones are left out, unless all are shorter),
        so that the statistics come from one large batch instead of many small groups of equal length.
        Train/eval mode and momenta are restored afterwards."""
        lengths = {int(s.shape[0]) for s in series}
        if len(lengths) > 1:
            cut = min(CALIBRATION_LENGTH, max(lengths))
            series = [s[-cut:] for s in series if s.shape[0] >= cut]
        mode = self.training
        momenta = [n.momentum for n in self.norms]
        for n in self.norms:
            n.reset_running_stats()
            n.momentum = None  # a plain average over the calls of this pass
        self.train()
        try:
            self.encode(series)
        finally:
            for n, mom in zip(self.norms, momenta):
                n.momentum = mom
            self.train(mode)
            self.invalidate_identity()
        return True

    def _identity_string(self) -> str:
        return (f"conv|w{weights_fingerprint(self)}|ctx{self.context_length}|patch{self.patch_size}"
                + ("|summary" if self.summary is not None else ""))


def _check_conv(cfg: EncoderConfig) -> list[str]:
    return check_untrained_kind(cfg, "conv", "CNN")


@register_encoder(
    "conv",
    description="a small 1-D CNN per channel (asinh level + shape), one token per 16-sample patch; trainable",
    check=_check_conv,
    summary_token=True,
)
def _build_conv(cfg: EncoderConfig) -> ConvEncoder:
    return ConvEncoder(
        d_model=CHRONOS_T5_SIZES[cfg.size]["d_model"],
        patch_size=cfg.patch_size or CONV_DEFAULT_PATCH,
        context_length=cfg.context_length or RAW_DEFAULT_CONTEXT,
        seed=cfg.seed,
        max_series_per_call=cfg.max_series_per_call,
        summary_token=cfg.summary_token,
    )
