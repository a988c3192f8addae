"""What trains in a SensorLLM: choosing the trained parts, their optimiser groups, and what the training log
reports about them (parameter counts, flat copies for update ratios).

:class:`TrainableParts` is a base class of :class:`~sensorllm.model.sensorllm.SensorLLM`; its methods read the
model's parts (``projector``, ``head``, ``encoder``, ``token_rows``, the LoRA parameters, ``config``).
"""

from __future__ import annotations

import torch
from torch import nn

from .sensorllm_config import SensorLLMConfig
from .tokens import TokenRows

__all__ = ["TrainableParts"]


class TrainableParts:
    """The trainability methods of :class:`~sensorllm.model.sensorllm.SensorLLM` (see there for the parts)."""

    config: SensorLLMConfig
    projector: nn.Module
    head: nn.Module | None
    encoder: nn.Module
    token_rows: TokenRows
    _lora_params: list[nn.Parameter]  # what peft left trainable right after wrapping the LLM

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
