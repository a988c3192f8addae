"""The Chronos feature baselines, classifiers on frozen Chronos window features: the paper's "Chronos+MLP"
and a nearest-class-mean one, with their save/load.

Both are registered as baselines of the ``features`` kind (built as ``Class(seed=..., rate_hz=...,
**model_args)``) and read their features from :class:`~.chronos_features.ChronosWindowFeatures`:

* ``chronos-mlp`` (:class:`ChronosMLP`): features standardised with the training mean/std, an MLP with one
  hidden ReLU layer and dropout, AdamW, early stopping on validation F1-macro (the harness's model-selection
  rule; the test split is never seen during fitting).
* ``chronos-ncm`` (:class:`ChronosNCM`): standardised features, L2-normalised, one mean per class; a window
  gets the class whose mean has the highest cosine similarity. Nothing is trained.

The nearest-class-mean rule itself is :mod:`sensorllm.eval.classmeans` (also used by few-shot open-vocabulary
recognition); the model-argument checks are :mod:`.chronos_args`. Fitted models are saved as safetensors with
a JSON metadata block (no pickle) and rebuilt by ``Class.load(path)``, which checks that the rebuilt encoder
has the same weight fingerprint.

Without ``pretrained`` the encoder is a seeded **random initialisation** (the only one available offline);
such features measure the pipeline, not Chronos, and every report says so.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np
import torch

from sensorllm.classifier import Classifier, one_hot, scatter_classes, softmax
from sensorllm.eval.classmeans import fit_class_means, predict_class_means
from sensorllm.model.encoder import EncoderConfig
from sensorllm.model.series_tokenizer import TokenizerConfig
from sensorllm.utils import class_weights_from_labels

from .chronos_args import encoder_arg_problems, is_int, is_number
from .chronos_features import ChronosWindowFeatures

__all__ = [
    "ChronosMLP",
    "ChronosNCM",
]


class _ChronosFeatureModel(Classifier):
    """Shared part of the Chronos feature baselines: the featuriser, feature standardisation, save/load."""

    default_batch_size = 512
    FORMAT: ClassVar[str]
    NAME: ClassVar[str]

    def __init__(self, seed: int, rate_hz: float, settings: dict[str, Any]) -> None:
        type(self).check_model_args(settings)
        self.seed = int(seed)
        self.rate_hz = float(rate_hz)
        self.settings = dict(settings)
        kind = settings.get("tokenizer")  # None: the encoder's default (z-normalising, or a pretrained dir's own)
        self.encoder_config = EncoderConfig(kind=settings["encoder"], pretrained=settings["pretrained"],
                                            size=settings["encoder_size"], seed=settings["encoder_seed"],
                                            tokenizer=TokenizerConfig(kind=kind) if kind else None)
        self.featurizer = ChronosWindowFeatures(
            self.encoder_config, include_eos=settings["include_eos"], cache_dir=settings["cache_dir"],
            chunk_windows=settings["chunk_windows"], device=settings["device"])
        self.feat_mean: np.ndarray | None = None
        self.feat_std: np.ndarray | None = None
        self.embed_time_s = 0.0

    @classmethod
    def model_arg_problems(cls, args: dict[str, Any]) -> list[str]:
        return encoder_arg_problems(args)

    @classmethod
    def check_model_args(cls, args: dict[str, Any]) -> None:
        """Raise one ``ValueError`` listing every invalid model argument (called by the registry up front)."""
        problems = cls.model_arg_problems(args)
        if problems:
            raise ValueError(f"baseline {cls.NAME!r}: " + "; ".join(problems))

    def features(self, windows: np.ndarray, what: str = "windows") -> np.ndarray:
        """Raw (unstandardised) features ``(N, C * d)``."""
        t0 = time.perf_counter()
        f = self.featurizer(windows, what=what)
        self.embed_time_s += time.perf_counter() - t0
        return f

    def _standardise(self, f: np.ndarray) -> np.ndarray:
        assert self.feat_mean is not None and self.feat_std is not None, "fit() or load() first"
        if f.shape[1] != len(self.feat_mean):
            raise ValueError(f"{self.NAME}: windows give {f.shape[1]} features, the model was fitted on "
                             f"{len(self.feat_mean)} (a different number of channels?)")
        return (f - self.feat_mean) / self.feat_std

    def _fit_standardiser(self, f: np.ndarray) -> None:
        self.feat_mean = f.mean(axis=0).astype(np.float32)
        std = f.std(axis=0)
        self.feat_std = np.where(std > 1e-6, std, 1.0).astype(np.float32)

    def _log(self, msg: str) -> None:
        print(f"{self.NAME}: {msg}", flush=True)

    def _encoder_summary(self) -> dict[str, Any]:
        fz = self.featurizer
        out: dict[str, Any] = {
            "encoder": fz.source, "encoder_random_init": fz.is_random_init, "pooling": fz.pooling,
            "feature_dim": None if self.feat_mean is None else int(len(self.feat_mean)),
            "embed_time_s": round(self.embed_time_s, 3),
        }
        if fz.cache is not None:
            out.update(cache_hits=fz.cache.hits, cache_misses=fz.cache.misses)
        return out

    def _notes(self) -> list[str]:
        fz = self.featurizer
        if fz.is_random_init:
            enc = (f"encoder: **random-init** Chronos-T5-{self.encoder_config.size} (seed "
                   f"{self.encoder_config.seed}), not pretrained weights: these numbers measure the "
                   "pipeline, not Chronos")
        else:
            enc = f"encoder: pretrained Chronos-T5 from `{fz.source}`"
        dim = self._encoder_summary()["feature_dim"]
        return [f"{enc}; features: {fz.pooling}, channels concatenated ({dim}-d)"]

    # ---- save / load -----------------------------------------------------------------------------------
    def _tensors(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def save(self, path: str | Path) -> None:
        """Write the fitted model to ``path`` (safetensors tensors + JSON metadata; no pickle)."""
        from safetensors.torch import save_file

        assert self.feat_mean is not None and self.feat_std is not None, "fit() first"
        tensors = {"feat_mean": torch.from_numpy(self.feat_mean), "feat_std": torch.from_numpy(self.feat_std),
                   **self._tensors()}
        meta = {"format": self.FORMAT, "seed": str(self.seed), "rate_hz": repr(self.rate_hz),
                "settings": json.dumps(self.settings, sort_keys=True),
                "encoder_config": json.dumps(self.encoder_config.to_json(), sort_keys=True),
                "encoder_identity": self.featurizer.encoder.identity(),
                "encoder_random_init": json.dumps(self.featurizer.is_random_init),
                "pooling": self.featurizer.pooling}
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(path), metadata=meta)

    def _load_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        raise NotImplementedError

    @classmethod
    def load(cls, path: str | Path, *, cache_dir: str | None = None, device: str | None = None) -> Any:
        """Rebuild a model saved by :meth:`save`; its ``predict(windows)`` then works as after ``fit``.

        The encoder is rebuilt from the stored config (random-init: same size and seed; pretrained: the same
        hub id or directory must be available) and must have the stored weight fingerprint.

        Args:
            path: the ``model.safetensors`` file.
            cache_dir: embedding cache to use for predictions (the stored one is not reused by default).
            device: where the encoder runs (``None``: ``auto``).

        Raises:
            ValueError: wrong format, or the rebuilt encoder's weights differ from the saved ones.
        """
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
            if meta.get("format") != cls.FORMAT:
                raise ValueError(f"{path}: not a {cls.NAME} model (format {meta.get('format')!r}, "
                                 f"expected {cls.FORMAT!r})")
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
        settings = {**json.loads(meta["settings"]), "cache_dir": cache_dir, "device": device or "auto"}
        model = cls(int(meta["seed"]), float(meta["rate_hz"]), **settings)
        got = model.featurizer.encoder.identity()
        if got != meta["encoder_identity"]:
            raise ValueError(f"{path}: the rebuilt encoder ({model.featurizer.source}) has fingerprint "
                             f"{got!r}, the model was fitted with {meta['encoder_identity']!r}")
        model.feat_mean = tensors.pop("feat_mean").numpy()
        model.feat_std = tensors.pop("feat_std").numpy()
        model._load_tensors(tensors)
        return model


class ChronosNCM(_ChronosFeatureModel):
    """``chronos-ncm``: cosine nearest class mean on standardised frozen-Chronos features (no training).

    Args:
        seed: unused by the rule (kept for the harness; results do not depend on it).
        rate_hz: sampling rate (recorded only).
        encoder_size: Chronos-T5 shape of the random initialisation (ignored with ``pretrained``).
        encoder_seed: seed of the random initialisation.
        pretrained: hub id or local directory of a Chronos-T5 checkpoint; ``None`` = random init.
        tokenizer: ``std_uniform`` (z-normalising, the paper's) or ``mean_scale`` (Chronos' own, keeps the offset
            relative to the scale); ``None`` = the encoder's default (a pretrained directory's recorded one).
        cache_dir: embedding cache directory (``None`` = none).
        include_eos: add the EOS position to the time mean.
        chunk_windows: windows per encoder chunk.
        device: where the encoder runs (``auto``, ``cpu``, ``cuda``, ``cuda:N``).
        standardize: standardise features with the training mean/std before L2 normalisation.
    """

    FORMAT = "sensorllm-chronos-ncm-v1"
    NAME = "chronos-ncm"
    gives_probabilities = False

    def __init__(self, seed: int, rate_hz: float, *, encoder_size: str = "tiny", encoder_seed: int = 0,
                 pretrained: str | None = None, cache_dir: str | None = None, include_eos: bool = False,
                 chunk_windows: int = 256, device: str = "auto", standardize: bool = True,
                 tokenizer: str | None = None, encoder: str = "chronos") -> None:
        super().__init__(seed, rate_hz, dict(
            encoder=encoder, encoder_size=encoder_size, encoder_seed=encoder_seed, pretrained=pretrained,
            cache_dir=cache_dir, include_eos=include_eos, chunk_windows=chunk_windows, device=device,
            standardize=standardize, tokenizer=tokenizer))
        self.means: np.ndarray | None = None

    @classmethod
    def model_arg_problems(cls, args: dict[str, Any]) -> list[str]:
        problems = super().model_arg_problems(args)
        if not isinstance(args.get("standardize"), bool):
            problems.append(f"standardize must be true or false, got {args.get('standardize')!r}")
        return problems

    def _prepare(self, f: np.ndarray) -> np.ndarray:
        return self._standardise(f) if self.settings["standardize"] else f

    def fit(self, windows: np.ndarray, labels: np.ndarray) -> ChronosNCM:
        """Class means of the training windows' normalised features."""
        f = self.features(windows, "train windows")
        self._fit_standardiser(f)
        if not self.settings["standardize"]:
            self.feat_mean = np.zeros_like(self.feat_mean)
            self.feat_std = np.ones_like(self.feat_std)
        self.means = fit_class_means(self._prepare(f), np.asarray(labels, dtype=np.int64))
        return self

    def predict(self, windows: np.ndarray) -> np.ndarray:
        assert self.means is not None, "fit() or load() first"
        return predict_class_means(self._prepare(self.features(windows)), self.means)

    def predict_proba(self, windows: np.ndarray, indices: Sequence[int] | None = None,
                      batch_size: int | None = None) -> np.ndarray:
        """No probabilities: 1 for the nearest class mean (windows cast to float32 first)."""
        return self.window_proba(windows, lambda w, k: one_hot(self.predict(w), k))

    def fit_summary(self) -> dict[str, Any]:
        """Extras for the harness's metrics (``notes`` go to the report)."""
        return {**self._encoder_summary(), "trainable_params": 0, "notes": self._notes()}

    def _tensors(self) -> dict[str, torch.Tensor]:
        assert self.means is not None, "fit() first"
        return {"class_means": torch.from_numpy(self.means)}

    def _load_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        if set(tensors) != {"class_means"}:
            raise ValueError(f"chronos-ncm weights: expected class_means, got {sorted(tensors)}")
        self.means = tensors["class_means"].numpy()


def _mlp(d_in: int, hidden: int, k: int, dropout: float) -> torch.nn.Sequential:
    return torch.nn.Sequential(torch.nn.Linear(d_in, hidden), torch.nn.ReLU(), torch.nn.Dropout(dropout),
                               torch.nn.Linear(hidden, k))


class ChronosMLP(_ChronosFeatureModel):
    """``chronos-mlp`` (paper Table 2, "Chronos+MLP"): standardised frozen-Chronos features → MLP.

    ``Linear(C*d, hidden) → ReLU → Dropout → Linear(hidden, K)``, cross-entropy, AdamW, shuffled
    mini-batches. With validation data, the state with the best validation F1-macro is kept and training stops
    after ``patience`` epochs without improvement; without it, ``epochs`` epochs are trained and the last
    state is kept.

    Args:
        seed: MLP initialisation, dropout and batch order (the encoder has its own ``encoder_seed``).
        rate_hz: sampling rate (recorded only).
        encoder_size, encoder_seed, pretrained, cache_dir, include_eos, chunk_windows, device: the features
            (see :class:`ChronosNCM`).
        hidden: width of the hidden layer.
        dropout: dropout after the hidden layer.
        epochs: maximum epochs.
        patience: epochs without a better validation F1-macro before stopping.
        lr, weight_decay: AdamW settings.
        batch_size: training mini-batch size.
        class_weight: ``None`` or ``"balanced"`` (inverse-frequency weighted cross-entropy;
            ``--class-weights`` sets it).
    """

    FORMAT = "sensorllm-chronos-mlp-v1"
    NAME = "chronos-mlp"

    def __init__(self, seed: int, rate_hz: float, *, encoder_size: str = "tiny", encoder_seed: int = 0,
                 pretrained: str | None = None, cache_dir: str | None = None, include_eos: bool = False,
                 chunk_windows: int = 256, device: str = "auto", hidden: int = 256, dropout: float = 0.2,
                 epochs: int = 200, patience: int = 20, lr: float = 1e-3, weight_decay: float = 1e-4,
                 batch_size: int = 64, class_weight: str | None = None, tokenizer: str | None = None,
                 encoder: str = "chronos") -> None:
        super().__init__(seed, rate_hz, dict(
            encoder=encoder, encoder_size=encoder_size, encoder_seed=encoder_seed, pretrained=pretrained,
            cache_dir=cache_dir,
            include_eos=include_eos, chunk_windows=chunk_windows, device=device, hidden=hidden,
            dropout=dropout, epochs=epochs, patience=patience, lr=lr, weight_decay=weight_decay,
            batch_size=batch_size, class_weight=class_weight, tokenizer=tokenizer))
        self.net: torch.nn.Sequential | None = None
        self.history: list[dict[str, Any]] = []
        self.best_epoch = 0
        self.best_val_f1: float | None = None

    @classmethod
    def model_arg_problems(cls, args: dict[str, Any]) -> list[str]:
        problems = super().model_arg_problems(args)
        for name in ("hidden", "epochs", "patience", "batch_size"):
            if not is_int(args.get(name)) or args[name] < 1:
                problems.append(f"{name} must be an integer >= 1, got {args.get(name)!r}")
        if not is_number(args.get("lr")) or args["lr"] <= 0:
            problems.append(f"lr must be a number > 0, got {args.get('lr')!r}")
        if not is_number(args.get("weight_decay")) or args["weight_decay"] < 0:
            problems.append(f"weight_decay must be a number >= 0, got {args.get('weight_decay')!r}")
        if not is_number(args.get("dropout")) or not 0 <= args["dropout"] < 1:
            problems.append(f"dropout must be a number in [0, 1), got {args.get('dropout')!r}")
        if args.get("class_weight") not in (None, "balanced"):
            problems.append(f"class_weight must be null or \"balanced\", got {args.get('class_weight')!r}")
        return problems

    def _logits(self, x: np.ndarray) -> torch.Tensor:
        assert self.net is not None, "fit() or load() first"
        self.net.eval()
        dev = self.featurizer.device
        with torch.inference_mode():
            parts = [self.net(torch.from_numpy(x[i:i + 4096]).to(dev)).cpu() for i in range(0, len(x), 4096)]
        return torch.cat(parts) if parts else torch.zeros(0, self.net[-1].out_features)

    def _train_epoch(self, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
                     loss_fn: torch.nn.Module, gen: torch.Generator) -> float:
        assert self.net is not None
        self.net.train()
        dev = self.featurizer.device
        order = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(x), self.settings["batch_size"]):
            rows = order[i:i + self.settings["batch_size"]]
            loss = loss_fn(self.net(x[rows].to(dev)), y[rows].to(dev))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(rows)
        return total / max(len(x), 1)

    def fit(self, windows: np.ndarray, labels: np.ndarray,
            val: tuple[np.ndarray, np.ndarray] | None = None) -> ChronosMLP:
        """Train the MLP on the training windows' features; ``val=(windows, labels)`` selects the epoch."""
        from sensorllm.eval.metrics import classification_metrics

        s = self.settings
        y = np.asarray(labels, dtype=np.int64)
        f = self.features(windows, "train windows")
        self._fit_standardiser(f)
        x = torch.from_numpy(self._standardise(f).astype(np.float32))
        k = int(max(y.max(), -1 if val is None else np.max(val[1], initial=-1))) + 1
        xv = yv = None
        if val is not None:
            xv = self._standardise(self.features(val[0], "val windows")).astype(np.float32)
            yv = np.asarray(val[1], dtype=np.int64)
        torch.manual_seed(self.seed)  # initialisation and dropout
        gen = torch.Generator().manual_seed(self.seed)  # batch order
        dev = self.featurizer.device
        self.net = _mlp(x.shape[1], s["hidden"], k, s["dropout"]).to(dev)
        opt = torch.optim.AdamW(self.net.parameters(), lr=s["lr"], weight_decay=s["weight_decay"])
        weight = None
        if s["class_weight"] == "balanced":
            weight = class_weights_from_labels(y, k, scheme="balanced").to(dev)
        loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
        names = [str(i) for i in range(k)]
        best_state, bad = None, 0
        self.history, self.best_epoch, self.best_val_f1 = [], 0, None
        self._log(f"MLP {x.shape[1]} -> {s['hidden']} -> {k} ({self.trainable_params():,} parameters), "
                  f"{len(x)} training windows, " + ("early stopping on validation F1-macro" if val is not None
                                                    else f"{s['epochs']} epochs, no validation"))
        for epoch in range(1, s["epochs"] + 1):
            t0 = time.perf_counter()
            loss = self._train_epoch(opt, x, torch.from_numpy(y), loss_fn, gen)
            row: dict[str, Any] = {"epoch": epoch, "train_loss": loss, "val_f1_macro": None,
                                   "val_accuracy": None}
            if xv is not None:
                m = classification_metrics(yv, self._logits(xv).argmax(1).numpy(), names)
                row.update(val_f1_macro=m["f1_macro"], val_accuracy=m["accuracy"])
                if self.best_val_f1 is None or m["f1_macro"] > self.best_val_f1:
                    self.best_epoch, self.best_val_f1, bad = epoch, m["f1_macro"], 0
                    best_state = {n: p.detach().clone() for n, p in self.net.state_dict().items()}
                else:
                    bad += 1
            row["seconds"] = time.perf_counter() - t0
            self.history.append(row)
            if xv is not None and bad >= s["patience"]:
                break
        if best_state is not None:
            self.net.load_state_dict(best_state)
        else:
            self.best_epoch = len(self.history)
        self._log(f"{len(self.history)} epochs, kept epoch {self.best_epoch}"
                  + (f" (val F1-macro {self.best_val_f1:.4f})" if self.best_val_f1 is not None else ""))
        return self

    def predict(self, windows: np.ndarray) -> np.ndarray:
        f = self._standardise(self.features(windows)).astype(np.float32)
        return self._logits(f).argmax(1).numpy().astype(np.int64)

    def predict_proba(self, windows: np.ndarray, indices: Sequence[int] | None = None,
                      batch_size: int | None = None) -> np.ndarray:
        """Softmax of the MLP logits (windows cast to float32 first; 0 for classes beyond those it trained on)."""
        return self.window_proba(windows, self._proba)

    def _proba(self, w: np.ndarray, k: int) -> np.ndarray:
        f = self._standardise(self.features(w)).astype(np.float32)
        p = softmax(self._logits(f).numpy().astype(np.float64))
        return p if p.shape[1] == k else scatter_classes(p, range(p.shape[1]), k)

    def trainable_params(self) -> int:
        return 0 if self.net is None else sum(p.numel() for p in self.net.parameters() if p.requires_grad)

    def fit_summary(self) -> dict[str, Any]:
        """Extras for the harness's metrics: training summary, ``history`` rows and report ``notes``."""
        return {**self._encoder_summary(), "trainable_params": self.trainable_params(),
                "best_epoch": self.best_epoch, "epochs_run": len(self.history),
                "history": [dict(r) for r in self.history], "notes": self._notes()}

    def _tensors(self) -> dict[str, torch.Tensor]:
        assert self.net is not None, "fit() first"
        return {f"mlp.{n}": t for n, t in self.net.state_dict().items()}

    def _load_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        state = {n.removeprefix("mlp."): t for n, t in tensors.items() if n.startswith("mlp.")}
        if len(state) != len(tensors) or not {"0.weight", "3.weight"} <= set(state):
            raise ValueError(f"chronos-mlp weights: unexpected keys {sorted(tensors)}")
        assert self.feat_mean is not None
        hidden, d_in = state["0.weight"].shape
        n_feat = len(self.feat_mean)
        if hidden != self.settings["hidden"] or d_in != n_feat:
            raise ValueError(f"chronos-mlp weights: first layer {tuple(state['0.weight'].shape)} does not "
                             f"match hidden={self.settings['hidden']} and {n_feat} features")
        self.net = _mlp(int(d_in), int(hidden), int(state["3.weight"].shape[0]), self.settings["dropout"])
        self.net.load_state_dict(state, strict=True)
        self.net.to(self.featurizer.device).eval()
