"""One training program for every baseline: setup → fit → evaluate on test once → save, and reading a
finished run's model back (:func:`load_baseline_model`).

The parts it runs: the settings and their command line (:mod:`.config`), the splits (:mod:`.splits`) and the
fitting of each kind of baseline (:mod:`.fit`). Torch baselines train with early stopping on validation
F1-macro; feature baselines are fitted on the training windows; both are scored on the test split once, here.

A run directory holds ``config.json`` (every setting, the dataset and the command), ``val_history.csv``,
``model.safetensors``, ``test_predictions.npy`` and, from :func:`write_classification_report`,
``metrics.json``, ``confusion_matrix.png`` and ``report.md``.

``config.json["dataset"]`` also carries what inference on raw recordings needs (``sensorllm predict`` /
``evaluate`` / ``stream`` through :mod:`sensorllm.serve.models`): ``rate_hz``, ``window``, ``channels`` and
``classes`` (with ``class_codes`` and ``class_descriptions`` from the spec, ``""`` where none), the prepared
dataset's ``stride`` and ``spec`` (channel units, placements, ``max_gap``), and
``channel_stats``, the training windows' per-channel magnitudes
(:func:`~sensorllm.eval.evaluate.channel_scale_stats`) that the input unit check compares against. Runs written
before these keys existed still load: units, the stride and the unit check then fall back (see
docs/baselines.md).
"""

from __future__ import annotations

import dataclasses
import json
import platform
from pathlib import Path
from typing import Callable

import numpy as np

from sensorllm import __version__
from sensorllm.datasets.prepared import open_prepared
from sensorllm.datasets.spec import class_records
from sensorllm.eval.evaluate import channel_scale_stats
from sensorllm.eval.metrics import classification_metrics, write_classification_report, write_json_atomic

from . import get_baseline
from .config import BaselineConfig, command_line
from .fit import fit_features, fit_takes_val, fit_torch
from .splits import load_splits

__all__ = ["load_baseline_model", "run_baseline"]


def _versions() -> dict[str, str]:
    import sklearn

    v = {"sensorllm": __version__, "python": platform.python_version(), "numpy": np.__version__,
         "scikit-learn": sklearn.__version__}
    try:
        import torch

        v["torch"] = torch.__version__
    except ImportError:  # pragma: no cover
        pass
    return v


def run_baseline(cfg: BaselineConfig, overwrite: bool = False, log: Callable[[str], None] = print) -> dict:
    """Train ``cfg.baseline`` on ``cfg.data``, score the test split once and write the run directory.

    Returns the test metrics (also in ``metrics.json``), with ``train_time_s``, ``trainable_params``,
    ``best_epoch`` and the validation scores of the kept model added.
    """
    spec = get_baseline(cfg.baseline)
    ds = open_prepared(cfg.data)
    out = Path(cfg.out)
    if (out / "metrics.json").exists() and not overwrite:
        raise ValueError(f"{out} already holds a finished run (metrics.json); pass --overwrite or pick --out")
    out.mkdir(parents=True, exist_ok=True)
    need_val = not cfg.no_val and (spec.kind == "torch" or fit_takes_val(spec.model_class()))
    data = load_splits(ds, cfg, need_val)
    classes = class_records(ds.class_names, (ds.manifest.get("spec") or {}).get("classes"))
    config = {
        **dataclasses.asdict(cfg),
        "kind": spec.kind, "summary": spec.summary, "citation": spec.citation,
        "dataset": {"name": ds.name, "dir": str(Path(cfg.data).resolve()), "rate_hz": ds.rate_hz,
                    "channels": ds.channel_names, "classes": ds.class_names,
                    # each class's label code and description from the spec (label columns of codes at inference)
                    "class_codes": [c["code"] for c in classes],
                    "class_descriptions": [c["description"] for c in classes],
                    "window": int(data.train[0].shape[1]),
                    "windows": {"train": len(data.train[1]),
                                "val": 0 if data.val is None else len(data.val[1]),
                                "test": len(data.test[1])},
                    # for inference on raw recordings (serve.models): the windowing stride, the channel specs
                    # (units) and the training windows' magnitudes (the input unit check)
                    "stride": ds.manifest.get("stride"),
                    "spec": ds.manifest.get("spec"),
                    "channel_stats": channel_scale_stats(data.train[0], ds.channel_names)},
        "command": command_line(cfg),
        "versions": _versions(), "machine": f"{platform.machine()} {platform.system()} ({platform.node()})",
    }
    write_json_atomic(config, out / "config.json")
    log(f"config: {json.dumps(dataclasses.asdict(cfg), sort_keys=True)}")

    fit = fit_torch if spec.kind == "torch" else fit_features
    predict_fn, extras = fit(spec, cfg, ds, data, out, log)

    y_pred = predict_fn(data.test[0])
    np.save(out / "test_predictions.npy", np.asarray(y_pred, dtype=np.int64))
    metrics = classification_metrics(data.test[1], y_pred, ds.class_names)
    model_notes = extras.pop("notes", [])
    metrics.update(baseline=spec.name, dataset=ds.name, split="test", seed=cfg.seed, **extras)
    params = extras.get("trainable_params")
    notes = [
        f"{spec.summary} ({spec.citation})",
        f"dataset `{ds.name}` ({cfg.data}), seed {cfg.seed}, {extras['train_windows']} training windows",
        f"training time {extras['train_time_s']:.1f} s; trainable parameters "
        f"{'n/a (tree nodes: %d)' % extras.get('tree_nodes', 0) if params is None else f'{params:,}'}",
    ]
    if extras.get("val_f1_macro") is not None:
        notes.append(f"validation F1-macro {extras['val_f1_macro']:.4f}"
                     + (f" (best epoch {extras['best_epoch']} of {extras['epochs_run']})"
                        if "best_epoch" in extras else ""))
    notes += model_notes
    notes.append(f"command: `{config['command']}`")
    report = write_classification_report(metrics, out, f"{spec.name} on {ds.name}: test split", notes)
    log(f"test F1-macro {metrics['f1_macro']:.4f}  accuracy {metrics['accuracy']:.4f}  -> {report}")
    return metrics


def load_baseline_model(run_dir: str | Path, device: str | None = None):
    """The kept model of a finished run: a ``Standardized`` torch net in eval mode (loaded strictly), a
    numpy forest (:class:`~.features.ForestArrays`), or, for feature models whose class has a ``load``
    classmethod (``chronos-mlp``, ``chronos-ncm``), that class's instance. Torch models return logits from
    ``model(x)``; the others give class ids from ``model.predict(windows)``.

    ``device``: where a torch net (or a Chronos feature model's encoder) goes; ``None``: the CPU for torch
    nets, the loader's default (``auto``) for feature models.

    Raises:
        FileNotFoundError: no ``config.json`` or no ``model.safetensors`` (an unfinished run).
    """
    run = Path(run_dir)
    if not (run / "config.json").is_file():
        raise FileNotFoundError(f"{run} has no config.json: not a baseline run directory")
    config = json.loads((run / "config.json").read_text())
    spec = get_baseline(config["baseline"])
    weights = run / "model.safetensors"
    if not weights.is_file():
        raise FileNotFoundError(f"{run} is an unfinished {spec.name} run: no model.safetensors yet")
    if spec.kind == "features":
        loader = getattr(spec.model_class(), "load", None)
        if loader is not None:
            return loader(weights) if device is None else loader(weights, device=device)
        from .features import load_forest

        return load_forest(weights)
    from safetensors.torch import load_file

    from .nets import Standardized

    d = config["dataset"]
    c = len(d["channels"])
    net = spec.build(c, d["window"], len(d["classes"]), **config["model_args"])
    model = Standardized(net, np.zeros(c), np.ones(c))
    model.load_state_dict(load_file(str(weights)), strict=True)
    if device is not None:
        from sensorllm.utils import resolve_device

        model.to(resolve_device(device))
    return model.eval()
