"""The torch HAR baselines. Every net maps a batch of windows ``(B, L, C)`` to logits ``(B, K)``.

Each net is a :class:`HARNet`: ``forward_features(x) -> (B, D)`` gives the embedding the head reads (used by
the centre loss), ``forward_head(z) -> (B, K)`` the logits. Inputs are expected standardised per channel (the
training loop wraps the net in :class:`Standardized`, whose buffers hold the train-set mean and std).
:class:`Standardized` is also what a run keeps (:meth:`Standardized.save`, :meth:`Standardized.load`) and the
:class:`~sensorllm.classifier.Classifier` that inference uses (softmax of the logits).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sensorllm.classifier import Classifier, scatter_classes, softmax

__all__ = [
    "HARNet",
    "Standardized",
    "DeepConvLSTM",
    "DeepConvLSTMAttn",
    "AttendDiscriminate",
    "CNN1D",
    "count_trainable",
]

Padding = Literal["valid", "same"]


def count_trainable(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


class HARNet(nn.Module):
    """Base class: ``forward(x) = forward_head(forward_features(x))``."""

    @classmethod
    def check_model_args(cls, args: dict) -> None:
        """Model arguments are checked by the constructor (nothing to check before the data is read)."""

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:  # (B, L, C) -> (B, D)
        raise NotImplementedError

    def forward_head(self, z: torch.Tensor) -> torch.Tensor:  # (B, D) -> (B, K)
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


class Standardized(HARNet, Classifier):
    """``net((x - mean) / std)`` with per-channel ``mean``/``std`` buffers (saved with the weights).

    ``metadata``: the safetensors metadata :meth:`save` writes (the baseline's name and model arguments). As a
    :class:`~sensorllm.classifier.Classifier`, :meth:`predict_proba` is the softmax of the logits (windows cast
    to float32, as the prepared windows the net trained on are)."""

    default_batch_size = 512

    def __init__(self, net: HARNet, mean: Sequence[float], std: Sequence[float],
                 metadata: dict[str, str] | None = None):
        super().__init__()
        self.net = net
        self.metadata = dict(metadata or {})
        self.register_buffer("norm_mean", torch.as_tensor(mean, dtype=torch.float32).reshape(1, 1, -1))
        self.register_buffer("norm_std", torch.as_tensor(std, dtype=torch.float32).reshape(1, 1, -1))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.forward_features((x - self.norm_mean) / self.norm_std)

    def forward_head(self, z: torch.Tensor) -> torch.Tensor:
        return self.net.forward_head(z)

    def predict_proba(self, windows: np.ndarray, indices: Sequence[int] | None = None,
                      batch_size: int | None = None) -> np.ndarray:
        return self.window_proba(windows, lambda w, k: self._proba(w, k, batch_size))

    def _proba(self, w: np.ndarray, k: int, batch_size: int | None) -> np.ndarray:
        """Softmax of the logits of float32 windows ``w`` ``(N, L, C)``, ``N ≥ 1``, in batches → ``(N, k)``."""
        bs = int(batch_size or self.default_batch_size)
        dev = next(self.parameters()).device
        out = []
        with torch.inference_mode():
            for a in range(0, len(w), bs):
                out.append(self(torch.from_numpy(w[a:a + bs]).to(dev)).float().cpu().numpy())
        p = softmax(np.concatenate(out).astype(np.float64))
        return p if p.shape[1] == k else scatter_classes(p, range(p.shape[1]), k)

    def save(self, path: str | Path) -> None:
        """Write the weights (CPU copies of the state dict) and :attr:`metadata` to ``path`` (safetensors)."""
        from safetensors.torch import save_file

        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(path), metadata=self.metadata)

    @classmethod
    def load(cls, path: str | Path, net: HARNet, num_channels: int, device=None) -> Standardized:
        """``net`` (built with the run's model arguments) with the weights :meth:`save` wrote, loaded strictly, in
        eval mode, on ``device`` (a ``torch.device``; ``None``: the CPU)."""
        from safetensors.torch import load_file

        model = cls(net, np.zeros(num_channels), np.ones(num_channels))
        model.load_state_dict(load_file(str(path)), strict=True)
        if device is not None:
            model.to(device)
        return model.eval()


def _check_input(x: torch.Tensor, num_channels: int) -> None:
    if x.ndim != 3 or x.shape[-1] != num_channels:
        raise ValueError(f"expected windows of shape (B, L, {num_channels}), got {tuple(x.shape)}")


class TemporalConvStack(nn.Module):
    """``layers`` 2-D convolutions with kernel ``(kernel, 1)``: filters slide along time, each sensor channel
    separately with shared weights (as in DeepConvLSTM). ``(B, L, C) -> (B, filters, L', C)``; with
    ``padding="valid"`` ``L' = L - layers * (kernel - 1)``, with ``"same"`` ``L' = L``."""

    def __init__(self, layers: int = 4, filters: int = 64, kernel: int = 5, padding: Padding = "valid"):
        super().__init__()
        if padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid' or 'same', not {padding!r}")
        self.convs = nn.ModuleList(
            nn.Conv2d(1 if i == 0 else filters, filters, (kernel, 1), padding=padding) for i in range(layers)
        )
        self.shrink = 0 if padding == "same" else layers * (kernel - 1)

    def out_len(self, window: int, name: str) -> int:
        out = window - self.shrink
        if out < 1:
            raise ValueError(f"{name}: windows of {window} samples are too short for {len(self.convs)} "
                             f"'valid' convolutions (need > {self.shrink}); pass padding='same'")
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.unsqueeze(1)  # (B, 1, L, C)
        for conv in self.convs:
            h = F.relu(conv(h))
        return h  # (B, F, L', C)


def _time_major(h: torch.Tensor) -> torch.Tensor:
    """``(B, F, T, C) -> (B, T, C*F)``: the per-time-step feature vector fed to a recurrent layer."""
    b, f, t, c = h.shape
    return h.permute(0, 2, 3, 1).reshape(b, t, c * f)


class DeepConvLSTM(HARNet):
    """Ordóñez & Roggen (2016): 4 temporal convolutions (64 filters, kernel 5, ReLU, no padding) applied to
    every sensor channel, the feature maps of all channels concatenated per time step, 2 LSTM layers of 128
    units, and a linear classifier on the last time step. Dropout 0.5 between the LSTM layers and before the
    head."""

    def __init__(self, num_channels: int, window: int, num_classes: int, *, filters: int = 64,
                 kernel: int = 5, conv_layers: int = 4, hidden: int = 128, lstm_layers: int = 2,
                 dropout: float = 0.5, padding: Padding = "valid"):
        super().__init__()
        self.num_channels = num_channels
        self.convs = TemporalConvStack(conv_layers, filters, kernel, padding)
        self.convs.out_len(window, type(self).__name__)
        self.lstm = nn.LSTM(num_channels * filters, hidden, lstm_layers, batch_first=True,
                            dropout=dropout if lstm_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, num_classes)

    def sequence(self, x: torch.Tensor) -> torch.Tensor:
        """LSTM outputs ``(B, L', hidden)``."""
        _check_input(x, self.num_channels)
        out, _ = self.lstm(_time_major(self.convs(x)))
        return out

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.sequence(x)[:, -1]

    def forward_head(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(z))


class DeepConvLSTMAttn(DeepConvLSTM):
    """DeepConvLSTM with temporal attention over the LSTM outputs (after Murahari & Plötz, 2018).

    Additive attention scored against the last hidden state: ``e_t = v^T tanh(W h_t + U h_T)``,
    ``a = softmax_t(e)``, context ``c = sum_t a_t h_t``; the embedding is ``tanh(W_c [c; h_T])``.
    """

    def __init__(self, num_channels: int, window: int, num_classes: int, *, filters: int = 64,
                 kernel: int = 5, conv_layers: int = 4, hidden: int = 128, lstm_layers: int = 2,
                 dropout: float = 0.5, padding: Padding = "valid", attn_dim: int = 128):
        super().__init__(num_channels, window, num_classes, filters=filters, kernel=kernel,
                         conv_layers=conv_layers, hidden=hidden, lstm_layers=lstm_layers, dropout=dropout,
                         padding=padding)
        hidden = self.lstm.hidden_size
        self.attn_w = nn.Linear(hidden, attn_dim, bias=True)
        self.attn_u = nn.Linear(hidden, attn_dim, bias=False)
        self.attn_v = nn.Linear(attn_dim, 1, bias=False)
        self.combine = nn.Linear(2 * hidden, hidden)

    def attention(self, h: torch.Tensor) -> torch.Tensor:
        """Attention weights ``(B, T)`` over the LSTM outputs ``h`` ``(B, T, H)``."""
        last = h[:, -1:]  # (B, 1, H)
        scores = self.attn_v(torch.tanh(self.attn_w(h) + self.attn_u(last))).squeeze(-1)  # (B, T)
        return scores.softmax(dim=1)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        h = self.sequence(x)  # (B, T, H)
        a = self.attention(h)
        context = torch.einsum("bt,bth->bh", a, h)
        return torch.tanh(self.combine(torch.cat([context, h[:, -1]], dim=-1)))


class ChannelSelfAttention(nn.Module):
    """Self-attention across sensor channels at every time step (the cross-channel interaction encoder of
    Attend-and-Discriminate). For each time step the ``C`` channel feature vectors (dim ``F``) attend to each
    other: ``y = x + gamma * softmax(q k^T) v`` with ``q, k`` of dim ``F // div`` and ``gamma`` starting at 0,
    so the block starts as the identity. ``(B, F, T, C) -> (B, F, T, C)``."""

    def __init__(self, features: int, div: int = 1):
        super().__init__()
        d = max(1, features // div)
        self.q = nn.Linear(features, d, bias=False)
        self.k = nn.Linear(features, d, bias=False)
        self.v = nn.Linear(features, features, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        x = h.permute(0, 2, 3, 1)  # (B, T, C, F)
        attn = torch.softmax(self.q(x) @ self.k(x).transpose(-1, -2), dim=-1)  # (B, T, C, C)
        y = x + self.gamma * (attn @ self.v(x))
        return y.permute(0, 3, 1, 2)


class AttendDiscriminate(HARNet):
    """Attend-and-Discriminate (Abedin et al., 2021), as described in the paper and its settings: 4 temporal
    convolutions (64 filters, kernel 5) per channel, self-attention across channels at each time step,
    dropout, a 2-layer GRU of 128 units, temporal attention pooling (``a = softmax_t(w^T h_t)``,
    ``z = sum_t a_t h_t``), dropout and a linear classifier. The centre loss (on the L2-normalised
    embedding) and mixup are applied by the training loop (``center_loss``, ``mixup_alpha``)."""

    def __init__(self, num_channels: int, window: int, num_classes: int, *, filters: int = 64,
                 kernel: int = 5, conv_layers: int = 4, hidden: int = 128, gru_layers: int = 2,
                 attn_div: int = 1, dropout: float = 0.5, dropout_rnn: float = 0.25, dropout_cls: float = 0.5,
                 padding: Padding = "valid"):
        super().__init__()
        self.num_channels = num_channels
        self.convs = TemporalConvStack(conv_layers, filters, kernel, padding)
        self.convs.out_len(window, type(self).__name__)
        self.channel_attn = ChannelSelfAttention(filters, attn_div)
        self.dropout = nn.Dropout(dropout)
        self.gru = nn.GRU(num_channels * filters, hidden, gru_layers, batch_first=True,
                          dropout=dropout_rnn if gru_layers > 1 else 0.0)
        self.temporal_score = nn.Linear(hidden, 1)
        self.dropout_cls = nn.Dropout(dropout_cls)
        self.head = nn.Linear(hidden, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.num_channels)
        h = self.channel_attn(self.convs(x))  # (B, F, T, C)
        out, _ = self.gru(self.dropout(_time_major(h)))  # (B, T, H)
        a = self.temporal_score(out).softmax(dim=1)  # (B, T, 1)
        return (a * out).sum(dim=1)

    def forward_head(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout_cls(z))


class CNN1D(HARNet):
    """A plain 1-D CNN over time with the channels as input features: blocks of Conv1d ('same' padding) →
    BatchNorm → ReLU, global average pooling over time, dropout and a linear classifier."""

    def __init__(self, num_channels: int, window: int, num_classes: int, *,
                 widths: Sequence[int] = (64, 128, 128), kernels: Sequence[int] = (7, 5, 3),
                 dropout: float = 0.3):
        super().__init__()
        if len(widths) != len(kernels) or not widths:
            raise ValueError(f"widths {list(widths)} and kernels {list(kernels)} must be non-empty and of "
                             "equal length")
        self.num_channels = num_channels
        blocks: list[nn.Module] = []
        cin = num_channels
        for w, k in zip(widths, kernels):
            blocks += [nn.Conv1d(cin, w, k, padding="same", bias=False), nn.BatchNorm1d(w), nn.ReLU()]
            cin = w
        self.body = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(cin, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.num_channels)
        return self.body(x.transpose(1, 2)).mean(dim=-1)  # (B, C, L) -> (B, W, L) -> (B, W)

    def forward_head(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(z))
