"""SensorLLM: a causal LM that reads wearable-sensor channels through a time-series encoder.

``SensorLLM`` is a plain ``nn.Module`` that *owns* its parts (composition, no subclassing of HF classes):

- ``llm``: any ``AutoModelForCausalLM`` (possibly wrapped by peft LoRA), frozen by default;
- ``encoder``: a :class:`~sensorllm.model.encoder.SensorEncoder` (Chronos-T5), frozen by default;
- ``projector``: the MLP mapping encoder embeddings to the LLM's hidden size;
- ``head``: Stage-2 ``Linear(H, K, bias=False)`` on the last non-pad token (only with class labels),
  optionally on per-feature standardised states (``head_standardize``, :class:`ClassifierHead`).

Data flow (a :class:`~.batch.SensorBatch`; ``n`` = sensor tokens per series)::

    Stage 2 windows (B, C, L) float32 ─encode→ (B, C, n, d_enc) ─project→ (B, C, n, H)
    Stage 1 ragged series N × (L_i,)  ─encode→ N × (n_i, d_enc) ─project→ N × (n_i, H)
    input_ids (B, S) ─embed→ (B, S, H) ─splice by channel name→ inputs_embeds (B, S, H)
    Stage 1: LM loss on answer tokens only        Stage 2: head(h[last non-pad]) → (B, K)

Build one with :func:`~sensorllm.model.build.build_sensor_llm`; save/load with
:mod:`sensorllm.model.checkpoint`. Its configuration is :mod:`.sensorllm_config`, its head :mod:`.head`, the
sensor path (encoder, embedding cache, pooling, projector) :mod:`.sensor_path`, what trains :mod:`.parts`.
``docs/architecture.md`` follows a window from its file to the logits.

The methods here are the model's forward paths (Stage 1, Stage 2, generation); they share the model's private
state (the key/value cache's argument name, the token layout, the diagnostics).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.profiler import record_function

from .batch import SensorBatch
from .cache import EmbeddingCache
from .encoder import SensorEncoder
from .head import Stage1Output, Stage2Output, channel_run_means, last_token_rows
from .llm import unwrap_llm
from .parts import TrainableParts
from .projector import Projector, pooled_length
from .prompts import IGNORE_INDEX, PromptBuilder, SensorTokenCount
from .sensor_path import Encoded, SensorPath
from .sensorllm_config import SensorLLMConfig
from .splice import splice_sensor_embeddings, splice_window_embeddings
from .tokens import TokenLayout, TokenRows, embeddings_are_tied

__all__ = ["SensorLLM"]


class SensorLLM(TrainableParts, nn.Module):
    """The composed model. Construct with :func:`build_sensor_llm`. What trains: :class:`~.parts.TrainableParts`.

    Args:
        config: the configuration it was built from.
        llm: the causal LM (``PreTrainedModel`` or peft ``PeftModel``), embeddings already resized.
        tokenizer: its tokenizer, with the sensor tokens added.
        encoder: time-series encoder.
        projector: encoder width → LLM hidden size.
        layout: sensor-token ids.
        head: Stage-2 classifier or ``None``.
    """

    def __init__(
        self,
        config: SensorLLMConfig,
        llm: nn.Module,
        tokenizer,
        encoder: SensorEncoder,
        projector: Projector,
        layout: TokenLayout,
        head: nn.Linear | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.llm = llm
        self.encoder = encoder
        self.projector = projector
        self.head = head
        self.tokenizer = tokenizer
        self.layout = layout
        hf = unwrap_llm(llm)
        self.token_rows = TokenRows(hf.get_input_embeddings(),
                                       layout.trainable_ids if config.channel_markers else ())
        # LoRA parameters = what peft left trainable right after wrapping (before anything else is unfrozen).
        self._lora_params = [p for p in llm.parameters() if p.requires_grad] if config.llm.lora else []
        forward_args = inspect.signature(hf.forward).parameters
        self._uses_logits_to_keep = "logits_to_keep" in forward_args
        # the key/value cache's name as forward argument and output field: ``cache`` in newer transformers,
        # ``past_key_values`` before (newer ones still accept it, with a deprecation warning)
        self._cache_arg = "cache" if "cache" in forward_args else "past_key_values"
        self.sensors = SensorPath(encoder, projector, config)  # the encoder → pooling → projector steps
        max_len = config.max_length or getattr(hf.config, "max_position_embeddings", None)
        self.prompts = PromptBuilder(
            tokenizer=tokenizer,
            layout=layout,
            tokens_per_series=SensorTokenCount(
                encoder.context_length, config.projector.pool, encoder.patch_size, encoder.extra_tokens
            ),
            context_length=encoder.context_length,
            allow_truncation=config.allow_truncation,
            max_length=max_len,
            channel_markers=config.channel_markers,
            stage2_layout=config.stage2_layout,
            system_prompt_span=config.system_prompt_span,
            time_marks=config.time_marks,
            samples_per_token=encoder.patch_size * config.projector.pool,
        )
        # what the last forward pass in training mode measured (diagnostics; a few floats, no gradients)
        self.signal_stats: dict[str, float] = {}
        ctx, patch = encoder.context_length, encoder.patch_size
        for n in sorted({1, 2, max(1, patch - 1), patch, patch + 1, ctx, ctx + 3}):
            # the builder's picklable counter must agree with the encoder's own num_tokens
            if self.prompts.tokens_per_series(n) != self.num_sensor_tokens(n):
                raise RuntimeError(
                    f"encoder {type(encoder).__name__}: num_tokens({n}) disagrees with "
                    f"ceil(min(L, {ctx}) / {patch}) + {encoder.extra_tokens}"
                )

    # ---- parts ----------------------------------------------------------------------------------
    @property
    def hf_model(self) -> nn.Module:
        """The Hugging Face causal LM (inside the peft wrapper, if any)."""
        return unwrap_llm(self.llm)

    @property
    def hidden_size(self) -> int:
        return int(self.hf_model.get_input_embeddings().weight.shape[1])

    @property
    def channels(self) -> list[str]:
        return list(self.config.channels)

    @property
    def tied_embeddings(self) -> bool:
        return embeddings_are_tied(self.hf_model)

    def num_sensor_tokens(self, length: int) -> int:
        """Placeholders for a series of ``length`` samples: ``ceil(encoder.num_tokens(length) / pool)``."""
        return pooled_length(self.encoder.num_tokens(length), self.config.projector.pool)

    def train(self, mode: bool = True) -> SensorLLM:
        """Train mode for trainable parts; a frozen encoder, and an LLM without LoRA, stay in eval mode."""
        super().train(mode)
        if not self.config.encoder.trainable:
            self.encoder.eval()
        if not self._lora_params:
            self.llm.eval()
        return self

    # ---- sensor path (:mod:`.sensor_path`) ---------------------------------------------------------
    @property
    def cache(self) -> EmbeddingCache | None:
        """The frozen encoder's embedding cache (:meth:`enable_cache`), or ``None``."""
        return self.sensors.cache

    @cache.setter
    def cache(self, cache: EmbeddingCache | None) -> None:
        self.sensors.cache = cache

    def enable_cache(self, root: str | Path, dtype: torch.dtype = torch.float32) -> EmbeddingCache:
        """:meth:`SensorPath.enable_cache <.sensor_path.SensorPath.enable_cache>`: cache the frozen encoder's
        outputs under ``root`` (refused for a trainable encoder)."""
        return self.sensors.enable_cache(root, dtype)

    def encode(self, batch: SensorBatch) -> Encoded:
        """The batch's series encoded and pooled: ``(B, C, n, d_enc)`` for windows, ``N × (n_i, d_enc)`` for
        ragged series (:meth:`SensorPath.encode <.sensor_path.SensorPath.encode>`)."""
        return self.sensors.encode(batch)

    def project(self, encoded: Encoded) -> Encoded:
        """Encoder width → the LLM's hidden size, ``(..., n, d_enc)`` → ``(..., n, H)``."""
        return self.sensors.project(encoded)

    def build_inputs_embeds(self, batch: SensorBatch) -> torch.Tensor:
        """``(B, S, H)`` token embeddings with every channel's sensor embeddings spliced in by name."""
        hf = self.hf_model
        text = self.token_rows.apply(batch.input_ids, hf.get_input_embeddings()(batch.input_ids))  # (B, S, H)
        if batch.num_series == 0:
            return text
        projected = self.project(self.encode(batch))
        if self.training:  # diagnostics for train_log.csv; evaluation and prediction skip them
            self._measure_embeddings(text, batch, SensorPath.flat_tokens(projected))
        markers, marks = self.config.channel_markers, self.config.time_marks > 0
        if batch.is_windows:
            return splice_window_embeddings(text, batch.input_ids, projected, batch.channels, self.layout,
                                            channel_markers=markers, time_marks=marks)
        return splice_sensor_embeddings(text, batch.input_ids, projected, batch.series_example,
                                        batch.series_channel, self.layout, channel_markers=markers,
                                        time_marks=marks)

    @torch.no_grad()
    def _measure_embeddings(self, text: torch.Tensor, batch: SensorBatch, sensor: torch.Tensor) -> None:
        """RMS of the text-token embeddings, of the projected sensor tokens ``(Σn, H)`` and of their token-to-token
        varying part (the rest is a shared offset) into :attr:`signal_stats`."""
        real = batch.attention_mask.bool() & (batch.input_ids != self.layout.ts_id)
        self.signal_stats["text_rms"] = float(text[real].float().pow(2).mean().sqrt())
        flat = sensor.detach().float()
        self.signal_stats["sensor_rms"] = float(flat.pow(2).mean().sqrt())
        self.signal_stats["sensor_rms_varying"] = float((flat - flat.mean(0)).pow(2).mean().sqrt())

    # ---- Stage 1 ----------------------------------------------------------------------------------
    def lm_logits(self, batch: SensorBatch) -> torch.Tensor:
        """Full next-token logits ``(B, S, V)`` (inspection, tests; training uses :meth:`forward_stage1`)."""
        embeds = self.build_inputs_embeds(batch)
        return self.hf_model(
            inputs_embeds=embeds, attention_mask=batch.attention_mask, use_cache=False
        ).logits

    def forward_stage1(self, batch: SensorBatch) -> Stage1Output:
        """Causal-LM loss on the answer tokens (``batch.labels != -100``), logits computed only where needed.
        With ``batch.label_weights`` each token's cross-entropy is weighted and the sum divided by the number
        of answer tokens (so weight 1 everywhere is the plain mean).

        Raises:
            ValueError: the batch has no labels or no answer token.
        """
        if batch.labels is None:
            raise ValueError("Stage-1 loss needs batch.labels (build examples with PromptBuilder.stage1)")
        embeds = self.build_inputs_embeds(batch)  # (B, S, H)
        targets = batch.labels[:, 1:]  # position t predicts token t+1
        keep = (targets != IGNORE_INDEX).any(dim=0).nonzero().flatten()  # (P,) positions with a target
        if keep.numel() == 0:
            raise ValueError("no answer token in the batch (all labels are -100)")
        hf = self.hf_model
        if self._uses_logits_to_keep:
            logits = hf(
                inputs_embeds=embeds,
                attention_mask=batch.attention_mask,
                use_cache=False,
                logits_to_keep=keep,
            ).logits  # (B, P, V)
        else:
            logits = hf(inputs_embeds=embeds, attention_mask=batch.attention_mask, use_cache=False).logits[
                :, keep
            ]
        tgt = targets[:, keep]  # (B, P)
        n_tokens = int((tgt != IGNORE_INDEX).sum())
        if batch.label_weights is None:
            loss = F.cross_entropy(
                logits.float().reshape(-1, logits.shape[-1]), tgt.reshape(-1), ignore_index=IGNORE_INDEX
            )
        else:
            ce = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), tgt.reshape(-1),
                                 ignore_index=IGNORE_INDEX, reduction="none")
            w = batch.label_weights[:, 1:][:, keep].reshape(-1) * (tgt.reshape(-1) != IGNORE_INDEX)
            loss = (ce * w).sum() / n_tokens
        return Stage1Output(loss=loss, num_tokens=n_tokens)

    def prompt_pass(self, batch: SensorBatch, position_ids: torch.Tensor | None = None) -> tuple[torch.Tensor, Any]:
        """Run a (left-padded) prompt batch once with the key/value cache on.

        Returns the next-token logits at the last position ``(B, V)`` and the cache, which
        :meth:`continue_from_cache` extends with token ids (so ``K`` continuations of one prompt share its pass).
        """
        keep = {"logits_to_keep": 1} if self._uses_logits_to_keep else {}
        res = self.hf_model(inputs_embeds=self.build_inputs_embeds(batch), attention_mask=batch.attention_mask,
                            position_ids=position_ids, use_cache=True, **keep)
        return res.logits[:, -1], getattr(res, self._cache_arg)

    def continue_from_cache(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                            position_ids: torch.Tensor, cache: Any) -> torch.Tensor:
        """Logits ``(B, T, V)`` of ``input_ids`` read after the cached prompt; ``attention_mask`` covers prompt
        and continuation. The cache's argument name differs between transformers versions; this hides it."""
        return self.hf_model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                             use_cache=True, **{self._cache_arg: cache}).logits

    @torch.no_grad()
    def generate(self, batch: SensorBatch, max_new_tokens: int = 128, **generate_kwargs) -> list[str]:
        """Describe windows: greedy (or ``generate_kwargs``) decoding from left-padded Stage-1 prompts.

        Build the prompts with ``prompts.stage1(..., answer=None)`` and
        :func:`sensorllm.data.collate.collate` ``(..., padding_side="left")``.
        """
        if not bool((batch.attention_mask[:, -1] == 1).all()):
            raise ValueError("generation needs left-padded prompts: collate(..., padding_side='left')")
        self.token_rows.push()  # generated tokens are embedded from the matrix
        embeds = self.build_inputs_embeds(batch)
        generate_kwargs.setdefault("do_sample", False)
        out = self.hf_model.generate(
            inputs_embeds=embeds,
            attention_mask=batch.attention_mask,
            max_new_tokens=max_new_tokens,
            pad_token_id=self.layout.pad_id,
            use_cache=True,
            **generate_kwargs,
        )
        return self.tokenizer.batch_decode(out, skip_special_tokens=True)

    # ---- Stage 2 ----------------------------------------------------------------------------------
    def sequence_hidden(self, batch: SensorBatch) -> torch.Tensor:
        """``(B, S, H)`` final hidden states (after the final norm) at every position (pads included)."""
        embeds = self.build_inputs_embeds(batch)
        decoder = self.hf_model.get_decoder()
        with record_function("sensorllm.llm"):
            return decoder(inputs_embeds=embeds, attention_mask=batch.attention_mask,
                           use_cache=False).last_hidden_state

    def last_hidden(self, batch: SensorBatch) -> torch.Tensor:
        """``(B, H)`` final hidden state (after the final norm) at each sequence's last non-pad token."""
        return last_token_rows(self.sequence_hidden(batch), batch.attention_mask)

    def text_prefix_length(self, batch: SensorBatch) -> int | None:
        """Where the sensor block starts, when the tokens before it can run without gradients (else ``None``).

        That is a ``text_first`` Stage-2 batch, left-padded so that every row's sensor block starts in the same
        column, while gradients are on and nothing trainable acts on the text (no LoRA). The text then depends
        on no trained parameter, so :meth:`stage2_hidden` runs it once under ``no_grad`` as a key/value cache.
        """
        if (self.config.stage2_layout != "text_first" or not torch.is_grad_enabled()
                or any(p.requires_grad for p in self._lora_params)):
            return None
        if not bool(batch.attention_mask[:, -1].all()):  # right padding: the blocks are not aligned
            return None
        block_ids = [self.layout.ts_id, *(s for s, _ in self.layout.channels.values())]
        first = torch.isin(batch.input_ids, torch.tensor(block_ids, device=batch.input_ids.device)).int().argmax(1)
        split = int(first[0])
        return split if split > 0 and bool((first == split).all()) else None

    def stage2_hidden(self, batch: SensorBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Final hidden states for the Stage-2 head: ``(h (B, S', H), input_ids (B, S'), attention_mask (B, S'))``.

        Either the whole sequence (``S' = S``), or, when :meth:`text_prefix_length` allows, only the sensor block
        and what follows it: the text before it is computed once without gradients and read from its key/value
        cache, so backward never runs over it (about 25 % less time per training sample in the recommended
        configuration, ``docs/performance.md``). The two give the same states (tested).
        """
        split = self.text_prefix_length(batch)
        if split is None:
            return self.sequence_hidden(batch), batch.input_ids, batch.attention_mask
        embeds = self.build_inputs_embeds(batch)
        mask = batch.attention_mask
        pos = (mask.cumsum(1) - 1).clamp_min(0)
        decoder = self.hf_model.get_decoder()
        with torch.no_grad(), record_function("sensorllm.llm_text_prefix"):
            prefix = decoder(inputs_embeds=embeds[:, :split].detach(), attention_mask=mask[:, :split],
                             position_ids=pos[:, :split], use_cache=True)
        with record_function("sensorllm.llm"):
            out = decoder(inputs_embeds=embeds[:, split:], attention_mask=mask, position_ids=pos[:, split:],
                          use_cache=True, **{self._cache_arg: getattr(prefix, self._cache_arg)})
        return out.last_hidden_state, batch.input_ids[:, split:], mask[:, split:]

    def head_features(self, batch: SensorBatch) -> torch.Tensor:
        """What the Stage-2 head reads (``SensorLLMConfig.head_input``): ``(B, head_width)``."""
        h, ids, mask = self.stage2_hidden(batch)
        kind = self.config.head_input
        parts = []
        if kind in ("last", "last+channel_mean"):
            parts.append(last_token_rows(h, mask))
        if kind in ("channel_mean", "last+channel_mean"):
            parts.append(channel_run_means(h, ids, self.layout.ts_id, len(self.config.channels)))
        return torch.cat(parts, dim=-1)

    def forward_head(self, hidden: torch.Tensor) -> torch.Tensor:
        """``(B, H)`` → ``(B, K)`` class logits."""
        if self.head is None:
            raise ValueError("this model has no classification head (SensorLLMConfig.labels is None)")
        return self.head(hidden.to(self.head.weight.dtype))

    def set_head_statistics(self, features: torch.Tensor, min_std: float = 1e-4) -> None:
        """:meth:`ClassifierHead.set_statistics` of this model's head (``features``: what the head reads)."""
        if self.head is None:
            raise ValueError("this model has no classification head (SensorLLMConfig.labels is None)")
        self.head.set_statistics(features, min_std)

    def forward_stage2(self, batch: SensorBatch, class_weights: torch.Tensor | None = None) -> Stage2Output:
        """Class logits from the head's features (:meth:`head_features`); weighted CE when ``batch.class_labels``
        is set.

        Args:
            batch: Stage-2 batch.
            class_weights: ``(K,)`` from :func:`class_weights_from_labels` (``None`` = unweighted).
        """
        hidden = self.head_features(batch)  # (B, head width)
        with record_function("sensorllm.head"):
            logits = self.forward_head(hidden)  # (B, K)
        if self.training:  # how far the logits move between windows, against between classes (diagnostics)
            lg = logits.detach().float()
            if lg.shape[0] > 1:
                self.signal_stats["logit_std_windows"] = float(lg.std(0).mean())
            self.signal_stats["logit_std_classes"] = float(lg.std(1).mean())
        loss = None
        if batch.class_labels is not None:
            w = None if class_weights is None else class_weights.to(logits.device, logits.dtype)
            loss = F.cross_entropy(
                logits.float(), batch.class_labels, weight=None if w is None else w.float()
            )
        return Stage2Output(logits=logits, loss=loss, hidden=hidden)

    def forward(self, batch: SensorBatch, stage: Literal[1, 2] = 2, **kwargs):
        """``stage=1`` → :meth:`forward_stage1`, ``stage=2`` → :meth:`forward_stage2`."""
        return self.forward_stage1(batch) if stage == 1 else self.forward_stage2(batch, **kwargs)
