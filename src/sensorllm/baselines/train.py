"""One training program for every baseline: setup → fit → evaluate on test once → save.

Torch baselines: channels standardised with the train-set mean/std (computed once, stored in the weights),
AdamW, optional class-weighted cross-entropy, optional mixup and centre loss, early stopping on validation
F1-macro with ``patience``; the best state is kept and scored on the test split once. Feature baselines are
fitted on the training windows (those whose ``fit`` takes ``val=`` also get the validation split, for their
own model selection) and scored the same way.

A run directory holds ``config.json`` (every setting, the dataset and the command), ``val_history.csv``,
``model.safetensors``, ``test_predictions.npy`` and, from :func:`write_classification_report`,
``metrics.json``, ``confusion_matrix.png`` and ``report.md``.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import inspect
import json
import platform
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from sensorllm import __version__
from sensorllm.datasets.prepared import PreparedDataset, open_prepared
from sensorllm.datasets.spec import DataError
from sensorllm.eval.metrics import classification_metrics, write_classification_report, write_json_atomic
from sensorllm.utils import resolve_device

from . import BaselineSpec, get_baseline

__all__ = [
    "BaselineConfig", "Splits", "command_line", "load_baseline_model", "resolve_config", "run_baseline",
]


@dataclass
class BaselineConfig:
    """Every setting of a baseline run. Defaults live here; a baseline's ``train_overrides`` replace them
    unless the value was given explicitly (see :func:`resolve_config`)."""

    baseline: str
    data: str  # prepared dataset directory
    out: str  # run directory
    seed: int = 0
    epochs: int = 30  # upper bound; early stopping usually ends sooner
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 8  # epochs without a better validation F1-macro before stopping
    max_train_windows: int | None = None  # seeded random subset of the training windows (None = all)
    class_weights: bool = False  # inverse-frequency weights in the cross-entropy (or RF class_weight)
    no_val: bool = False  # train `epochs` epochs without model selection (no validation split needed)
    mixup_alpha: float = 0.0  # mixup Beta(alpha, alpha) per batch; 0 = off
    center_loss: float = 0.0  # weight of the centre loss on the L2-normalised embedding; 0 = off
    center_lr: float = 0.5  # step of the centre update (Wen et al. 2016)
    grad_clip: float = 0.0  # max gradient norm; 0 = off
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    # torch CPU threads; 0 = torch's default. 1 by default: these nets are small, and on a shared 2-core
    # machine two OpenMP threads made a training step 15-20x slower (oversubscription).
    threads: int = 1
    eval_batch_size: int = 512
    model_args: dict[str, Any] = field(default_factory=dict)  # overrides of the model's defaults

    def __post_init__(self) -> None:
        problems = []
        if self.threads < 0:
            problems.append(f"threads must be >= 0 (0 = torch default), got {self.threads}")
        for name in ("epochs", "batch_size", "patience", "eval_batch_size"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("lr", "weight_decay", "mixup_alpha", "center_loss", "center_lr", "grad_clip"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.lr == 0:
            problems.append("lr must be > 0")
        if self.max_train_windows is not None and self.max_train_windows < 1:
            problems.append(f"max_train_windows must be >= 1, got {self.max_train_windows}")
        if problems:
            raise ValueError("; ".join(problems))


# Command-line flag of every config field (besides the positional baseline name).
FLAGS: dict[str, str] = {
    "data": "--data", "out": "--out", "seed": "--seed", "epochs": "--epochs", "batch_size": "--batch-size",
    "lr": "--lr", "weight_decay": "--weight-decay", "patience": "--patience",
    "max_train_windows": "--max-train-windows", "class_weights": "--class-weights", "no_val": "--no-val",
    "mixup_alpha": "--mixup", "center_loss": "--center-loss", "center_lr": "--center-lr",
    "grad_clip": "--grad-clip", "device": "--device", "threads": "--threads",
    "eval_batch_size": "--eval-batch-size", "model_args": "--model-arg",
}


def resolve_config(baseline: str, data: str, out: str, **given: Any) -> BaselineConfig:
    """Config for ``baseline``: dataclass defaults, then the baseline's ``train_overrides``, then every
    ``given`` value that is not ``None``."""
    spec = get_baseline(baseline)
    values = {**spec.train_overrides, **{k: v for k, v in given.items() if v is not None}}
    unknown = sorted(set(values) - {f.name for f in dataclasses.fields(BaselineConfig)})
    if unknown:
        raise ValueError(f"unknown baseline setting(s) {', '.join(unknown)}")
    values["model_args"] = spec.resolve_model_args(values.get("model_args"))
    return BaselineConfig(baseline=spec.name, data=str(data), out=str(out), **values)


# Settings that only the torch training loop reads (``threads`` applies to every kind: feature models may run
# torch too, e.g. the Chronos encoder).
TORCH_ONLY = {"epochs", "batch_size", "lr", "weight_decay", "patience", "mixup_alpha", "center_loss",
              "center_lr", "grad_clip", "device", "eval_batch_size"}


def command_line(cfg: BaselineConfig) -> str:
    """A ``sensorllm baseline`` command that reproduces ``cfg`` exactly (every setting it uses explicit)."""
    argv = ["sensorllm", "baseline", cfg.baseline]
    kind = get_baseline(cfg.baseline).kind
    for f in dataclasses.fields(cfg):
        if f.name == "baseline" or (kind != "torch" and f.name in TORCH_ONLY):
            continue
        value = getattr(cfg, f.name)
        flag = FLAGS[f.name]
        if isinstance(value, bool):
            argv += [flag] if value else []
        elif f.name == "model_args":
            for k, v in sorted(value.items()):
                argv += [flag, f"{k}={json.dumps(v)}"]
        elif value is not None:
            argv += [flag, str(value)]
    return shlex.join(argv)


# ---------------------------------------------------------------------------------------------------------
# Data


@dataclass
class Splits:
    """In-memory windows ``(N, L, C)`` float32 and labels ``(N,)`` int64 per split (val may be ``None``)."""

    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray] | None
    test: tuple[np.ndarray, np.ndarray]
    train_indices: np.ndarray  # rows of the prepared train split that were used


def load_splits(ds: PreparedDataset, cfg: BaselineConfig, need_val: bool) -> Splits:
    """Read the Stage-2 splits; a seeded subset of train when ``max_train_windows`` is set."""
    present = ds.splits()
    for split in ("train", "test"):
        if split not in present:
            raise DataError(f"{ds.root}: the {split} split is empty")
    if need_val and "val" not in present:
        raise DataError(
            f"{ds.root} has no validation windows (prepared with --paper-split?), and model selection "
            "needs a validation split. "
            "Re-prepare without --paper-split, or pass --no-val to train a fixed number of epochs."
        )
    tr = ds.stage2("train")
    idx = np.arange(len(tr))
    if cfg.max_train_windows is not None and cfg.max_train_windows < len(tr):
        idx = np.sort(np.random.default_rng(cfg.seed).choice(len(tr), cfg.max_train_windows, replace=False))

    def take(ws, rows=None):
        w = ws.windows if rows is None else ws.windows[rows]
        y = ws.labels if rows is None else ws.labels[rows]
        return np.array(w, dtype=np.float32, order="C"), np.array(y, dtype=np.int64)  # copies: writable

    val = take(ds.stage2("val")) if "val" in present and not cfg.no_val else None
    return Splits(train=take(tr, idx), val=val, test=take(ds.stage2("test")), train_indices=idx)


def channel_stats(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std over all training samples; a constant channel gets std 1."""
    flat = windows.reshape(-1, windows.shape[-1]).astype(np.float64)
    mean, std = flat.mean(axis=0), flat.std(axis=0)
    std = np.where(std > 1e-8, std, 1.0)
    return mean.astype(np.float32), std.astype(np.float32)


def class_weight_vector(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Inverse-frequency weights ``n / (K * n_k)`` (1 for classes absent from training)."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    w = np.where(counts > 0, len(labels) / (num_classes * np.maximum(counts, 1)), 1.0)
    return w.astype(np.float32)


# ---------------------------------------------------------------------------------------------------------
# Torch training


class CenterLoss:
    """Centre loss (Wen et al., 2016) on L2-normalised embeddings: ``0.5 * ||z - c_y||^2`` averaged over the
    batch. Centres start at 0 and move towards their class's embeddings by ``lr`` per step (no gradient)."""

    def __init__(self, num_classes: int, dim: int, lr: float, device):
        import torch

        self.centers = torch.zeros(num_classes, dim, device=device)
        self.lr = lr

    def __call__(self, z, y):
        return 0.5 * ((z - self.centers[y]) ** 2).sum(dim=1).mean()

    def update(self, z, y) -> None:
        import torch

        z = z.detach()
        k = self.centers.shape[0]
        diff = torch.zeros_like(self.centers).index_add_(0, y, self.centers[y] - z)
        count = torch.zeros(k, device=z.device).index_add_(0, y, torch.ones_like(y, dtype=z.dtype))
        self.centers -= self.lr * diff / (1.0 + count[:, None])


def predict(model, windows: np.ndarray, batch_size: int, device) -> np.ndarray:
    """Class ids for ``windows`` ``(N, L, C)`` with ``model`` in eval mode."""
    import torch

    model.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(windows), batch_size):
            xb = torch.from_numpy(windows[i:i + batch_size]).to(device)
            out.append(model(xb).argmax(dim=1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def _train_epoch(model, opt, x, y, cfg: BaselineConfig, gen, rng: np.random.Generator, loss_fn,
                 centers: CenterLoss | None, device) -> float:
    """One pass over the training windows in a seeded random order; returns the mean loss."""
    import torch
    import torch.nn.functional as F

    model.train()
    order = torch.randperm(len(x), generator=gen)
    total, seen = 0.0, 0
    for i in range(0, len(x), cfg.batch_size):
        rows = order[i:i + cfg.batch_size]
        if len(rows) < 2:  # batch norm cannot train on a single window
            continue
        xb, yb = x[rows].to(device), y[rows].to(device)
        lam, yb2 = 1.0, yb
        if cfg.mixup_alpha > 0:
            lam = float(rng.beta(cfg.mixup_alpha, cfg.mixup_alpha))
            partner = torch.randperm(len(rows), generator=gen).to(device)
            xb, yb2 = lam * xb + (1 - lam) * xb[partner], yb[partner]
        z = model.forward_features(xb)
        logits = model.forward_head(z)
        loss = lam * loss_fn(logits, yb) + (1 - lam) * loss_fn(logits, yb2)
        if centers is not None:
            zn = F.normalize(z, dim=1)
            loss = loss + cfg.center_loss * (lam * centers(zn, yb) + (1 - lam) * centers(zn, yb2))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        if centers is not None:
            centers.update(zn, yb if lam >= 0.5 else yb2)
        total += float(loss.detach()) * len(rows)
        seen += len(rows)
    return total / max(seen, 1)


def _fit_torch(spec: BaselineSpec, cfg: BaselineConfig, ds: PreparedDataset, data: Splits, out: Path,
               log: Callable[[str], None]) -> tuple[Callable[[np.ndarray], np.ndarray], dict]:
    import torch
    from safetensors.torch import save_file

    from .nets import Standardized, count_trainable

    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    if device.type == "cuda":
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    gen = torch.Generator().manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)

    (xtr, ytr), window, channels = data.train, data.train[0].shape[1], data.train[0].shape[2]
    k = len(ds.class_names)
    mean, std = channel_stats(xtr)
    net = spec.build(channels, window, k, **cfg.model_args)
    model = Standardized(net, mean, std).to(device)
    params = count_trainable(model)
    log(f"{spec.name}: {params:,} trainable parameters; {len(xtr)} training windows of {window}x{channels}; "
        f"device {device}")
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    weight = torch.from_numpy(class_weight_vector(ytr, k)).to(device) if cfg.class_weights else None
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
    centers = None
    if cfg.center_loss > 0:
        model.eval()  # probe the embedding width without touching batch-norm statistics
        with torch.no_grad():
            dim = model.forward_features(torch.from_numpy(xtr[:2]).to(device)).shape[1]
        centers = CenterLoss(k, dim, cfg.center_lr, device)
    x, y = torch.from_numpy(xtr), torch.from_numpy(ytr)

    use_val = not cfg.no_val
    best = {"epoch": 0, "f1": -1.0, "acc": float("nan"), "state": None}
    history_path = out / "val_history.csv"
    t0 = time.perf_counter()
    with history_path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["epoch", "train_loss", "val_f1_macro", "val_accuracy", "seconds"])
        bad = 0
        for epoch in range(1, cfg.epochs + 1):
            te = time.perf_counter()
            loss = _train_epoch(model, opt, x, y, cfg, gen, rng, loss_fn, centers, device)
            f1 = acc = float("nan")
            mark = ""
            if use_val:
                val_pred = predict(model, data.val[0], cfg.eval_batch_size, device)
                m = classification_metrics(data.val[1], val_pred, ds.class_names)
                f1, acc = m["f1_macro"], m["accuracy"]
                if f1 > best["f1"]:
                    best.update(epoch=epoch, f1=f1, acc=acc, state=copy.deepcopy(model.state_dict()))
                    bad, mark = 0, "  *"
                else:
                    bad += 1
            secs = time.perf_counter() - te
            writer.writerow([epoch, f"{loss:.6f}", "" if not use_val else f"{f1:.6f}",
                             "" if not use_val else f"{acc:.6f}", f"{secs:.2f}"])
            fh.flush()
            val_txt = f"  val F1 {f1:.4f}  acc {acc:.4f}" if use_val else ""
            log(f"epoch {epoch:3d}/{cfg.epochs}  loss {loss:.4f}{val_txt}  {secs:.1f}s{mark}")
            if use_val and bad >= cfg.patience:
                log(f"early stop: no better validation F1-macro for {cfg.patience} epochs")
                break
    train_time = time.perf_counter() - t0
    if use_val:
        model.load_state_dict(best["state"])
        log(f"best epoch {best['epoch']}: val F1-macro {best['f1']:.4f}")
    else:
        best.update(epoch=epoch)
    state = {k_: v.detach().cpu().contiguous() for k_, v in model.state_dict().items()}
    save_file(state, str(out / "model.safetensors"),
              metadata={"baseline": spec.name, "model_args": json.dumps(cfg.model_args, sort_keys=True)})
    extras = {
        "train_time_s": round(train_time, 3), "trainable_params": params, "epochs_run": epoch,
        "best_epoch": best["epoch"],
        "val_f1_macro": best["f1"] if use_val else None, "val_accuracy": best["acc"] if use_val else None,
        "train_windows": len(xtr), "device": str(device),
    }
    return (lambda w: predict(model, w, cfg.eval_batch_size, device)), extras


def _fit_takes_val(model_class: type) -> bool:
    """Whether a feature model's ``fit`` accepts ``val=(windows, labels)`` (it then does model selection)."""
    return "val" in inspect.signature(model_class.fit).parameters


def _fit_features(spec: BaselineSpec, cfg: BaselineConfig, ds: PreparedDataset, data: Splits, out: Path,
                  log: Callable[[str], None]) -> tuple[Callable[[np.ndarray], np.ndarray], dict]:
    if cfg.threads > 0:
        import torch

        torch.set_num_threads(cfg.threads)
    args = dict(cfg.model_args)
    if cfg.class_weights and "class_weight" in args and args["class_weight"] is None:
        args["class_weight"] = "balanced"
    model = spec.build(seed=cfg.seed, rate_hz=ds.rate_hz, **args)
    xtr, ytr = data.train
    log(f"{spec.name}: fitting on {len(xtr)} training windows")
    t0 = time.perf_counter()
    use_val = data.val is not None and not cfg.no_val
    if use_val and _fit_takes_val(type(model)):
        model.fit(xtr, ytr, val=data.val)
    else:
        model.fit(xtr, ytr)
    train_time = time.perf_counter() - t0
    model.save(out / "model.safetensors")
    extras: dict[str, Any] = {"train_time_s": round(train_time, 3), "trainable_params": None,
                              "train_windows": len(xtr)}
    if hasattr(model, "num_nodes"):
        extras["tree_nodes"] = model.num_nodes()
    summary = dict(model.fit_summary()) if hasattr(model, "fit_summary") else {}
    history = summary.pop("history", None)  # per-epoch rows of models that train in epochs
    extras.update(summary)  # may carry "notes" for the report (run_baseline pops them)
    rows = [[r["epoch"], "" if r["train_loss"] is None else f"{r['train_loss']:.6f}",
             "" if r["val_f1_macro"] is None else f"{r['val_f1_macro']:.6f}",
             "" if r["val_accuracy"] is None else f"{r['val_accuracy']:.6f}", f"{r['seconds']:.2f}"]
            for r in history or []]
    if use_val:
        m = classification_metrics(data.val[1], model.predict(data.val[0]), ds.class_names)
        extras.update(val_f1_macro=m["f1_macro"], val_accuracy=m["accuracy"])
        log(f"val F1-macro {m['f1_macro']:.4f}  acc {m['accuracy']:.4f}")
        rows = rows or [[1, "", f"{m['f1_macro']:.6f}", f"{m['accuracy']:.6f}", f"{train_time:.2f}"]]
    if rows:
        with (out / "val_history.csv").open("w", newline="") as fh:
            header = ["epoch", "train_loss", "val_f1_macro", "val_accuracy", "seconds"]
            csv.writer(fh).writerows([header, *rows])
    return model.predict, extras


# ---------------------------------------------------------------------------------------------------------
# The program


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
    need_val = not cfg.no_val and (spec.kind == "torch" or _fit_takes_val(spec.model_class()))
    data = load_splits(ds, cfg, need_val)
    config = {
        **dataclasses.asdict(cfg),
        "kind": spec.kind, "summary": spec.summary, "citation": spec.citation,
        "dataset": {"name": ds.name, "dir": str(Path(cfg.data).resolve()), "rate_hz": ds.rate_hz,
                    "channels": ds.channel_names, "classes": ds.class_names,
                    "window": int(data.train[0].shape[1]),
                    "windows": {"train": len(data.train[1]),
                                "val": 0 if data.val is None else len(data.val[1]),
                                "test": len(data.test[1])}},
        "command": command_line(cfg),
        "versions": _versions(), "machine": f"{platform.machine()} {platform.system()} ({platform.node()})",
    }
    write_json_atomic(config, out / "config.json")
    log(f"config: {json.dumps(dataclasses.asdict(cfg), sort_keys=True)}")

    fit = _fit_torch if spec.kind == "torch" else _fit_features
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


def load_baseline_model(run_dir: str | Path):
    """The kept model of a finished run: a ``Standardized`` torch net in eval mode (loaded strictly), a
    numpy forest (:class:`~.features.ForestArrays`), or, for feature models whose class has a ``load``
    classmethod (``chronos-mlp``, ``chronos-ncm``), that class's instance. Torch models return logits from
    ``model(x)``; the others give class ids from ``model.predict(windows)``."""
    run = Path(run_dir)
    config = json.loads((run / "config.json").read_text())
    spec = get_baseline(config["baseline"])
    weights = run / "model.safetensors"
    if spec.kind == "features":
        loader = getattr(spec.model_class(), "load", None)
        if loader is not None:
            return loader(weights)
        from .features import load_forest

        return load_forest(weights)
    from safetensors.torch import load_file

    from .nets import Standardized

    d = config["dataset"]
    c = len(d["channels"])
    net = spec.build(c, d["window"], len(d["classes"]), **config["model_args"])
    model = Standardized(net, np.zeros(c), np.ones(c))
    model.load_state_dict(load_file(str(weights)), strict=True)
    return model.eval()
