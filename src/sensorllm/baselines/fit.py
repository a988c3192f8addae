"""Fitting one baseline on its splits, one function per kind. Each writes the per-epoch validation record
(``val_history.csv``; a feature model without epochs or validation has none) into the run directory, and
returns the kept model (saved by :func:`sensorllm.infer.artifact.save_model`), a predict function and the extras
for ``metrics.json``.

:func:`fit_torch`: channels standardised with the train-set mean/std (computed once, stored in the weights),
AdamW, optional class-weighted cross-entropy, optional mixup and centre loss, early stopping on validation
F1-macro with ``patience``; the best state is kept. :func:`fit_features`: the model is fitted on the training
windows (one whose ``fit`` takes ``val=`` also gets the validation split, for its own model selection). The test
split is never seen here: :func:`sensorllm.train.baseline.run_baseline` scores it once afterwards.
"""

from __future__ import annotations

import copy
import csv
import inspect
import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from sensorllm.datasets.prepared import PreparedDataset
from sensorllm.eval.metrics import classification_metrics
from sensorllm.utils import class_weights_from_labels, resolve_device

from . import BaselineSpec
from .config import BaselineConfig
from .splits import Splits

__all__ = [
    "CenterLoss", "channel_stats", "fit_features", "fit_takes_val", "fit_torch",
    "predict",
]


# ---------------------------------------------------------------------------------------------------------
# Torch training


def channel_stats(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std over all training samples; a constant channel gets std 1."""
    flat = windows.reshape(-1, windows.shape[-1]).astype(np.float64)
    mean, std = flat.mean(axis=0), flat.std(axis=0)
    std = np.where(std > 1e-8, std, 1.0)
    return mean.astype(np.float32), std.astype(np.float32)


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


def fit_torch(spec: BaselineSpec, cfg: BaselineConfig, ds: PreparedDataset, data: Splits, out: Path,
              log: Callable[[str], None]) -> tuple[Any, Callable[[np.ndarray], np.ndarray], dict]:
    """Train the net; returns the kept :class:`~.nets.Standardized` model (its best validation state), a function
    of its predicted class ids, and the extras for ``metrics.json``."""
    import torch

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
    model = Standardized(net, mean, std, metadata={"baseline": spec.name,
                                                   "model_args": json.dumps(cfg.model_args, sort_keys=True)})
    model = model.to(device)
    params = count_trainable(model)
    log(f"{spec.name}: {params:,} trainable parameters; {len(xtr)} training windows of {window}x{channels}; "
        f"device {device}")
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    weight = class_weights_from_labels(ytr, k, scheme="balanced").to(device) if cfg.class_weights else None
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
    extras = {
        "train_time_s": round(train_time, 3), "trainable_params": params, "epochs_run": epoch,
        "best_epoch": best["epoch"],
        "val_f1_macro": best["f1"] if use_val else None, "val_accuracy": best["acc"] if use_val else None,
        "train_windows": len(xtr), "device": str(device),
    }
    return model, (lambda w: predict(model, w, cfg.eval_batch_size, device)), extras


# ---------------------------------------------------------------------------------------------------------
# Feature models


def fit_takes_val(model_class: type) -> bool:
    """Whether a feature model's ``fit`` accepts ``val=(windows, labels)`` (it then does model selection)."""
    return "val" in inspect.signature(model_class.fit).parameters


def fit_features(spec: BaselineSpec, cfg: BaselineConfig, ds: PreparedDataset, data: Splits, out: Path,
                 log: Callable[[str], None]) -> tuple[Any, Callable[[np.ndarray], np.ndarray], dict]:
    """Fit the feature model; returns it, its ``predict`` and the extras for ``metrics.json``."""
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
    if use_val and fit_takes_val(type(model)):
        model.fit(xtr, ytr, val=data.val)
    else:
        model.fit(xtr, ytr)
    train_time = time.perf_counter() - t0
    extras: dict[str, Any] = {"train_time_s": round(train_time, 3), "trainable_params": None,
                              "train_windows": len(xtr)}
    summary = dict(model.fit_summary())
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
    return model, model.predict, extras
