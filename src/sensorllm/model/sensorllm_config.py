"""What a SensorLLM is made of, as frozen dataclasses, each field declared once:

* :class:`ModelSettings`: the LLM, encoder and projector settings and the token layout (both stages);
* :class:`Stage2ModelSettings`: those plus the Stage-2 options (what the head reads, where the text goes);
* :class:`SensorLLMConfig`: those plus the data's channels and classes. Saved with every checkpoint.

A stage's run config (:mod:`sensorllm.train.config`) nests the settings of its stage; the model is built from
them and the prepared dataset's channels and classes (:meth:`ModelSettings.for_data`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal, get_args

from .encoder import EncoderConfig
from .llm import LLMConfig
from .projector import ProjectorConfig
from .prompts import SYSTEM_PROMPT_SPANS, SystemPromptSpan
from .tokens import TS_TOKEN

__all__ = ["HEAD_INPUTS", "HeadInput", "ModelSettings", "STAGE2_LAYOUTS", "SensorLLMConfig", "Stage2Layout",
           "Stage2ModelSettings"]

HeadInput = Literal["last", "channel_mean", "last+channel_mean"]
HEAD_INPUTS: tuple[str, ...] = get_args(HeadInput)
Stage2Layout = Literal["paper", "text_first"]
STAGE2_LAYOUTS: tuple[str, ...] = get_args(Stage2Layout)


@dataclass(frozen=True)
class ModelSettings:
    """The model settings both stages' run configs hold (independent of the data).

    Attributes:
        llm: which causal LM.
        encoder: which time-series encoder.
        projector: projector shape and pooling.
        max_length: longest token sequence (``None`` = the LLM's ``max_position_embeddings``).
        channel_markers: frame each channel's placeholders with its ``<c_start>``/``<c_end>`` tokens (the
            paper). ``False`` is the paper's "without special tokens" ablation: channels follow each other
            as bare placeholder runs separated by a newline, matched to the data by their order in the text
            (the model's channel order), and no token row trains.
        system_prompt_span: how the Stage-1 system prompt states the window's time span
            (:func:`~sensorllm.model.prompts.default_system_prompt`; Stage 2 has no system prompt).
            ``answer_times`` (the default): "from 0.0s to 0.08s" for 5 samples at 50 Hz, the times the answers
            use, whose last segment line ends at the last sample, ``(n - 1) / rate``. ``duration``: ``n / rate``
            ("0.10 s"), what models saved before this setting existed were trained with; their checkpoints
            load with it (:meth:`SensorLLMConfig.from_json`).
        time_marks: Stage 1 only. ``k > 0`` writes the time of every ``k``-th sensor token as text inside the
            channel's run (``<c_start> 0.0s <ts>×k 0.1s <ts>×k … <c_end>``, :mod:`~sensorllm.model.prompts`), so
            the answers' times can be copied from a mark beside the tokens that show the change instead of
            counted out over the placeholders (not the paper). 0 (the default): no marks, the paper's run.
    """

    llm: LLMConfig = field(default_factory=LLMConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    projector: ProjectorConfig = field(default_factory=ProjectorConfig)
    max_length: int | None = None
    channel_markers: bool = True
    system_prompt_span: SystemPromptSpan = "answer_times"
    time_marks: int = 0

    def __post_init__(self) -> None:
        if self.system_prompt_span not in SYSTEM_PROMPT_SPANS:
            raise ValueError(f"system_prompt_span={self.system_prompt_span!r}; "
                             f"valid: {', '.join(SYSTEM_PROMPT_SPANS)}")
        if self.time_marks < 0:
            raise ValueError(f"time_marks={self.time_marks}: every how many sensor tokens a time mark stands "
                             "(0 = none); must be >= 0")
        if self.time_marks and not self.channel_markers:
            raise ValueError("time_marks need channel_markers: true (a bare placeholder run ends at its first mark)")

    def for_data(self, channels: tuple[str, ...], labels: tuple[str, ...] | None = None) -> SensorLLMConfig:
        """The :class:`SensorLLMConfig` of these settings for a dataset's channels (and classes; ``None``: no
        head). Settings this class does not hold keep :class:`SensorLLMConfig`'s defaults."""
        mine = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return SensorLLMConfig(channels=tuple(channels), labels=None if labels is None else tuple(labels), **mine)


@dataclass(frozen=True)
class Stage2ModelSettings(ModelSettings):
    """:class:`ModelSettings` plus the Stage-2 options.

    Attributes:
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

    head_standardize: bool = False
    head_input: HeadInput = "last"
    stage2_layout: Stage2Layout = "paper"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.head_input not in HEAD_INPUTS:
            raise ValueError(f"head_input={self.head_input!r}; valid: {', '.join(HEAD_INPUTS)}")
        if self.stage2_layout not in STAGE2_LAYOUTS:
            raise ValueError(f"stage2_layout={self.stage2_layout!r}; valid: {', '.join(STAGE2_LAYOUTS)}")


@dataclass(frozen=True)
class SensorLLMConfig(Stage2ModelSettings):
    """Everything needed to rebuild the model on top of its base LLM and encoder: :class:`Stage2ModelSettings`
    (keyword arguments) plus

    Attributes:
        channels: channel names (``ChannelSpec.name``) in text order.
        labels: Stage-2 class names in class-index order; ``None`` = no classification head.
        ts_token: the placeholder token string.
        allow_truncation: accept series longer than the encoder context (keeps the last samples).
    """

    channels: tuple[str, ...] = field(kw_only=True)
    labels: tuple[str, ...] | None = field(default=None, kw_only=True)
    ts_token: str = field(default=TS_TOKEN, kw_only=True)
    allow_truncation: bool = field(default=False, kw_only=True)

    def __post_init__(self) -> None:
        super().__post_init__()
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
            "system_prompt_span": self.system_prompt_span,
            "time_marks": self.time_marks,
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
            # checkpoints before the option were trained with the n / rate span
            system_prompt_span=d.get("system_prompt_span", "duration"),
            time_marks=d.get("time_marks", 0),  # checkpoints before the option had none
            head_standardize=d.get("head_standardize", False),
            head_input=d.get("head_input", "last"),
            stage2_layout=d.get("stage2_layout", "paper"),
        )

    def head_width(self, hidden: int) -> int:
        """Features the Stage-2 head reads for an LLM of width ``hidden``."""
        return hidden * {"last": 1, "channel_mean": len(self.channels), "last+channel_mean": len(self.channels) + 1}[
            self.head_input]
