"""Open-vocabulary recognition: classify windows with label texts the model was never tuned on.

Stage 2 of the paper trains a fixed-class linear head, so a new activity needs a new training run. Here a
Stage-1-aligned model (no head needed) is used two ways:

* **zero-shot** (:class:`LabelScorer`): for each window and each candidate label, the log-likelihood of the
  label as the assistant's answer to an activity question, given the sensor prompt. The question lists the
  candidates (name plus an optional one-line description), the same way for every window. The score of a
  label is the mean log-probability of its answer tokens — the label text and the chat template's end of
  turn, so that a label is not rewarded for being a prefix of a longer one (``walking`` vs ``walking
  upstairs``). By default the scores are calibrated: each label's mean score on a few seeded white-noise
  windows (content-free inputs) is subtracted, which removes the model's preference for some label texts
  regardless of the data (contextual calibration, Zhao et al., ICML 2021). The predicted class is the
  best-scoring label.
* **few-shot** (:class:`FewShotHead`): ``k`` labelled windows per class are embedded by the LLM (the final
  hidden state at the end of the same prompt, where the answer would begin) and a nearest-class-mean
  (cosine) or logistic-regression head is fitted on them. Fitting takes seconds and touches no model weight.

Both accept the channels a dataset has as long as the model has tokens for them (a model aligned on
UCI-HAR's ``x_acc … z_gyro`` reads BasicMotions, same names, and Epilepsy's accelerometer only).
``sensorllm evaluate --labels "walking,running,…"`` runs them on a prepared split.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from sensorllm.data.collate import collate
from sensorllm.model.prompts import IGNORE_INDEX, Stage1Example

from sensorllm.eval.classmeans import class_mean_scores, fit_class_means

__all__ = [
    "DEFAULT_QUESTION",
    "FewShotHead",
    "LabelScorer",
    "LabelText",
    "evaluate_open_vocab",
    "match_labels",
    "parse_labels",
    "window_features",
]

DEFAULT_QUESTION = "Which activity is the person doing while these sensor readings are recorded?"


@dataclass(frozen=True)
class LabelText:
    """A candidate label: the ``name`` is the scored answer, ``description`` only helps the question."""

    name: str
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("a label needs a non-empty name")


def parse_labels(spec: str) -> list[LabelText]:
    """Labels from ``"walking, running: moving fast, sitting"`` or from a file (``@labels.json`` / ``@x.txt``).

    Entries are separated by commas (or one per line in a ``.txt`` file); ``name: description`` adds a
    description. A JSON file holds ``[{"name": …, "description": …}, …]`` or ``{"name": "description"}``.

    Raises:
        ValueError: no label, an empty name, or a name given twice.
        FileNotFoundError: ``@file`` does not exist.
    """
    if spec.startswith("@"):
        path = Path(spec[1:])
        if not path.is_file():
            raise FileNotFoundError(f"label file {path} does not exist")
        text = path.read_text()
        if path.suffix == ".json":
            obj = json.loads(text)
            items = ([LabelText(k, v or "") for k, v in obj.items()] if isinstance(obj, dict)
                     else [LabelText(d["name"], d.get("description", "")) for d in obj])
            return _check_unique(items, str(path))
        entries = [ln for ln in text.splitlines() if ln.strip()]
    else:
        entries = [e for e in spec.split(",") if e.strip()]
    items = []
    for e in entries:
        name, _, desc = e.partition(":")
        if not name.strip():
            raise ValueError(f"label entry {e!r} has an empty name")
        items.append(LabelText(name.strip(), desc.strip()))
    return _check_unique(items, spec)


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", name.strip().lower())


def _check_unique(items: list[LabelText], where: str) -> list[LabelText]:
    if not items:
        raise ValueError(f"no labels in {where!r}")
    seen: set[str] = set()
    for it in items:
        if _norm(it.name) in seen:
            raise ValueError(f"label {it.name!r} is given twice in {where!r}")
        seen.add(_norm(it.name))
    return items


def match_labels(labels: Sequence[LabelText], class_names: Sequence[str], where: str) -> list[int]:
    """For each dataset class, the index of its label (names compared case-, space-, ``_``/``-``-insensitively).

    Extra labels (distractors) are allowed; a class without a label is an error naming it.
    """
    index = {_norm(lab.name): i for i, lab in enumerate(labels)}
    missing = [c for c in class_names if _norm(c) not in index]
    if missing:
        raise ValueError(f"{where}: classes {missing} have no label among {[lab.name for lab in labels]}")
    return [index[_norm(c)] for c in class_names]


def label_question(labels: Sequence[LabelText], question: str = DEFAULT_QUESTION) -> str:
    """The question with the candidate list: ``… Options: walking (moving on foot); running.``"""
    opts = "; ".join(f"{lab.name} ({lab.description})" if lab.description else lab.name for lab in labels)
    return f"{question} Options: {opts}. Answer with one option."


def _check_model_channels(model, channels: Sequence[str], where: str) -> None:
    unknown = [c for c in channels if c not in model.channels]
    if unknown:
        raise ValueError(f"{where}: the model has no tokens for channels {unknown} (its channels: "
                         f"{model.channels}); align a model on data with these channel names")


def _base(model):
    return getattr(model, "module", model)


class LabelScorer:
    """Zero-shot scores: mean answer-token log-probability of each label given each window's prompt.

    The prompt (system text, sensor tokens, question with the candidate list) is the same for every label of a
    window, so it runs through the LLM once: its key/value cache is shared by the ``K`` label continuations,
    which are only the answer tokens. That is the same score as ``K`` full forward passes (tested against the
    Stage-1 loss) at about ``1/K`` of the compute, and each window's series are encoded once.

    Args:
        model: a :class:`~sensorllm.model.SensorLLM` (Stage-1-aligned; a head, if any, is not used).
        labels: the candidates.
        rate_hz: sampling rate written in the system prompt.
        question: the activity question (the candidate list is appended).
        normalize: ``mean`` (per answer token, default) or ``sum`` log-probability.
        batch_size: windows per prompt forward pass (their ``K`` continuations run together).
    """

    def __init__(self, model, labels: Sequence[LabelText], rate_hz: float, question: str = DEFAULT_QUESTION,
                 normalize: Literal["mean", "sum"] = "mean", batch_size: int = 8) -> None:
        if normalize not in ("mean", "sum"):
            raise ValueError(f"normalize must be 'mean' or 'sum', not {normalize!r}")
        if not labels:
            raise ValueError("no candidate labels to score")
        self.model = _base(model)
        self.labels = list(labels)
        self.rate_hz = float(rate_hz)
        self.question = label_question(self.labels, question)
        self.normalize = normalize
        self.batch_size = max(1, int(batch_size))

    def _examples(self, series: Mapping[str, np.ndarray]) -> list:
        n = max(len(v) for v in series.values())
        system = self.model.prompts.system_prompt(n, self.rate_hz)
        return [self.model.prompts.stage1(series, self.question, lab.name, system=system, rate_hz=self.rate_hz)
                for lab in self.labels]

    def _split(self, series: Mapping[str, np.ndarray]) -> tuple[Stage1Example, list[list[int]]]:
        """One window → (its prompt as a generation example, the ``K`` answers' token ids)."""
        exs = self._examples(series)
        starts = [next(i for i, t in enumerate(e.labels) if t != IGNORE_INDEX) for e in exs]
        cut = starts[0]
        for e, first in zip(exs, starts, strict=True):
            if first != cut or e.input_ids[:cut] != exs[0].input_ids[:cut]:
                raise RuntimeError("the label prompts of one window differ before the answer; cannot share them")
        prompt = Stage1Example(exs[0].input_ids[:cut], [IGNORE_INDEX] * cut, exs[0].series)
        return prompt, [e.input_ids[cut:] for e in exs]

    @torch.inference_mode()
    def score(self, windows: Sequence[Mapping[str, np.ndarray]]) -> np.ndarray:
        """``(N, K)`` scores (higher = more likely) for ``N`` windows (channel name → 1-D series)."""
        m = self.model
        was_training = m.training
        m.eval()
        device = next(m.projector.parameters()).device
        K = len(self.labels)
        out = np.empty((len(windows), K), dtype=np.float64)
        for a in range(0, len(windows), self.batch_size):
            split = [self._split(w) for w in windows[a : a + self.batch_size]]
            out[a : a + len(split)] = self._score_batch(m, split, device).reshape(len(split), K).cpu().numpy()
        m.train(was_training)
        return out

    def _score_batch(self, m, split, device) -> torch.Tensor:
        """``(B·K,)`` scores: one left-padded prompt pass, then the answers on the repeated cache."""
        K = len(self.labels)
        prompts = collate(m.prompts, [p for p, _ in split], padding_side="left").to(device)
        pmask = prompts.attention_mask  # (B, P)
        ppos = (pmask.cumsum(1) - 1).clamp(min=0)  # positions count real tokens only (left padding)
        last, cache = m.prompt_pass(prompts, position_ids=ppos)
        cache.batch_repeat_interleave(K)
        first = torch.log_softmax(last.float(), dim=-1).repeat_interleave(K, dim=0)  # (B·K, V)
        answers = [ids for _, ans in split for ids in ans]
        T = max(len(x) for x in answers)
        ids = torch.full((len(answers), T), m.layout.pad_id, dtype=torch.long, device=device)
        amask = torch.zeros_like(ids)
        for i, x in enumerate(answers):
            ids[i, : len(x)] = torch.tensor(x, device=device)
            amask[i, : len(x)] = 1
        start = pmask.sum(1).repeat_interleave(K).unsqueeze(1)  # (B·K, 1) prompt lengths
        apos = start + torch.arange(T, device=device).unsqueeze(0)
        mask = torch.cat([pmask.repeat_interleave(K, dim=0), amask], dim=1)
        logits = m.continue_from_cache(ids, mask, apos, cache).float()  # (B·K, T, V): position t predicts t+1
        lp = torch.cat([first.gather(-1, ids[:, :1]),
                        torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)],
                       dim=1)  # (B·K, T) log-probability of every answer token
        total = (lp * amask).sum(1)
        return total / amask.sum(1) if self.normalize == "mean" else total


def noise_windows(template: Mapping[str, np.ndarray], n: int = 4, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """``n`` seeded white-noise windows with the channels and length of ``template``: content-free inputs for
    calibrating label scores (they carry no activity, so what the model prefers on them is label prior)."""
    rng = np.random.default_rng([seed, 31337])
    return [{c: rng.standard_normal(len(v)) for c, v in template.items()} for _ in range(n)]


def calibrated(scores: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Label scores minus each label's mean score on content-free inputs (contextual calibration, Zhao et al.
    2021): removes the preference a model has for some label texts whatever the sensor data say."""
    return np.asarray(scores) - np.asarray(prior).mean(0, keepdims=True)


@torch.inference_mode()
def window_features(model, windows: Sequence[Mapping[str, np.ndarray]], rate_hz: float,
                    question: str = DEFAULT_QUESTION, batch_size: int = 8) -> np.ndarray:
    """``(N, H)`` LLM features: the final hidden state at the end of the generation prompt (where the answer
    would start), for a question without a candidate list (the support set defines the classes)."""
    m = _base(model)
    was_training = m.training
    m.eval()
    device = next(m.projector.parameters()).device
    feats = []
    for a in range(0, len(windows), batch_size):
        exs = []
        for w in windows[a : a + batch_size]:
            n = max(len(v) for v in w.values())
            exs.append(m.prompts.stage1(w, question, None, system=m.prompts.system_prompt(n, rate_hz), rate_hz=rate_hz))
        feats.append(m.last_hidden(collate(m.prompts, exs, padding_side="left").to(device)).float().cpu())
    m.train(was_training)
    return torch.cat(feats).numpy() if feats else np.zeros((0, m.hidden_size), dtype=np.float32)


class FewShotHead:
    """A head fitted on a few labelled feature vectors.

    ``ncm``: cosine similarity to each class's mean of standardised, L2-normalised features (no
    hyper-parameter; the nearest-class-mean rule of the ``chronos-ncm`` baseline,
    :func:`~sensorllm.eval.classmeans.fit_class_means`). ``logreg``: multinomial logistic regression
    (scikit-learn, L2, C=1) on standardised features. Standardisation statistics come from the support set only.
    """

    def __init__(self, kind: Literal["ncm", "logreg"] = "ncm", seed: int = 0) -> None:
        if kind not in ("ncm", "logreg"):
            raise ValueError(f"few-shot head must be 'ncm' or 'logreg', not {kind!r}")
        self.kind = kind
        self.seed = seed

    def _standardise(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - self.mean) / self.std

    def fit(self, x: np.ndarray, y: Sequence[int], num_classes: int) -> FewShotHead:
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.int64)
        absent = sorted(set(range(num_classes)) - set(y.tolist()))
        if absent:
            raise ValueError(f"the support set has no example of classes {absent}")
        self.num_classes = num_classes
        self.mean = x.mean(0)
        self.std = x.std(0) + 1e-6
        z = self._standardise(x)
        if self.kind == "ncm":
            self.centroids = fit_class_means(z, y, num_classes)
        else:
            from sklearn.linear_model import LogisticRegression

            self.clf = LogisticRegression(C=1.0, max_iter=2000, random_state=self.seed).fit(z, y)
        return self

    def scores(self, x: np.ndarray) -> np.ndarray:
        """``(N, K)`` class scores (cosine similarities or log-probabilities)."""
        z = self._standardise(x)
        if self.kind == "ncm":
            return class_mean_scores(z, self.centroids)
        out = np.full((len(z), self.num_classes), -np.inf)
        out[:, self.clf.classes_] = self.clf.predict_log_proba(z)
        return out


def support_indices(labels: Sequence[int], shots: int, num_classes: int, seed: int) -> np.ndarray:
    """Seeded ``shots`` indices per class (all of a class when it has fewer; at least one is needed)."""
    y = np.asarray(labels)
    rng = np.random.default_rng([seed, 7919])
    picks = []
    for k in range(num_classes):
        idx = np.flatnonzero(y == k)
        if idx.size == 0:
            raise ValueError(f"class {k} has no window to draw few-shot examples from")
        picks.append(rng.choice(idx, size=min(shots, idx.size), replace=False))
    return np.sort(np.concatenate(picks))


def _windows(data, split: str, channels: Sequence[str], limit: int | None, seed: int):
    from sensorllm.data.items import subset

    ws = data.stage2(split)
    idx = [data.channel_names.index(c) for c in channels]
    keep = subset(len(ws), limit, seed)
    wins = [{c: np.asarray(ws.windows[i][:, j], dtype=np.float64) for c, j in zip(channels, idx)} for i in keep]
    return wins, np.asarray(ws.labels)[keep]


def evaluate_open_vocab(model_path: str | Path, data_path: str | Path, labels: Sequence[LabelText],
                        split: str = "test", out: str | Path | None = None, shots: int = 0,
                        support_split: str = "train", head: Literal["ncm", "logreg"] = "ncm", seed: int = 0,
                        limit: int | None = None, batch_size: int = 8, question: str = DEFAULT_QUESTION,
                        calibrate: Literal["noise", "none"] = "noise", device: str = "cpu") -> dict:
    """Score a model on ``split`` with label texts instead of its head; writes metrics.json and a report.

    ``shots == 0``: zero-shot label scoring, by default calibrated (:func:`calibrated`) on seeded noise windows
    (``calibrate="none"``: raw scores; the metrics keep the uncalibrated numbers too). ``shots > 0``: a few-shot head fitted on ``shots`` seeded
    windows per class of ``support_split`` (never the evaluated split).
    """
    from sensorllm.datasets.prepared import open_prepared

    from sensorllm.eval.metrics import classification_metrics, write_classification_report

    from .artifact import load_sensorllm, resolve_model_dir

    if shots and support_split == split:
        raise ValueError(f"the few-shot support set must come from another split than the evaluated {split!r}")
    model, meta = load_sensorllm(model_path, device)
    data = open_prepared(data_path)
    _check_model_channels(model, data.channel_names, str(data_path))
    if split not in data.splits():
        raise ValueError(f"{data_path} has no '{split}' windows (splits: {data.splits()})")
    order = match_labels(labels, data.class_names, str(data_path))
    channels = [c for c in model.channels if c in data.channel_names]
    out_dir = Path(out) if out else Path(model_path) / f"eval-{split}-openvocab-{shots}shot"
    out_dir.mkdir(parents=True, exist_ok=True)
    wins, y = _windows(data, split, channels, limit, seed)
    t0 = time.time()
    extra: dict = {}
    if shots == 0:
        scorer = LabelScorer(model, labels, data.rate_hz, question, batch_size=batch_size)
        raw = scorer.score(wins)
        # Map predicted label indices to dataset classes; a distractor prediction counts as wrong (-1).
        to_class = {li: ci for ci, li in enumerate(order)}
        to_pred = lambda sc: np.array([to_class.get(int(p), -1) for p in sc.argmax(1)])  # noqa: E731
        if calibrate == "noise":
            prior = scorer.score(noise_windows(wins[0], seed=seed))
            scores = calibrated(raw, prior)
            m_raw = classification_metrics(y.tolist(), np.where(to_pred(raw) < 0, len(data.class_names),
                                                                 to_pred(raw)).tolist(), data.class_names)
            extra["uncalibrated"] = {k: m_raw[k] for k in ("accuracy", "f1_macro", "f1_weighted")}
            np.save(out_dir / "scores_uncalibrated.npy", raw.astype(np.float32))
        else:
            scores = raw
        y_pred = to_pred(scores)
        mode = "zero-shot label scoring" + (", calibrated on 4 noise windows" if calibrate == "noise" else "")
    else:
        s_wins, s_y = _windows(data, support_split, channels, None, seed)
        pick = support_indices(s_y, shots, len(data.class_names), seed)
        f_support = window_features(model, [s_wins[i] for i in pick], data.rate_hz, question, batch_size)
        fitted = FewShotHead(head, seed).fit(f_support, s_y[pick], len(data.class_names))
        scores = fitted.scores(window_features(model, wins, data.rate_hz, question, batch_size))
        y_pred = scores.argmax(1)
        mode = f"{shots}-shot {head} head on LLM features ({len(pick)} support windows from {support_split!r})"
    names = list(data.class_names)
    n_distractor = int((y_pred < 0).sum())
    # A distractor prediction is wrong for every class: it lowers accuracy and recall, not any precision.
    y_pred = np.where(y_pred < 0, len(names), y_pred)
    metrics = classification_metrics(y.tolist(), y_pred.tolist(), names)
    metrics.update({**extra, "distractor_predictions": n_distractor,"split": split, "mode": mode, "shots": shots, "seed": seed,
                    "labels": [{"name": lab.name, "description": lab.description} for lab in labels],
                    "random_init_encoder": bool(meta["encoder"].get("is_random_init")),
                    "seconds": round(time.time() - t0, 2)})
    np.save(out_dir / "scores.npy", np.asarray(scores, dtype=np.float32))
    notes = [f"model: `{resolve_model_dir(model_path)}`", f"data: `{data_path}` split `{split}`", f"mode: {mode}",
             "labels: " + ", ".join(lab.name for lab in labels)]
    if meta["encoder"].get("is_random_init"):
        notes.append(f"the time-series encoder is RANDOM-INIT (`{meta['encoder']['source']}`; no pretrained "
                     "weights here): these numbers do not measure a pretrained encoder")
    report = write_classification_report(metrics, out_dir, f"SensorLLM open-vocabulary on {data.name} ({split})",
                                         notes)
    print(f"{data.name} {split} ({mode}): accuracy {metrics['accuracy']:.4f}  F1-macro {metrics['f1_macro']:.4f}  "
          f"({metrics['n']} windows, {metrics['seconds']:.0f}s)\nreport: {report}")
    return metrics
