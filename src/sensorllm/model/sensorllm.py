"""SensorLLM: a causal LM that reads wearable-sensor channels through a time-series encoder.

``SensorLLM`` is a plain ``nn.Module`` that *owns* its parts (composition, no subclassing of HF classes):

- ``llm``: any ``AutoModelForCausalLM`` (possibly wrapped by peft LoRA), frozen by default;
- ``encoder``: a :class:`~sensorllm.model.encoder.SensorEncoder` (Chronos-T5), frozen by default;
- ``projector``: the MLP mapping encoder embeddings to the LLM's hidden size;
- ``head``: Stage-2 ``Linear(H, K, bias=False)`` on the last non-pad token (only with class labels),
  optionally on per-feature standardised states (``head_standardize``, :class:`ClassifierHead`).

Data flow (``N`` = series in the batch, ``n_i`` = sensor tokens of series ``i``)::

    series (N × raw 1-D) ─encode→ N × (n_i, d_enc) ─project→ N × (n_i, H)
    input_ids (B, S) ─embed→ (B, S, H) ─splice by channel name→ inputs_embeds (B, S, H)
    Stage 1: LM loss on answer tokens only        Stage 2: head(h[last non-pad]) → (B, K)

Build one with :func:`~sensorllm.model.build.build_sensor_llm`; save/load with
:mod:`sensorllm.model.checkpoint`. Its configuration is :mod:`.sensorllm_config`, its head :mod:`.head`.

This module is one class on purpose: each method is one step of the model's forward paths (trainable parts, the
sensor path, Stage 1, Stage 2), and they share the model's private state (the key/value cache's argument name,
the token layout, the diagnostics); split over files, each step would reach into another file's object. What
needs none of that state (what the head reads from the states, the head's statistics) lives in :mod:`.head`.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.profiler import record_function

from .cache import EmbeddingCache
from .encoder import SensorEncoder
from .head import Stage1Output, Stage2Output, channel_run_means, last_token_rows
from .llm import unwrap_llm
from .projector import Projector, pooled_length
from .prompts import IGNORE_INDEX, PromptBuilder, SensorBatch, SensorTokenCount
from .sensorllm_config import SensorLLMConfig
from .splice import splice_sensor_embeddings
from .series_tokenizer import AllMissingError
from .tokens import (
    TokenLayout,
    TokenRows,
    embeddings_are_tied,
)

__all__ = ["SensorLLM"]


class SensorLLM(nn.Module):
    """The composed model. Construct with :func:`build_sensor_llm`.

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
        self.cache: EmbeddingCache | None = None
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

    # ---- parts & trainability -------------------------------------------------------------------
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

    def set_trainable(
        self,
        *,
        projector: bool = True,
        token_rows: bool = True,
        head: bool = True,
        lora: bool = True,
        encoder: bool | None = None,
    ) -> None:
        """Choose what trains. Everything else of the LLM stays frozen.

        Stage 1 (paper): projector + token rows. Stage 2 (paper): projector + head (token rows frozen);
        Stage 2 without alignment: projector + token rows + head. ``encoder`` defaults to
        ``config.encoder.trainable`` (and may not contradict it: the checkpoint format follows the config).
        """
        if encoder is None:
            encoder = self.config.encoder.trainable
        if encoder != self.config.encoder.trainable:
            raise ValueError(
                f"encoder trainable={encoder} contradicts "
                f"EncoderConfig.trainable={self.config.encoder.trainable}; "
                "set it in the config"
            )
        self.projector.requires_grad_(projector)
        if self.head is not None:
            self.head.requires_grad_(head)
        for p in self._lora_params:
            p.requires_grad_(lora)
        self.encoder.requires_grad_(encoder)
        if token_rows and self.token_rows.row_ids:  # no rows to train without channel markers
            self.token_rows.enable()
        else:
            self.token_rows.disable()

    def train(self, mode: bool = True) -> SensorLLM:
        """Train mode for trainable parts; a frozen encoder, and an LLM without LoRA, stay in eval mode."""
        super().train(mode)
        if not self.config.encoder.trainable:
            self.encoder.eval()
        if not self._lora_params:
            self.llm.eval()
        return self

    def param_groups(
        self, weight_decay: float = 0.0, head_lr: float | None = None, encoder_lr: float | None = None,
        encoder_group: bool = False,
    ) -> list[dict]:
        """Optimiser groups of the trainable parameters. The start/end token rows get weight decay 0 (the
        paper's token rows are embedding rows, which it does not decay). With ``head_lr`` the head is a group of
        its own with that learning rate. With ``encoder_lr`` or ``encoder_group`` a trainable encoder is a group
        of its own, named ``"encoder"`` (its rate: ``encoder_lr``, else the optimiser's), so that the training
        loop can hold it still for a first phase (``optim.encoder_freeze_steps``)."""
        rows = self.token_rows.rows
        own = {id(p) for p in self.head.parameters()} if head_lr is not None and self.head is not None else set()
        split_encoder = encoder_lr is not None or encoder_group
        enc = {id(p) for p in self.encoder.parameters()} if split_encoder else set()
        decay, no_decay, head, encoder = [], [], [], []
        seen: set[int] = set()
        for p in self.parameters():
            if not p.requires_grad or id(p) in seen:
                continue
            seen.add(id(p))
            if id(p) in own:
                head.append(p)
            elif id(p) in enc:
                encoder.append(p)
            else:
                (no_decay if p is rows or p.ndim < 2 else decay).append(p)
        groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0},
                  {"params": head, "weight_decay": weight_decay, "lr": head_lr},
                  {"params": encoder, "weight_decay": weight_decay, "name": "encoder",
                   **({"lr": encoder_lr} if encoder_lr is not None else {})}]
        return [g for g in groups if g["params"]]

    @torch.no_grad()
    def part_vectors(self) -> dict[str, torch.Tensor]:
        """A flat float32 copy of each trained part's values (projector, token rows, head, LoRA, encoder).
        For update/parameter ratios."""
        def flat(params) -> torch.Tensor | None:
            ps = [p.detach().float().reshape(-1) for p in params if p.requires_grad]
            return torch.cat(ps).cpu() if ps else None

        parts = {
            "projector": flat(self.projector.parameters()),
            "head": None if self.head is None else flat(self.head.parameters()),
            "lora": flat(self._lora_params),
            "encoder": flat(self.encoder.parameters()),
        }
        if self.token_rows.enabled:
            parts["token_rows"] = self.token_rows.rows.detach().float().reshape(-1).cpu()
        return {k: v for k, v in parts.items() if v is not None}

    def trainable_summary(self) -> dict[str, int]:
        """Trained parameter counts per part (token rows: the trained rows × H, all the optimiser holds)."""

        def count(mod: nn.Module | None) -> int:
            return 0 if mod is None else sum(p.numel() for p in mod.parameters() if p.requires_grad)

        return {
            "projector": count(self.projector),
            "token_rows": self.token_rows.rows.numel() if self.token_rows.enabled else 0,
            "head": count(self.head),
            "lora": sum(p.numel() for p in self._lora_params if p.requires_grad),
            "encoder": count(self.encoder),
            "llm_total": sum(p.numel() for p in self.hf_model.parameters()),
        }

    # ---- sensor path ----------------------------------------------------------------------------
    def enable_cache(self, root: str | Path, dtype: torch.dtype = torch.float32) -> EmbeddingCache:
        """Cache the frozen encoder's outputs under ``root`` (refused for a trainable encoder).

        Parameter-free pooling (``mean``, ``strided``) is applied before the cache, so entries are pooled;
        ``learned`` pooling trains, so entries are the unpooled encoder outputs and pooling runs after the
        cache. The namespace names which (:attr:`ProjectorConfig.cache_key`), so the two never mix.
        """
        if self.config.encoder.trainable:
            raise ValueError(
                "an embedding cache needs a frozen encoder (EncoderConfig.trainable=False); the "
                f"{self.config.encoder.kind!r} encoder here trains, so its outputs change every step"
            )
        namespace = f"{self.encoder.identity()}|{self.config.projector.cache_key}"
        self.cache = EmbeddingCache(root, namespace, dtype=dtype)
        return self.cache

    def _encode_stored(self, series: list[torch.Tensor]) -> list[torch.Tensor]:
        """The cacheable part: encoder outputs, pooled here only when pooling has no parameters."""
        encoded = self.encoder.encode(series)  # N × (T'_i + 1, d_enc)
        if self.config.projector.pool_is_trainable:
            return encoded
        return self.projector.pool_series(encoded)

    def encode(
        self, series: Sequence[torch.Tensor], series_channel: Sequence[str], series_example: Sequence[int]
    ) -> list[torch.Tensor]:
        """Encode and pool every series.

        Args:
            series: ``N`` raw 1-D series.
            series_channel / series_example: names and example indices (for error messages).

        Returns:
            ``N`` tensors ``(num_sensor_tokens(len_i), d_enc)``: float32 on the encoder's device, or for
            ``pool_mode='learned'`` on the projector's device and dtype (with gradients to the pooler).

        Raises:
            AllMissingError: a series has no finite sample (names the channel and example).
        """
        for s, name, b in zip(series, series_channel, series_example, strict=True):
            if not bool(torch.isfinite(s).any()):
                raise AllMissingError(
                    f"example {b}, channel {name!r}: every sample is NaN/inf (nothing to encode)"
                )
        with record_function("sensorllm.encode"):
            return self._encode_checked(list(series))

    def _encode_checked(self, series: list[torch.Tensor]) -> list[torch.Tensor]:
        """:meth:`encode` after its checks: from the cache, or the encoder (with gradients only if it trains)."""
        device = self.encoder.device
        if self.cache is not None and not self.config.encoder.trainable:
            out = self.cache.get_or_compute(series, self._encode_stored)
            stored = [e.to(device=device, dtype=torch.float32) for e in out]
        elif self.config.encoder.trainable:
            stored = self._encode_stored(series)
        else:
            with torch.no_grad():
                stored = self._encode_stored(series)
        if self.config.projector.pool_is_trainable:
            return self.projector.pool_series(stored)  # N × (num_sensor_tokens, d_enc), after the cache
        return stored

    def project(self, encoded: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """``N × (n_i, d_enc)`` → ``N × (n_i, H)`` (one projector call over all tokens)."""
        sizes = [e.shape[0] for e in encoded]
        flat = torch.cat(list(encoded), dim=0)  # (Σn_i, d_enc)
        dtype = next(self.projector.parameters()).dtype
        with record_function("sensorllm.project"):
            return list(torch.split(self.projector(flat.to(dtype)), sizes, dim=0))

    def build_inputs_embeds(self, batch: SensorBatch) -> torch.Tensor:
        """``(B, S, H)`` token embeddings with every channel's sensor embeddings spliced in by name."""
        hf = self.hf_model
        text = self.token_rows.apply(batch.input_ids, hf.get_input_embeddings()(batch.input_ids))  # (B, S, H)
        if not batch.series:
            return text
        encoded = self.encode(batch.series, batch.series_channel, batch.series_example)
        projected = self.project(encoded)
        if self.training:  # diagnostics for train_log.csv; evaluation and prediction skip them
            self._measure_embeddings(text, batch, projected)
        return splice_sensor_embeddings(
            text, batch.input_ids, projected, batch.series_example, batch.series_channel, self.layout,
            channel_markers=self.config.channel_markers,
        )

    @torch.no_grad()
    def _measure_embeddings(self, text: torch.Tensor, batch: SensorBatch, projected: list[torch.Tensor]) -> None:
        """RMS of the text-token embeddings, of the projected sensor tokens and of their token-to-token varying
        part (the rest is a shared offset) into :attr:`signal_stats`."""
        real = batch.attention_mask.bool() & (batch.input_ids != self.layout.ts_id)
        self.signal_stats["text_rms"] = float(text[real].float().pow(2).mean().sqrt())
        flat = torch.cat([p.detach().float() for p in projected])
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
        loss = F.cross_entropy(
            logits.float().reshape(-1, logits.shape[-1]), tgt.reshape(-1), ignore_index=IGNORE_INDEX
        )
        return Stage1Output(loss=loss, num_tokens=int((tgt != IGNORE_INDEX).sum()))

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
        ``prompts.collate(..., padding_side="left")``.
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
