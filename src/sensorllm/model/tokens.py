"""Special tokens for sensor data in any Hugging Face tokenizer / causal LM.

Tokens added (``add_tokens(..., special_tokens=True)``, in this order):

- ``<ts>``: one placeholder per sensor embedding; its rows are *replaced* by projected sensor
  embeddings before the LLM sees them, so its embedding row is never used;
- ``<{channel}_start>`` / ``<{channel}_end>`` for every channel (names from ``ChannelSpec.name``);
- a pad token (``<pad>``) only when the tokenizer has none.

New rows of the input embedding matrix (and of an untied output matrix) are set to the mean of the
tokenizer's original rows. Only the start/end rows train, and only they are in the optimiser:
:class:`TokenRows` holds them as a small parameter of their own (``(2C, H)``, not the ``(V, H)`` matrix), the
input embeddings of those tokens are read from it, and the matrix stays frozen; its copy of the rows is
refreshed from the parameter before generation, before saving and when the rows stop training.

Tied input/output embeddings (SmolLM2, GPT-2): the output (``lm_head``) rows of the start/end tokens are the
matrix rows, so they take the trained input rows' values when those are written back, and get no gradient
of their own from the output side
(the paper's code, with the whole tied matrix trainable, gave them one: it lowers the probability of emitting
a channel token, which never is a target; ``docs/deviations.md``). Untied models (Llama-3-8B, as the paper)
keep ``lm_head`` frozen.
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
    "TokenRows",
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


class TokenRows(nn.Module):
    """The trainable start/end rows of the LLM's input embedding matrix, as a parameter ``rows`` of their own.

    The matrix itself never trains: :meth:`apply` puts the rows into the token embeddings of a batch (so the
    gradient reaches ``rows`` only, and the optimiser holds ``len(row_ids) × H`` values instead of ``V × H``),
    and :meth:`push` copies them into the matrix, where generation, a tied output layer and checkpoints read
    them. :meth:`pull` copies the matrix's rows into ``rows`` (after loading a checkpoint).

    Args:
        embedding: the LLM's input ``nn.Embedding`` (not registered here: the LLM owns it).
        row_ids: rows allowed to train (the channel start/end ids).
    """

    def __init__(self, embedding: nn.Embedding, row_ids: Sequence[int]) -> None:
        super().__init__()
        object.__setattr__(self, "embedding", embedding)
        self.row_ids = tuple(int(i) for i in row_ids)
        w = embedding.weight
        self.register_buffer("ids", torch.tensor(self.row_ids, dtype=torch.long, device=w.device), persistent=False)
        self.rows = nn.Parameter(w.detach()[self.ids].clone(), requires_grad=False)

    @property
    def enabled(self) -> bool:
        return self.rows.requires_grad

    @torch.no_grad()
    def pull(self) -> None:
        """Matrix → ``rows``."""
        if self.row_ids:
            self.rows.copy_(self.embedding.weight[self.ids.to(self.embedding.weight.device)])

    @torch.no_grad()
    def push(self) -> None:
        """``rows`` → matrix (a no-op while the rows are frozen: they then equal the matrix's)."""
        if self.row_ids and self.enabled:
            w = self.embedding.weight
            w[self.ids.to(w.device)] = self.rows.to(device=w.device, dtype=w.dtype)

    def enable(self) -> None:
        """Train the rows (idempotent); the matrix stays frozen."""
        if not self.enabled:
            self.pull()
            self.rows.requires_grad_(True)
        self.embedding.weight.requires_grad_(False)

    def disable(self) -> None:
        """Freeze the rows again, their trained values written into the matrix."""
        self.push()
        self.rows.requires_grad_(False)

    def apply(self, input_ids: torch.Tensor, embeds: torch.Tensor) -> torch.Tensor:
        """``embeds`` ``(B, S, H)`` of ``input_ids`` with the start/end positions read from ``rows`` (when they
        train; otherwise ``embeds`` as it is). The matrix is not touched here: a graph still waiting for its
        backward pass (two forward passes before one backward) may hold it, as a tied output layer's weight."""
        if not self.enabled:
            return embeds
        hit = input_ids.unsqueeze(-1) == self.ids.to(input_ids.device)  # (B, S, n)
        rows = self.rows.to(embeds.dtype)
        return torch.where(hit.any(-1, keepdim=True), hit.to(embeds.dtype) @ rows, embeds)
