"""What a SensorLLM is made of, as one frozen dataclass: its channels, classes, LLM, encoder and projector
settings, and the Stage-2 options (what the head reads, where the text goes). Saved with every checkpoint."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from .encoder import EncoderConfig
from .llm import LLMConfig
from .projector import ProjectorConfig
from .tokens import TS_TOKEN

__all__ = ["HEAD_INPUTS", "HeadInput", "STAGE2_LAYOUTS", "SensorLLMConfig", "Stage2Layout"]

HeadInput = Literal["last", "channel_mean", "last+channel_mean"]
HEAD_INPUTS: tuple[str, ...] = get_args(HeadInput)
Stage2Layout = Literal["paper", "text_first"]
STAGE2_LAYOUTS: tuple[str, ...] = get_args(Stage2Layout)


@dataclass(frozen=True)
class SensorLLMConfig:
    """Everything needed to rebuild the model on top of its base LLM and encoder.

    Attributes:
        channels: channel names (``ChannelSpec.name``) in text order.
        llm: which causal LM.
        encoder: which time-series encoder.
        projector: projector shape and pooling.
        labels: Stage-2 class names in class-index order; ``None`` = no classification head.
        ts_token: the placeholder token string.
        allow_truncation: accept series longer than the encoder context (keeps the last samples).
        max_length: longest token sequence (``None`` = the LLM's ``max_position_embeddings``).
        channel_markers: frame each channel's placeholders with its ``<c_start>``/``<c_end>`` tokens (the
            paper). ``False`` is the paper's "without special tokens" ablation: channels follow each other
            as bare placeholder runs separated by a newline, matched to the data by their order in the text
            (the model's channel order), and no token row trains.
        head_standardize: the Stage-2 head reads ``(h - mean) / std`` with per-feature statistics of the
            last-token states, measured once before Stage 2 (:meth:`SensorLLM.set_head_statistics`; not the
            paper, whose head reads ``h``). The raw states carry large constant components and little spread
            across windows, which makes a plain linear head slow to train (``benchmarks/probe_stage2_features.py``).
        head_input: what the Stage-2 head reads. ``last`` (the paper): the final hidden state of the last
            non-pad token. ``channel_mean`` (not the paper): per channel, the mean final hidden state over that
            channel's sensor positions, the channels concatenated (``C × H``; the same read-out as the
            Chronos+MLP baseline, but after the LLM). ``last+channel_mean``: both, concatenated.
        stage2_layout: where the Stage-2 text goes. ``paper``: ``[BOS] + sensor block + text``, so the head's
            last token is the end of a question drawn from ~20 phrasings per window. ``text_first`` (not the
            paper): ``[BOS] + text + "\n" + sensor block + STAGE2_ENDING``: the sensor tokens can read the
            statistics, and the head's last token is the same fixed text in every window.
    """

    channels: tuple[str, ...]
    llm: LLMConfig = field(default_factory=LLMConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    projector: ProjectorConfig = field(default_factory=ProjectorConfig)
    labels: tuple[str, ...] | None = None
    ts_token: str = TS_TOKEN
    allow_truncation: bool = False
    max_length: int | None = None
    channel_markers: bool = True
    head_standardize: bool = False
    head_input: HeadInput = "last"
    stage2_layout: Stage2Layout = "paper"

    def __post_init__(self) -> None:
        if self.head_input not in HEAD_INPUTS:
            raise ValueError(f"head_input={self.head_input!r}; valid: {', '.join(HEAD_INPUTS)}")
        if self.stage2_layout not in STAGE2_LAYOUTS:
            raise ValueError(f"stage2_layout={self.stage2_layout!r}; valid: {', '.join(STAGE2_LAYOUTS)}")
        if not self.channels:
            raise ValueError("a SensorLLM needs at least one channel")
        if len(set(self.channels)) != len(self.channels):
            raise ValueError(f"duplicate channel names: {self.channels}")
        if self.labels is not None and len(self.labels) < 2:
            raise ValueError(f"a classifier needs at least 2 labels, got {self.labels}")

    def to_json(self) -> dict:
        return {
            "channels": list(self.channels),
            "llm": self.llm.to_json(),
            "encoder": self.encoder.to_json(),
            "projector": self.projector.to_json(),
            "labels": None if self.labels is None else list(self.labels),
            "ts_token": self.ts_token,
            "allow_truncation": self.allow_truncation,
            "max_length": self.max_length,
            "channel_markers": self.channel_markers,
            "head_standardize": self.head_standardize,
            "head_input": self.head_input,
            "stage2_layout": self.stage2_layout,
        }

    @classmethod
    def from_json(cls, d: dict) -> SensorLLMConfig:
        return cls(
            channels=tuple(d["channels"]),
            llm=LLMConfig.from_json(d["llm"]),
            encoder=EncoderConfig.from_json(d["encoder"]),
            projector=ProjectorConfig.from_json(d["projector"]),
            labels=None if d["labels"] is None else tuple(d["labels"]),
            ts_token=d["ts_token"],
            allow_truncation=d["allow_truncation"],
            max_length=d["max_length"],
            channel_markers=d.get("channel_markers", True),  # checkpoints before the option had markers
            head_standardize=d.get("head_standardize", False),
            head_input=d.get("head_input", "last"),
            stage2_layout=d.get("stage2_layout", "paper"),
        )

    def head_width(self, hidden: int) -> int:
        """Features the Stage-2 head reads for an LLM of width ``hidden``."""
        return hidden * {"last": 1, "channel_mean": len(self.channels), "last+channel_mean": len(self.channels) + 1}[
            self.head_input]
