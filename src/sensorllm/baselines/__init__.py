"""HAR baselines trained and scored in the same harness as SensorLLM (same windows, splits, metrics, seeds).

A name-keyed registry: :func:`register_baseline` adds a :class:`BaselineSpec`, :func:`get_baseline` looks one
up (unknown names raise with the list of known ones), :func:`list_baselines` lists them. Two kinds exist:

* ``torch``: ``spec.build(num_channels, window, num_classes, **model_args)`` returns a
  :class:`~.nets.HARNet`, trained by :func:`sensorllm.train.baseline.run_baseline` (AdamW, early stopping on
  validation F1-macro) inside a :class:`~.nets.Standardized`, the model a run keeps.
* ``features``: ``spec.build(seed=..., rate_hz=..., **model_args)`` returns an object with
  ``fit(windows, labels)``, ``predict(windows)``, ``fit_summary()`` (extras for ``metrics.json``; its
  ``history`` rows go to ``val_history.csv`` and its ``notes`` to the report), ``save(path)`` and a classmethod
  ``load(path, device=None)`` (see :mod:`.features`). Optional: a ``val=(windows, labels)`` parameter of ``fit``
  (the harness then passes the validation split, for model selection).

Every model class has a classmethod ``check_model_args(args)`` that validates ``--model-arg`` values before any
data is read (raising ``ValueError`` naming every bad value; the torch nets and the forest accept any). The Chronos feature baselines are in
  :mod:`.chronos_models`, on the features of :mod:`.chronos_features`.

What a run keeps, loaded by :meth:`BaselineSpec.load` (through :func:`sensorllm.infer.artifact.load_model`), is
a :class:`~sensorllm.classifier.Classifier`: each model class implements ``predict_proba`` itself.

Model classes are named by ``"module:Class"`` and imported on use, so listing the registry stays cheap.
See ``docs/baselines.md``.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sensorllm.checkpoint_format import BASELINE_WEIGHTS_FILE
from sensorllm.registry import Registry

__all__ = [
    "BaselineSpec",
    "UnknownBaselineError",
    "register_baseline",
    "get_baseline",
    "list_baselines",
]

BaselineKind = Literal["torch", "features"]


@dataclass(frozen=True)
class BaselineSpec:
    """One registered baseline.

    Attributes:
        name: registry key (``deepconvlstm``).
        kind: ``torch`` (a network trained by the shared loop) or ``features`` (a fitted feature model).
        target: ``"module:Class"`` of the model; its keyword-only constructor arguments are the model
            hyper-parameters (``--model-arg KEY=VALUE``).
        summary: one line for ``--help`` and reports.
        citation: the paper the architecture follows.
        train_overrides: training settings this baseline's paper uses that differ from the shared defaults
            (e.g. mixup for Attend-and-Discriminate); explicit command-line values still win.
    """

    name: str
    kind: BaselineKind
    target: str
    summary: str
    citation: str
    train_overrides: dict[str, Any] = field(default_factory=dict)

    def model_class(self) -> type:
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)

    def model_defaults(self) -> dict[str, Any]:
        """The model hyper-parameters (keyword-only constructor arguments) and their defaults."""
        sig = inspect.signature(self.model_class())
        return {n: p.default for n, p in sig.parameters.items() if p.kind is p.KEYWORD_ONLY}

    def resolve_model_args(self, model_args: dict[str, Any] | None) -> dict[str, Any]:
        """Defaults updated with ``model_args``; unknown keys raise with the valid ones."""
        defaults = self.model_defaults()
        unknown = sorted(set(model_args or {}) - set(defaults))
        if unknown:
            raise ValueError(f"baseline {self.name!r} has no model argument(s) {', '.join(unknown)}; "
                             f"valid: {', '.join(sorted(defaults))}")
        resolved = {**defaults, **(model_args or {})}
        # every model class checks its argument values up front (before any data is read): a classmethod
        # ``check_model_args(args)`` that raises ValueError naming every bad value
        self.model_class().check_model_args(resolved)
        return resolved

    def build(self, *args: Any, **model_args: Any) -> Any:
        """``torch``: ``build(num_channels, window, num_classes, **model_args)`` → a ``HARNet``.
        ``features``: ``build(seed=..., rate_hz=..., **model_args)`` → an object with ``fit``/``predict``."""
        return self.model_class()(*args, **model_args)

    def load(self, run_dir: str | Path, config: dict[str, Any], device: str | None = None) -> Any:
        """The model a finished run of this baseline kept (``run_dir/model.safetensors``), a
        :class:`~sensorllm.classifier.Classifier` (:func:`sensorllm.infer.artifact.load_model` binds the run's
        :class:`~sensorllm.classifier.ModelInfo` to it). ``config``: the run's ``config.json``.

        ``torch``: a :class:`~.nets.Standardized` net built from the run's model arguments, loaded strictly, in
        eval mode. ``features``: the model class's ``load`` (a numpy forest, :class:`~.features.ForestArrays`, for
        ``features-rf``). ``device``: where a torch net (or a Chronos feature model's encoder) goes; ``None``: the
        CPU for torch nets, the model's default for feature models.
        """
        weights = Path(run_dir) / BASELINE_WEIGHTS_FILE
        if self.kind == "features":
            return self.model_class().load(weights, device=device)
        from sensorllm.utils import resolve_device

        from .nets import Standardized

        d = config["dataset"]
        c = len(d["channels"])
        net = self.build(c, d["window"], len(d["classes"]), **config["model_args"])
        return Standardized.load(weights, net, c, None if device is None else resolve_device(device))


class UnknownBaselineError(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0])


_BASELINES: Registry[BaselineSpec] = Registry(
    "baseline", UnknownBaselineError, lambda s: s.strip().lower().replace("_", "-"))


def register_baseline(spec: BaselineSpec) -> BaselineSpec:
    """Add ``spec`` to the registry. Duplicate names are refused."""
    if spec.kind not in ("torch", "features"):
        raise ValueError(f"baseline {spec.name!r}: kind must be 'torch' or 'features', not {spec.kind!r}")
    return _BASELINES.add(spec.name, spec)


def list_baselines() -> list[str]:
    """Names of all registered baselines, sorted."""
    return _BASELINES.names()


def get_baseline(name: str) -> BaselineSpec:
    """The spec registered under ``name`` (``_`` and ``-`` are interchangeable, case-insensitive)."""
    return _BASELINES.get(name)


# ---------------------------------------------------------------------------------------------------------
# Built-in baselines.

register_baseline(BaselineSpec(
    name="deepconvlstm",
    kind="torch",
    target="sensorllm.baselines.nets:DeepConvLSTM",
    summary="4 temporal convolutions (64 filters, kernel 5) per channel, 2 LSTM layers of 128, "
            "last step -> linear",
    citation="Ordóñez & Roggen, Sensors 16(1):115, 2016",
))
register_baseline(BaselineSpec(
    name="deepconvlstm-attn",
    kind="torch",
    target="sensorllm.baselines.nets:DeepConvLSTMAttn",
    summary="DeepConvLSTM with temporal attention pooling over the LSTM outputs",
    citation="Murahari & Plötz, ISWC 2018",
))
register_baseline(BaselineSpec(
    name="attend",
    kind="torch",
    target="sensorllm.baselines.nets:AttendDiscriminate",
    summary="Attend-and-Discriminate: per-channel convolutions, self-attention across channels, GRU, "
            "temporal attention; mixup and centre loss",
    citation="Abedin et al., Proc. ACM IMWUT 5(1), 2021",
    # The authors' settings: mixup alpha 0.8, centre-loss weight 0.003 (their PAMAP2 value).
    train_overrides={"mixup_alpha": 0.8, "center_loss": 0.003},
))
register_baseline(BaselineSpec(
    name="cnn1d",
    kind="torch",
    target="sensorllm.baselines.nets:CNN1D",
    summary="plain 1-D CNN: 3 conv/batch-norm/ReLU blocks, global average pooling, linear",
    citation="a standard 1-D CNN for HAR (no single source)",
))
register_baseline(BaselineSpec(
    name="features-rf",
    kind="features",
    target="sensorllm.baselines.features:FeatureRandomForest",
    summary="per-channel statistical, zero-crossing and spectral-band features + channel correlations, "
            "random forest",
    citation="classical HAR feature pipeline (e.g. Bulling et al., ACM CSUR 2014)",
))
register_baseline(BaselineSpec(
    name="chronos-mlp",
    kind="features",
    target="sensorllm.baselines.chronos_models:ChronosMLP",
    summary="frozen Chronos-T5 encoder per channel, mean-pooled over time, channels concatenated, "
            "standardised, 1-hidden-layer MLP (early stopping on validation F1-macro)",
    citation="SensorLLM paper Table 2 'Chronos+MLP' (Li et al., arXiv 2410.10624); "
             "Chronos: Ansari et al. 2024",
))
register_baseline(BaselineSpec(
    name="chronos-ncm",
    kind="features",
    target="sensorllm.baselines.chronos_models:ChronosNCM",
    summary="frozen Chronos-T5 features (as chronos-mlp), standardised and L2-normalised, cosine nearest "
            "class mean (no training)",
    citation="nearest-class-mean rule (Mensink et al., TPAMI 2013) on Chronos (Ansari et al. 2024) features",
))
register_baseline(BaselineSpec(
    name="minirocket",
    kind="features",
    target="sensorllm.baselines.minirocket:MiniRocketRidge",
    summary="MiniRocket (84 fixed kernels x dilations, ~10,000 PPV features, aeon) + ridge classifier, alpha by "
            "leave-one-out CV",
    citation="Dempster, Schmidt & Webb, KDD 2021 (MiniRocket); aeon (Middlehurst et al., JMLR 2024)",
))
