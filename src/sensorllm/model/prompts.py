"""Token layouts of Stage-1 and Stage-2 examples and label masking (the batching is
:mod:`sensorllm.data.collate`).

Sensor block (both stages), channels in the model's channel order::

    Σ_c ( <c_start> <ts>×n_c <c_end> "\\n" )

where ``n_c`` is the number of sensor embeddings of channel ``c`` (the encoder's ``num_tokens(L)``: for
Chronos-T5 ``min(L, context) + 1`` samples + EOS, for patch encoders one per patch; divided by the pooling
factor, rounded up). With ``time_marks = k`` (Stage 1 only) the run carries the time of every ``k``-th sensor
token as text before it, in the answers' time format: ``<c_start> 0.0s <ts>×k 0.1s <ts>×k … <c_end>`` for
``k = 5`` at 50 Hz and one token per sample, so a model can copy a segment's time from the mark next to the
tokens it reads instead of counting placeholders.

Stage 1 (alignment) is a chat: the tokenizer's own chat template renders
``[system, user = block + question, assistant = answer]``; tokenizers without a template get a plain
``System/User/Assistant`` layout ending in EOS. The sequence starts with exactly one BOS when the tokenizer
uses BOS (a template that writes ``bos_token`` itself is not given a second one). Labels are ``-100``
everywhere except the assistant's answer and the template's end-of-turn text; the boundary comes from the
tokenised prompt (``add_generation_prompt=True``) being a prefix of the tokenised full conversation, or
else from character offsets — never from counting tokens by hand.

Stage 2 (classification) is plain text, no chat template: ``[BOS] + block + text`` (the paper), or with
``stage2_layout="text_first"`` ``[BOS] + text + "\n" + block + STAGE2_ENDING`` (the head's last token is then
the same fixed text in every window).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np

from ..utils import format_time
from .series_tokenizer import AllMissingError
from .tokens import TokenLayout

__all__ = [
    "IGNORE_INDEX",
    "STAGE2_ENDING",
    "PromptBuilder",
    "PromptError",
    "SYSTEM_PROMPT_SPANS",
    "SensorTokenCount",
    "SequenceTooLongError",
    "Stage1Example",
    "Stage2Example",
    "SystemPromptSpan",
    "default_system_prompt",
]

IGNORE_INDEX = -100
# the fixed end of a ``text_first`` Stage-2 sequence: what the classification head reads
STAGE2_ENDING = "Activity:"


class PromptError(ValueError):
    """An example cannot be laid out (unknown channel, bad series, template trouble)."""


class SequenceTooLongError(PromptError):
    """A sequence is longer than the model may take."""


SystemPromptSpan = Literal["answer_times", "duration"]
SYSTEM_PROMPT_SPANS: tuple[str, ...] = get_args(SystemPromptSpan)


def default_system_prompt(n_samples: int, rate_hz: float, span: SystemPromptSpan = "answer_times") -> str:
    """Stage-1 system prompt with the real window length and rate (the reference left "N points" unfilled).

    ``span`` says how it states the window's time span:

    * ``answer_times`` (the default for new models): the span the answers use, in their time format
      (:func:`sensorllm.utils.format_time`): sample ``i`` is at ``i / rate``, so a window of 5 samples at
      50 Hz is "from 0.0s to 0.08s", the end of its answer's last segment line;
    * ``duration`` (models saved before the option, which were trained with it): ``n / rate`` seconds,
      "0.10 s" for the same window, a time no answer reaches.
    """
    if span == "answer_times":
        when = f"from {format_time(0, rate_hz)}s to {format_time(n_samples - 1, rate_hz)}s"
    elif span == "duration":
        when = f"{n_samples / rate_hz:.2f} s"
    else:
        raise ValueError(f"span={span!r}; valid: {', '.join(SYSTEM_PROMPT_SPANS)}")
    return (
        "A dialogue between a curious researcher and an AI assistant. The AI analyzes a sensor time-series "
        f"({n_samples} points, {rate_hz:g} Hz sampling rate, {when}) to answer specific questions."
    )


@dataclass
class Stage1Example:
    """One tokenised Stage-1 example.

    Attributes:
        input_ids: token ids.
        labels: same length; ``-100`` except on answer tokens (all ``-100`` for a generation prompt).
        series: channel name → raw 1-D float32 series (NaN = missing).
        answer: the answer text (empty for a generation prompt).
        label_weights: same length, the loss weight of each answer token (0 elsewhere), or ``None`` for
            weight 1 on every answer token (the paper's loss).
    """

    input_ids: list[int]
    labels: list[int]
    series: dict[str, np.ndarray]
    answer: str = ""
    label_weights: list[float] | None = None


@dataclass
class Stage2Example:
    """One tokenised Stage-2 example laid out from a ``{channel: series}`` mapping (``label`` is the class
    index, ``None`` when unknown). The Stage-2 pipeline itself goes from windows to a batch without it
    (:func:`sensorllm.data.collate.collate_items`)."""

    input_ids: list[int]
    series: dict[str, np.ndarray]
    label: int | None = None


@dataclass(frozen=True)
class SensorTokenCount:
    """Placeholders for a series of ``length`` samples:
    ``ceil((ceil(min(length, context) / patch_size) + extra_tokens) / pool)``.

    The defaults (``patch_size=1, extra_tokens=1``) are Chronos-T5's one token per sample + EOS; patch
    encoders set theirs (:class:`~sensorllm.model.encoder.SensorEncoder`). A small picklable callable
    (data-loader workers may receive the prompt builder).
    """

    context_length: int
    pool: int = 1
    patch_size: int = 1
    extra_tokens: int = 1

    def __call__(self, length: int) -> int:
        if length < 1:
            raise ValueError(f"a series needs at least one sample, got length {length}")
        n = -(-min(length, self.context_length) // self.patch_size) + self.extra_tokens
        return -(-n // self.pool)


@dataclass
class PromptBuilder:
    """Lays out examples for one model (tokenizer + token layout + sensor-token counting).

    Attributes:
        tokenizer: the (already extended) Hugging Face tokenizer.
        layout: where the sensor tokens are.
        tokens_per_series: series length → number of ``<ts>`` placeholders.
        context_length: longest series the encoder reads.
        allow_truncation: accept series longer than ``context_length`` (the encoder keeps the last
            ``context_length`` samples); ``False`` raises instead.
        max_length: longest token sequence a batch may hold (``None`` = no limit; checked by the collator).
        channel_markers: write ``<c_start>``/``<c_end>`` around each channel's placeholders (``False``: bare
            placeholder runs, the "without special tokens" ablation).
        stage2_layout: ``paper`` (block, then text) or ``text_first`` (text, block, fixed ending).
        system_prompt_span: how the Stage-1 system prompt states the window's span
            (:func:`default_system_prompt`).
        time_marks: write the time of every ``time_marks``-th sensor token before it (0: none; Stage 1 only,
            module docstring).
        samples_per_token: samples one sensor token advances (patch size × pooling), for the marks' times.
    """

    tokenizer: object
    layout: TokenLayout
    tokens_per_series: Callable[[int], int]
    context_length: int
    allow_truncation: bool = False
    max_length: int | None = None
    channel_markers: bool = True
    stage2_layout: str = "paper"
    system_prompt_span: SystemPromptSpan = "answer_times"
    time_marks: int = 0
    samples_per_token: int = 1
    _adds_bos: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        if self.time_marks < 0 or self.samples_per_token < 1:
            raise ValueError(f"time_marks={self.time_marks} must be >= 0 and samples_per_token="
                             f"{self.samples_per_token} >= 1")
        if self.time_marks and not self.channel_markers:
            raise ValueError("time marks need channel markers (a bare placeholder run ends at its first mark)")
        tok = self.tokenizer
        with_sp = tok("a", add_special_tokens=True)["input_ids"]
        without = tok("a", add_special_tokens=False)["input_ids"]
        bos = tok.bos_token_id
        self._adds_bos = bos is not None and len(with_sp) > len(without) and with_sp[0] == bos

    # ---- sensor block ---------------------------------------------------------------------------
    def check_channel(self, name: str, length: int) -> None:
        """A channel of ``length`` samples may be laid out: the model knows it, and it fits the encoder context
        (or truncation is allowed).

        Raises:
            PromptError: an unknown channel or an empty series.
            SequenceTooLongError: longer than ``context_length`` without ``allow_truncation``.
        """
        if name not in self.layout.channels:
            raise PromptError(f"unknown channel {name!r}; the model's channels are {self.layout.channel_names}")
        if length < 1:
            raise PromptError(f"channel {name!r}: expected a non-empty 1-D series, got {length} samples")
        if length > self.context_length and not self.allow_truncation:
            raise SequenceTooLongError(
                f"channel {name!r}: {length} samples exceed the encoder context of {self.context_length} "
                "(pass allow_truncation=True to keep the last samples, as Chronos does)"
            )

    def _check_series(self, series: Mapping[str, object]) -> dict[str, np.ndarray]:
        if not series:
            raise PromptError("an example needs at least one channel")
        out: dict[str, np.ndarray] = {}
        for name, values in series.items():
            if name not in self.layout.channels:
                self.check_channel(name, 0)  # raises: unknown channel
            a = np.asarray(values, dtype=np.float32)
            if a.ndim != 1 or a.size == 0:
                raise PromptError(f"channel {name!r}: expected a non-empty 1-D series, got shape {a.shape}")
            if not np.isfinite(a).any():
                raise AllMissingError(f"channel {name!r}: every sample is NaN/inf (nothing to encode)")
            self.check_channel(name, a.size)
            out[name] = a
        return out

    def ordered_channels(self, channels: Sequence[str] | Mapping[str, object]) -> list[str]:
        """The channels (names, or a mapping keyed by them) in the model's channel order (the text order)."""
        return [c for c in self.layout.channel_names if c in channels]

    def sensor_block(self, lengths: Mapping[str, int], rate_hz: float | None = None) -> str:
        """``Σ_c(<c_start><ts>×n_c<c_end>\\n)`` over the channels of ``lengths`` (channel → samples) in model
        order (without markers: ``Σ_c(<ts>×n_c\\n)``); with time marks, at ``rate_hz``, each run carries
        them (module docstring)."""
        parts = []
        for name in self.ordered_channels(lengths):
            start, end = self.layout.channel_tokens[name] if self.channel_markers else ("", "")
            parts.append(f"{start}{self._run(lengths[name], rate_hz)}{end}\n")
        return "".join(parts)

    def _run(self, length: int, rate_hz: float | None) -> str:
        """The placeholders of one series of ``length`` samples, with a time mark before every
        ``time_marks``-th one that stands for a sample of the series (not before an encoder's EOS token)."""
        n = self.tokens_per_series(length)
        ts = self.layout.ts_token
        if not self.time_marks:
            return ts * n
        if rate_hz is None or not rate_hz > 0:
            raise PromptError(f"time marks need the sampling rate, got {rate_hz!r}")
        starts = [j for j in range(0, n, self.time_marks) if j * self.samples_per_token < length] + [n]
        return "".join(f"{format_time(a * self.samples_per_token, rate_hz)}s{ts * (b - a)}"
                       for a, b in zip(starts, starts[1:]))

    # ---- tokenising helpers ---------------------------------------------------------------------
    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _with_bos(self, ids: list[int], text: str) -> list[int]:
        bos_id = self.tokenizer.bos_token_id
        bos = self.tokenizer.bos_token
        starts_with_bos = bos is not None and text.startswith(bos)
        if self._adds_bos and not starts_with_bos:
            ids = [bos_id] + ids
        if bos_id is not None and len(ids) > 1 and ids[0] == bos_id and ids[1] == bos_id:
            raise PromptError("sequence starts with two BOS tokens")
        return ids

    def _chat_texts(self, system: str | None, user: str, answer: str | None) -> tuple[str, str]:
        """(prompt ending with the assistant header, full text with the answer); equal without answer."""
        tok = self.tokenizer
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": user}
        ]
        if getattr(tok, "chat_template", None):
            prompt = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            if answer is None:
                return prompt, prompt
            full = tok.apply_chat_template(
                messages + [{"role": "assistant", "content": answer}], tokenize=False
            )
        else:
            head = f"System: {system}\n\n" if system else ""
            prompt = f"{head}User: {user}\nAssistant: "
            if answer is None:
                return prompt, prompt
            full = prompt + answer + (tok.eos_token or "")
        if not full.startswith(prompt):
            raise PromptError(
                "the chat template renders the conversation differently with and without the answer; "
                "cannot locate the answer"
            )
        return prompt, full

    def _answer_boundary(self, prompt: str, full: str, full_ids: list[int]) -> int:
        prompt_ids = self._encode(prompt)
        if full_ids[: len(prompt_ids)] == prompt_ids:
            return len(prompt_ids)
        offsets = self.tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)[
            "offset_mapping"
        ]
        cut = len(prompt)
        for i, (a, b) in enumerate(offsets):
            if a < cut < b:
                raise PromptError(
                    f"token {i} spans the prompt/answer boundary (chars {a}-{b}, boundary {cut})"
                )
            if a >= cut and b > a:
                return i
        raise PromptError("the answer produced no tokens")

    # ---- examples -------------------------------------------------------------------------------
    def system_prompt(self, n_samples: int, rate_hz: float) -> str:
        """This model's Stage-1 system prompt for a window of ``n_samples`` at ``rate_hz``
        (:func:`default_system_prompt` with the model's ``system_prompt_span``)."""
        return default_system_prompt(n_samples, rate_hz, self.system_prompt_span)

    def stage1_window(self, channel: str, series: object, rate_hz: float, question: str,
                      answer: str | None, weighted_spans: Sequence[tuple[int, int, float]] = ()
                      ) -> Stage1Example:
        """:meth:`stage1` for one channel of one window, with the :meth:`system_prompt` of its length and rate
        (how Stage 1 trains and how a Stage-1 model is asked to describe a window)."""
        n = len(series)  # type: ignore[arg-type]
        return self.stage1({channel: series}, question, answer, system=self.system_prompt(n, rate_hz),
                           weighted_spans=weighted_spans, rate_hz=rate_hz)

    def stage1(
        self,
        series: Mapping[str, object],
        question: str,
        answer: str | None,
        system: str | None = None,
        weighted_spans: Sequence[tuple[int, int, float]] = (),
        rate_hz: float | None = None,
    ) -> Stage1Example:
        """A Stage-1 chat example; ``answer=None`` gives a generation prompt (ends with the assistant header).

        Args:
            series: channel name → raw 1-D values of this window.
            question: user question (after the sensor block).
            answer: assistant answer, or ``None``.
            system: system prompt (see :meth:`system_prompt`).
            weighted_spans: ``(a, b, w)``: the tokens of ``answer[a:b]`` weigh ``w`` in the loss (every other
                answer token weighs 1), e.g. the spans of :func:`sensorllm.text.trend_word_spans`.
            rate_hz: the series' sampling rate (needed by a builder with time marks).

        Returns:
            :class:`Stage1Example` with answer-only labels.
        """
        checked = self._check_series(series)
        user = self.sensor_block({c: len(v) for c, v in checked.items()}, rate_hz) + question
        prompt, full = self._chat_texts(system, user, answer)
        full_ids = self._encode(full)
        if answer is None:
            boundary = len(full_ids)
        else:
            boundary = self._answer_boundary(prompt, full, full_ids)
        labels = [IGNORE_INDEX] * boundary + full_ids[boundary:]
        ids = self._with_bos(full_ids, full)
        labels = [IGNORE_INDEX] * (len(ids) - len(full_ids)) + labels
        if answer is not None and all(x == IGNORE_INDEX for x in labels):
            raise PromptError("no answer token is left to train on")
        weights = None
        if answer is not None and any(w != 1.0 for _, _, w in weighted_spans):
            weights = self._label_weights(full, len(prompt), labels, len(ids) - len(full_ids), weighted_spans)
        return Stage1Example(input_ids=ids, labels=labels, series=checked, answer=answer or "",
                             label_weights=weights)

    def _label_weights(self, full: str, answer_start: int, labels: list[int], shift: int,
                       spans: Sequence[tuple[int, int, float]]) -> list[float]:
        """1 on each answer token, a span's weight on those overlapping that span of the answer (the first such
        span's), 0 off the answer (``shift``: tokens put before the encoded text, a BOS)."""
        offsets = self.tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        out = [0.0] * shift
        for (a, b), y in zip(offsets, labels[shift:], strict=True):
            hit = next((w for s, e, w in spans if a - answer_start < e and s < b - answer_start), 1.0)
            out.append(0.0 if y == IGNORE_INDEX else hit)
        return out

    def stage2(self, series: Mapping[str, object], text: str = "", label: int | None = None) -> Stage2Example:
        """A Stage-2 example from ``{channel: 1-D series}`` (:meth:`stage2_ids` of its channels and lengths)."""
        checked = self._check_series(series)
        ids = self.stage2_ids({c: len(v) for c, v in checked.items()}, text)
        return Stage2Example(input_ids=ids, series=checked, label=label)

    def stage2_ids(self, lengths: Mapping[str, int], text: str = "") -> list[int]:
        """Token ids of a Stage-2 sequence whose channels have ``lengths`` samples: ``[BOS] + sensor block +
        text`` (no chat template), or for the ``text_first`` layout ``[BOS] + text + "\\n" + sensor block +
        STAGE2_ENDING``."""
        if self.time_marks:
            raise PromptError("time marks are a Stage-1 layout; a Stage-2 model is built with time_marks=0")
        block = self.sensor_block(lengths)
        if self.stage2_layout == "text_first":
            full = (text + "\n" if text else "") + block + STAGE2_ENDING
        else:
            full = block + text
        return self._with_bos(self._encode(full), full)
