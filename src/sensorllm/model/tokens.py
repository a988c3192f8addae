"""Special tokens for sensor data in any Hugging Face tokenizer / causal LM.

Tokens added (``add_tokens(..., special_tokens=True)``, in this order):

- ``<ts>``: one placeholder per sensor embedding; its rows are *replaced* by projected sensor
  embeddings before the LLM sees them, so its embedding row is never used;
- ``<{channel}_start>`` / ``<{channel}_end>`` for every channel (names from ``ChannelSpec.name``);
- a pad token (``<pad>``) only when the tokenizer has none.

New rows of the input embedding matrix (and of an untied output matrix) are set to the mean of the
tokenizer's original rows. Training is restricted to the start/end rows by a gradient mask: the whole
embedding matrix gets ``requires_grad=True`` and a hook multiplies its gradient by a 0/1 row mask, so
an optimiser step (with weight decay 0 on this matrix — see ``SensorLLM.param_groups``) changes only
those rows.

Tied input/output embeddings (SmolLM2, GPT-2): the matrix is one parameter, so the start/end rows are
also the output (``lm_head``) rows of those tokens. Their gradient then has an output-side term too
(it lowers the probability of emitting a channel token, which never is a target); no other row changes.
Untied models (Llama-3-8B, as the paper) keep ``lm_head`` frozen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

__all__ = [
    "DEFAULT_PAD_TOKEN",
    "TS_TOKEN",
    "TokenLayout",
    "TokenRowMask",
    "add_sensor_tokens",
    "channel_token_strings",
    "embeddings_are_tied",
    "init_new_token_rows",
]

TS_TOKEN = "<ts>"
DEFAULT_PAD_TOKEN = "<pad>"


def channel_token_strings(name: str) -> tuple[str, str]:
    """``(<name_start>, <name_end>)`` — the same strings as ``ChannelSpec.start_token`` / ``end_token``."""
    if not name or any(ch in name for ch in "<> \t\n"):
        raise ValueError(f"bad channel name {name!r}: must be non-empty without '<', '>' or whitespace")
    return f"<{name}_start>", f"<{name}_end>"


@dataclass(frozen=True)
class TokenLayout:
    """Where the sensor tokens live in the vocabulary.

    Attributes:
        ts_token / ts_id: the placeholder.
        channels: channel name → ``(start_id, end_id)``, in channel order.
        channel_tokens: channel name → ``(start string, end string)``.
        pad_id: the tokenizer's pad id (added when missing).
        added_ids: ids that were new to the tokenizer (their rows were mean-initialised).
        base_vocab: ``len(tokenizer)`` before anything was added.
    """

    ts_token: str
    ts_id: int
    channels: dict[str, tuple[int, int]]
    channel_tokens: dict[str, tuple[str, str]]
    pad_id: int
    added_ids: tuple[int, ...]
    base_vocab: int

    @property
    def channel_names(self) -> list[str]:
        return list(self.channels)

    @property
    def trainable_ids(self) -> tuple[int, ...]:
        """The start/end ids: the only embedding rows that train."""
        return tuple(i for pair in self.channels.values() for i in pair)

    def start_to_channel(self) -> dict[int, str]:
        return {s: name for name, (s, _) in self.channels.items()}

    def to_json(self) -> dict:
        return {
            "ts_token": self.ts_token,
            "ts_id": self.ts_id,
            "channels": {k: list(v) for k, v in self.channels.items()},
            "channel_tokens": {k: list(v) for k, v in self.channel_tokens.items()},
            "pad_id": self.pad_id,
            "added_ids": list(self.added_ids),
            "base_vocab": self.base_vocab,
        }


def add_sensor_tokens(
    tokenizer,  # transformers.PreTrainedTokenizerBase
    channel_names: Sequence[str],
    ts_token: str = TS_TOKEN,
    pad_token: str = DEFAULT_PAD_TOKEN,
) -> TokenLayout:
    """Add ``<ts>``, the channels' start/end tokens and (if missing) a pad token to ``tokenizer``.

    Tokens already in the vocabulary are reused, not re-added. Each token must encode to exactly one id
    afterwards (checked).

    Returns:
        The :class:`TokenLayout`; resize and initialise the LLM with :func:`init_new_token_rows`.
    """
    from transformers import AddedToken

    if len(set(channel_names)) != len(channel_names):
        raise ValueError(f"duplicate channel names: {list(channel_names)}")
    base_vocab = len(tokenizer)
    strings = [ts_token]
    pairs = {name: channel_token_strings(name) for name in channel_names}
    for s, e in pairs.values():
        strings += [s, e]
    vocab = tokenizer.get_vocab()
    new = [s for s in strings if s not in vocab]
    if new:
        tokenizer.add_tokens(
            [AddedToken(s, special=True, normalized=False, lstrip=False, rstrip=False) for s in new],
            special_tokens=True,
        )
    if tokenizer.pad_token is None:
        tokenizer.add_special_tokens({"pad_token": pad_token})

    def one_id(tok: str) -> int:
        ids = tokenizer.encode(tok, add_special_tokens=False)
        if len(ids) != 1:
            raise RuntimeError(f"token {tok!r} encodes to {ids}, expected a single id")
        return ids[0]

    layout = TokenLayout(
        ts_token=ts_token,
        ts_id=one_id(ts_token),
        channels={name: (one_id(s), one_id(e)) for name, (s, e) in pairs.items()},
        channel_tokens=dict(pairs),
        pad_id=int(tokenizer.pad_token_id),
        added_ids=tuple(range(base_vocab, len(tokenizer))),
        base_vocab=base_vocab,
    )
    return layout


def embeddings_are_tied(llm: nn.Module) -> bool:
    """True when the output projection shares the input embedding parameter."""
    out = llm.get_output_embeddings()
    return out is not None and out.weight is llm.get_input_embeddings().weight


@torch.no_grad()
def init_new_token_rows(llm: nn.Module, tokenizer, layout: TokenLayout) -> None:
    """Grow the embedding matrices to ``len(tokenizer)`` if needed and mean-initialise the added rows.

    The mean is over the first ``layout.base_vocab`` rows (the tokenizer's original tokens, ignoring any
    padding rows a checkpoint may carry). Output rows are initialised too when untied.
    """
    n = len(tokenizer)
    if llm.get_input_embeddings().weight.shape[0] < n:
        llm.resize_token_embeddings(n, mean_resizing=False)
    if not layout.added_ids:
        return
    ids = torch.tensor(layout.added_ids)
    matrices = [llm.get_input_embeddings().weight]
    if not embeddings_are_tied(llm) and llm.get_output_embeddings() is not None:
        matrices.append(llm.get_output_embeddings().weight)
    for w in matrices:
        mean = w[: layout.base_vocab].float().mean(dim=0).to(w.dtype)
        w[ids.to(w.device)] = mean


class TokenRowMask:
    """Gradient mask on the input embedding matrix: only the given rows receive gradient.

    Args:
        embedding: the LLM's input ``nn.Embedding``.
        row_ids: rows allowed to train (the channel start/end ids).
    """

    def __init__(self, embedding: nn.Embedding, row_ids: Sequence[int]) -> None:
        self.embedding = embedding
        self.row_ids = tuple(int(i) for i in row_ids)
        self._handle: torch.utils.hooks.RemovableHandle | None = None
        self._mask: torch.Tensor | None = None

    @property
    def enabled(self) -> bool:
        return self._handle is not None

    def _apply(self, grad: torch.Tensor) -> torch.Tensor:
        if self._mask is None or self._mask.device != grad.device or self._mask.dtype != grad.dtype:
            mask = torch.zeros(grad.shape[0], 1, dtype=grad.dtype, device=grad.device)
            mask[list(self.row_ids)] = 1
            self._mask = mask
        return grad * self._mask

    def enable(self) -> None:
        """Make the matrix trainable with the mask in place (idempotent)."""
        if self._handle is None:
            w = self.embedding.weight
            w.requires_grad_(True)
            self._handle = w.register_hook(self._apply)

    def disable(self) -> None:
        """Remove the mask and freeze the matrix again."""
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
        self.embedding.weight.requires_grad_(False)
