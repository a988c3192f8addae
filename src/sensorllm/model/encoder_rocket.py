"""The ``rocket`` encoder: MiniRocket features of each channel, fitted on training windows, never trained.

What a frozen random-init Chronos-T5 lacks is features that separate motions; what the ``conv`` encoder needs is
enough training to learn them. MiniRocket (Dempster, Schmidt and Webb, KDD 2021) needs neither: 84 fixed
kernels of length 9 (weights -1, with +2 at three of the nine taps), each at a range of dilations, and for each
(dilation, kernel) a few biases drawn from quantiles of that convolution's output on training series. A
feature is the proportion of positive values (PPV) of ``conv(x) - bias`` over the series. A ridge classifier on
these features of every UCI-HAR channel (one shared transform, channel-agnostic as this encoder is) scores 95.5
test F1-macro (``benchmarks/rocket_probe.py``); the ``minirocket`` baseline is the multivariate version of the
same idea.

This module computes the transform in PyTorch, on the model's device, from state kept in the module's buffers
(dilations, biases, the features' training mean and standard deviation), so that a checkpoint saves it with
safetensors and the fitted transform moves with the model. The algorithm follows the paper and aeon's reference
implementation (golden-ratio quantiles, alternating zero padding); the code is this project's own. Its state
comes from :meth:`RocketEncoder.calibrate`, which ``sensorllm tune`` and ``align`` call on training series before
anything reads the encoder; an encoder that was never fitted refuses to encode.

Shape: a series of ``L`` samples (its last ``context_length``; missing samples take the mean of the observed
ones) gives :data:`ROCKET_TOKENS` tokens whatever ``L``: the 9,996 standardised features in MiniRocket's order
(dilation by dilation, fine time scales first), cut into equal slices of ``d_model = 2,499``. Dilations are
those MiniRocket fits for a series of ``context_length`` samples. Left unset (``None``), ``sensorllm tune`` and
``align`` set it from the data (the kind is registered with ``context_from_data``): the prepared window length
in Stage 2 (128 for UCI-HAR), the longest Stage-1 window in Stage 1 (200), the Stage-1 model's own in a Stage 2
that starts from one (its fit is kept); a model built in code without it reads :data:`ROCKET_DEFAULT_CONTEXT`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .encoder import EncoderConfig, SensorEncoder, register_encoder, weights_fingerprint
from .series_tokenizer import check_and_truncate

__all__ = ["ROCKET_FEATURES", "ROCKET_TOKENS", "RocketEncoder", "rocket_dilations"]

ROCKET_FEATURES = 9_996  # MiniRocket's default 10,000 rounded down to a multiple of 84
ROCKET_TOKENS = 4
ROCKET_DEFAULT_CONTEXT = 128  # context_length None outside sensorllm align/tune (which set it from the data)
MAX_DILATIONS = 32
KERNEL_LENGTH = 9
STD_FLOOR = 1e-2  # a feature that barely varies in training is not blown up by standardisation
_COMBOS = tuple(itertools.combinations(range(KERNEL_LENGTH), 3))  # 84 kernels: taps with weight +2


def rocket_dilations(length: int, features: int = ROCKET_FEATURES) -> tuple[list[int], list[int]]:
    """MiniRocket's dilations for series of ``length`` samples, and how many biases (features per kernel) each
    dilation gets: ``min(features // 84, 32)`` exponentially spaced dilations up to ``(length - 1) / 8``,
    duplicates merged, the remaining features dealt out from the smallest dilation on."""
    per_kernel = features // len(_COMBOS)
    n = min(per_kernel, MAX_DILATIONS)
    top = math.log2((length - 1) / (KERNEL_LENGTH - 1))
    dil, counts = np.unique(np.logspace(0, top, n, base=2).astype(np.int64), return_counts=True)
    counts = (counts * (per_kernel / n)).astype(np.int64)
    for i in range(int(per_kernel - counts.sum())):
        counts[i % len(counts)] += 1
    return [int(d) for d in dil], [int(c) for c in counts]


def _golden_quantiles(n: int) -> np.ndarray:
    return np.array([(i * (math.sqrt(5) + 1) / 2) % 1 for i in range(1, n + 1)], dtype=np.float64)


class RocketEncoder(SensorEncoder):
    """MiniRocket features of one channel → :data:`ROCKET_TOKENS` tokens of ``ROCKET_FEATURES / ROCKET_TOKENS``.

    Args:
        context_length: longest series read, and the length the dilations are chosen for.
        seed: which training series each (dilation, kernel)'s biases come from.
        max_series_per_call: series per call.
    """

    extra_tokens = ROCKET_TOKENS - 1  # with patch_size = context: the shared formula gives ROCKET_TOKENS for any L
    normalizes_series = False  # raw values: the zero padding at the edges keeps each channel's level
    fitted_state = True

    def __init__(self, context_length: int, seed: int, max_series_per_call: int = 256) -> None:
        super().__init__()
        if context_length < KERNEL_LENGTH + 1:
            raise ValueError(f"rocket encoder: context_length must be ≥ {KERNEL_LENGTH + 1}, got {context_length}")
        self.context_length = int(context_length)
        self.patch_size = self.context_length  # tokens are feature slices, not time patches: always ROCKET_TOKENS
        self.max_series_per_call = max_series_per_call
        self.seed = int(seed)
        self.dilations, self.per_dilation = rocket_dilations(self.context_length)
        self.d_model = ROCKET_FEATURES // ROCKET_TOKENS
        w = -torch.ones(len(_COMBOS), 1, KERNEL_LENGTH)
        for k, taps in enumerate(_COMBOS):
            w[k, 0, list(taps)] = 2.0
        self.register_buffer("kernels", w, persistent=False)
        self.register_buffer("biases", torch.zeros(ROCKET_FEATURES))
        self.register_buffer("feature_mean", torch.zeros(ROCKET_FEATURES))
        self.register_buffer("feature_std", torch.ones(ROCKET_FEATURES))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))
        self.is_random_init = True  # no pretrained weights: the fitted state lives in the checkpoint
        self.source = f"rocket:ctx{self.context_length}:seed{self.seed}"

    def _ppv(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, T)`` filled series → ``(N, ROCKET_FEATURES)`` proportions of positive values."""
        out, start = [], 0
        for j, (d, c) in enumerate(zip(self.dilations, self.per_dilation)):
            conv = self._convolutions_one(x, d)  # (N, 84, T)
            bias = self.biases[start:start + 84 * c].view(84, c).to(conv.dtype)
            # kernels alternate between the full output and the output without the padded edges
            inner = conv[..., 4 * d: conv.shape[-1] - 4 * d] if conv.shape[-1] > 8 * d else conv
            feats = torch.empty(x.shape[0], 84, c, dtype=conv.dtype, device=conv.device)
            for parity in (0, 1):
                ks = torch.arange((parity + j) % 2, 84, 2, device=conv.device)  # padding alternates per kernel
                src = conv if parity == 0 else inner
                feats[:, ks] = (src[:, ks, None, :] > bias[ks][None, :, :, None]).to(conv.dtype).mean(-1)
            out.append(feats.reshape(x.shape[0], 84 * c))
            start += 84 * c
        return torch.cat(out, dim=1)

    def _convolutions_one(self, x: torch.Tensor, d: int) -> torch.Tensor:
        return F.conv1d(x[:, None], self.kernels.to(dtype=x.dtype), padding=4 * d, dilation=d)

    @staticmethod
    def _filled(values: torch.Tensor, context_length: int) -> torch.Tensor:
        x, observed = check_and_truncate(values, context_length)  # float64; raises if a row is all missing
        mean = torch.where(observed, x, 0).sum(1, keepdim=True) / observed.sum(1, keepdim=True)
        return torch.where(observed, x, mean).float()

    def encode_values(self, values: torch.Tensor) -> torch.Tensor:
        if not bool(self.fitted):
            raise RuntimeError("the rocket encoder is not fitted: call calibrate() on training series first "
                               "(sensorllm tune/align do), or load a checkpoint that holds its state")
        x = self._filled(values, self.context_length).to(self.biases.device)
        z = (self._ppv(x) - self.feature_mean) / self.feature_std
        return z.view(x.shape[0], ROCKET_TOKENS, self.d_model)

    @torch.no_grad()
    def calibrate(self, series: Sequence[torch.Tensor]) -> bool:
        """Fit the biases (quantiles of each (dilation, kernel)'s output on one seeded training series, as
        MiniRocket) and the features' mean and standard deviation over all of ``series``. The fit happens once:
        an encoder already fitted (loaded from a checkpoint, or a Stage-2 model started from Stage 1) keeps its
        state, which what was trained on it depends on, and False is returned."""
        if bool(self.fitted):
            return False
        if not series:
            raise ValueError("rocket encoder: calibrate needs at least one training series")
        rng = np.random.default_rng([self.seed, 84])
        quantiles = _golden_quantiles(ROCKET_FEATURES)
        biases = np.zeros(ROCKET_FEATURES)
        start = 0
        for d, c in zip(self.dilations, self.per_dilation):
            for k, i in enumerate(rng.integers(len(series), size=84)):
                x = self._filled(torch.as_tensor(series[int(i)])[None], self.context_length).to(self.biases.device)
                conv = self._convolutions_one(x, d)[0, k].double().cpu().numpy()
                biases[start:start + c] = np.quantile(conv, quantiles[start:start + c])
                start += c
        self.biases.copy_(torch.as_tensor(biases, dtype=torch.float32))
        self.feature_mean.zero_()
        self.feature_std.fill_(1.0)
        self.fitted.fill_(True)
        feats = torch.stack([f.reshape(-1) for f in self.encode(series)])  # (N, ROCKET_FEATURES)
        self.feature_mean.copy_(feats.mean(0))
        self.feature_std.copy_(feats.std(0).clamp_min(STD_FLOOR) if len(feats) > 1 else torch.ones_like(feats[0]))
        self.invalidate_identity()
        return True

    def _identity_string(self) -> str:
        return f"rocket|w{weights_fingerprint(self)}|ctx{self.context_length}"


def _check_rocket(cfg: EncoderConfig) -> list[str]:
    bad = []
    if cfg.pretrained is not None:
        bad.append("it has no pretrained weights (pretrained must be null); it is fitted on training series")
    if cfg.trainable:
        bad.append("it has no weights to train (trainable must be false); its fitted state is saved anyway")
    if cfg.tokenizer is not None:
        bad.append("it reads raw values (tokenizer must be null)")
    if cfg.patch_size is not None:
        bad.append("its tokens are feature slices, not time patches (patch_size must be null)")
    return bad


@register_encoder(
    "rocket",
    description="MiniRocket features of each channel (fitted on training series, not trained), 4 tokens",
    check=_check_rocket,
    context_from_data=True,
)
def _build_rocket(cfg: EncoderConfig) -> RocketEncoder:
    return RocketEncoder(context_length=cfg.context_length or ROCKET_DEFAULT_CONTEXT, seed=cfg.seed,
                         max_series_per_call=cfg.max_series_per_call)
