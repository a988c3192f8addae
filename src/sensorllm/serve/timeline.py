"""A timeline plot of predictions: per recording, the predicted activity and its confidence over time, with the
true labels beside it where the input has them.

``sensorllm predict --report DIR`` writes ``DIR/timeline.png`` (:func:`panels_from_prediction`), ``sensorllm
stream --timeline PATH`` one of the stream's decisions (:func:`panel_from_decisions`). One panel per recording,
at most :data:`PANELS_PER_IMAGE` per image: further recordings go to ``timeline-2.png``, ``timeline-3.png``, ...

Each panel has two strips above the confidence axis: ``predicted`` (each window's argmax class, drawn over the
middle ``stride`` samples it stands for, so overlapping windows tile the time axis) and ``true`` (each sample's
label from the label column, blank where unlabelled or without a label column). The line below is the
predicted class's probability (0 to 1). Colours are the model's classes, in class-index order, in one legend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["PANELS_PER_IMAGE", "TimelinePanel", "panel_from_decisions", "panels_from_prediction",
           "timeline_paths", "write_timeline"]

PANELS_PER_IMAGE = 6


@dataclass
class TimelinePanel:
    """One recording: window ``start_s``/``end_s`` (seconds from its first sample), predicted class ``label`` and
    its probability ``confidence`` per window; ``true``: each sample's class (``-1`` unlabelled) at ``rate_hz``,
    or ``None`` without labels; ``note`` is shown when there is no window."""

    name: str
    start_s: np.ndarray
    end_s: np.ndarray
    label: np.ndarray
    confidence: np.ndarray
    true: np.ndarray | None = None
    rate_hz: float = 1.0
    note: str = ""


def panels_from_prediction(pred, inp, class_names: Sequence[str], rate_hz: float) -> list[TimelinePanel]:
    """One :class:`TimelinePanel` per recording of a :class:`~sensorllm.serve.predict.Prediction` of ``inp``."""
    df = pred.frame
    probs = df[[f"p_{c}" for c in class_names]].to_numpy(dtype=np.float64) if len(df) else np.zeros((0, 0))
    segs = pred.segments if pred.segments is not None else np.zeros(len(df), dtype=np.int64)
    panels = []
    for si, (seg, rec) in enumerate(zip(inp.segments, pred.recordings, strict=True)):
        sel = segs == si
        true = None if inp.labels is None else np.asarray(inp.labels[seg.start:seg.end])
        p = probs[sel]
        panels.append(TimelinePanel(
            seg.name, df["start_s"].to_numpy()[sel], df["end_s"].to_numpy()[sel], p.argmax(1) if len(p) else
            np.zeros(0, dtype=np.int64), p.max(1) if len(p) else np.zeros(0), true, rate_hz,
            "" if rec["windows"] else f"no window: {rec['rows']} rows" + (
                " (shorter than a window)" if rec["rows"] < pred.window else " (all on long gaps)")))
    return panels


def panel_from_decisions(decisions: Sequence, class_names: Sequence[str], name: str, rate_hz: float,
                         true: np.ndarray | None = None) -> TimelinePanel:
    """A panel of a stream's :class:`~sensorllm.serve.stream.Decision` list (the smoothed label and
    probability when the stream smoothed)."""
    idx = {c: i for i, c in enumerate(class_names)}
    lab = [d.smooth_label if d.smooth_label is not None else d.label for d in decisions]
    conf = [d.smooth_prob if d.smooth_prob is not None else d.prob for d in decisions]
    return TimelinePanel(name, np.array([d.start_s for d in decisions], dtype=np.float64),
                         np.array([d.end_s for d in decisions], dtype=np.float64),
                         np.array([idx[v] for v in lab], dtype=np.int64), np.array(conf, dtype=np.float64), true,
                         rate_hz, "" if decisions else "no decision (fewer samples than one window)")


def timeline_paths(path: str | Path, n_panels: int, per_image: int = PANELS_PER_IMAGE) -> list[Path]:
    """``timeline.png``, ``timeline-2.png``, ... for ``n_panels`` panels (at least one image)."""
    path = Path(path)
    n = max(1, -(-n_panels // per_image))
    return [path if i == 0 else path.with_name(f"{path.stem}-{i + 1}{path.suffix}") for i in range(n)]


def _runs(y: np.ndarray) -> list[tuple[int, int, int]]:
    """``(start, end, value)`` of each run of equal values."""
    if not len(y):
        return []
    cut = np.flatnonzero(np.diff(y) != 0) + 1
    a = np.concatenate([[0], cut])
    b = np.concatenate([cut, [len(y)]])
    return [(int(s), int(e), int(y[s])) for s, e in zip(a, b, strict=True)]


def _draw(ax, p: TimelinePanel, colors, has_true: bool) -> None:
    ax.set_ylim(0, 1.62 if has_true else 1.38)
    ax.set_yticks([0, 0.5, 1.0] + ([1.23, 1.47] if has_true else [1.23]))
    ax.set_yticklabels(["0", "0.5", "1"] + (["predicted", "true"] if has_true else ["predicted"]))
    ax.set_title(p.name, fontsize=9, loc="left")
    ax.grid(axis="y", lw=0.3, alpha=0.5)
    if len(p.start_s):
        mid = (p.start_s + p.end_s) / 2
        step = np.median(np.diff(mid)) if len(mid) > 1 else float(p.end_s[0] - p.start_s[0])
        half = min(step, float(np.median(p.end_s - p.start_s))) / 2
        for s, e, k in _runs(p.label):
            ax.broken_barh([(mid[s] - half, mid[e - 1] - mid[s] + 2 * half)], (1.14, 0.18), color=colors[k])
        ax.step(np.append(mid - half, mid[-1] + half), np.append(p.confidence, p.confidence[-1]), where="post",
                color="black", lw=0.9)
        ax.set_xlim(min(0.0, mid[0] - half), max(mid[-1] + half, p.end_s[-1]))
    elif p.note:
        ax.text(0.5, 0.5, p.note, transform=ax.transAxes, ha="center", va="center", fontsize=8, color="0.3")
    if p.true is not None:
        for s, e, k in _runs(np.asarray(p.true)):
            if k >= 0:
                ax.broken_barh([(s / p.rate_hz, (e - s) / p.rate_hz)], (1.38, 0.18), color=colors[k])
        if not len(p.start_s):
            ax.set_xlim(0, max(len(p.true), 1) / p.rate_hz)


def write_timeline(panels: Sequence[TimelinePanel], class_names: Sequence[str], path: str | Path, title: str = "",
                   per_image: int = PANELS_PER_IMAGE) -> list[tuple[Path, int]]:
    """Draw ``panels``, at most ``per_image`` per image, to ``path`` and ``<stem>-2.png``, ...; returns each
    image's path and panel count. Older images of a longer run with the same name are removed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    files = timeline_paths(path, len(panels), per_image)
    k = len(class_names)
    cmap = plt.get_cmap("tab10" if k <= 10 else "tab20")
    colors = [cmap(i % cmap.N) for i in range(k)]
    has_true = any(p.true is not None for p in panels)
    out = []
    for i, f in enumerate(files):
        chunk = list(panels[i * per_image:(i + 1) * per_image])
        fig, axes = plt.subplots(max(1, len(chunk)), 1, figsize=(11, 1.9 * max(1, len(chunk)) + 0.9), squeeze=False)
        for ax, p in zip(axes[:, 0], chunk):
            _draw(ax, p, colors, has_true)
            ax.set_ylabel("confidence", fontsize=8)
        axes[-1, 0].set_xlabel("time from the recording's first sample (s)")
        head = title + (f" ({i + 1}/{len(files)})" if len(files) > 1 else "")
        fig.legend(handles=[Patch(color=colors[j], label=c) for j, c in enumerate(class_names)],
                   loc="upper center", ncol=min(k, 6), fontsize=8, frameon=False, title=head or None,
                   title_fontsize=9)
        fig.tight_layout(rect=(0, 0, 1, 1 - 0.5 / fig.get_size_inches()[1] - 0.02 * ((k + 5) // 6)))
        tmp = f.with_name(f.name + ".tmp.png")
        fig.savefig(tmp, dpi=110)
        plt.close(fig)
        tmp.replace(f)
        out.append((f, len(chunk)))
    j = len(files) + 1
    while (old := path.with_name(f"{path.stem}-{j}{path.suffix}")).exists():  # left from an earlier, longer run
        old.unlink()
        j += 1
    return out
