"""One training program for every baseline (``sensorllm baseline``): setup → fit → save → evaluate on test once.

The parts it runs: the settings and their command line (:mod:`sensorllm.baselines.config`), the splits
(:mod:`sensorllm.baselines.splits`) and the fitting of each kind of baseline (:mod:`sensorllm.baselines.fit`); the
kept model is written by :func:`sensorllm.infer.artifact.save_model` and read back by
:func:`sensorllm.infer.artifact.load_model`. Torch baselines train with early stopping on validation
F1-macro; feature baselines are fitted on the training windows; both are scored on the test split once, here.

A run directory holds ``config.json`` (every setting, the dataset and the command), ``val_history.csv``,
``model.safetensors``, ``test_predictions.npy`` and, from :func:`write_classification_report`,
``metrics.json``, ``confusion_matrix.png`` and ``report.md``.

``config.json["dataset"]`` also carries what inference on raw recordings needs (``sensorllm predict`` /
``evaluate`` / ``stream`` through :func:`sensorllm.infer.artifact.load_model`): ``rate_hz``, ``window``, ``channels`` and
``classes`` (with ``class_codes`` and ``class_descriptions`` from the spec, ``""`` where none), the prepared
dataset's ``stride`` and ``spec`` (channel units, placements, ``max_gap``), and
``channel_stats``, the training windows' per-channel magnitudes
(:func:`~sensorllm.datasets.stats.channel_scale_stats`) that the input unit check compares against. Runs written
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
from sensorllm.baselines import get_baseline
from sensorllm.baselines.config import BaselineConfig, command_line
from sensorllm.baselines.fit import fit_features, fit_takes_val, fit_torch
from sensorllm.baselines.splits import load_splits
from sensorllm.datasets.prepared import open_prepared
from sensorllm.datasets.spec import class_records
from sensorllm.datasets.stats import channel_scale_stats
from sensorllm.eval.metrics import classification_metrics, write_classification_report, write_json_atomic
from sensorllm.infer.artifact import save_model

__all__ = ["run_baseline"]


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
                    # for inference on raw recordings (infer.artifact): the windowing stride, the channel specs
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
    model, predict_fn, extras = fit(spec, cfg, ds, data, out, log)
    save_model(model, out)  # model.safetensors: the run can be loaded from here on

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
