"""The UCI-HAR results table: SensorLLM (CPU configuration) and every baseline in the same harness.

Resumable: every (method, seed) run has its own directory under ``--out``; a run whose ``metrics.json``
exists is skipped, so the command can be started again after an interruption and only what is missing runs.
``docs/results.md`` is rewritten from whatever runs have finished (missing ones are listed as such), with
``<out>/NOTES.md`` (facts about how the runs went) as a section when that file exists.

The run directories are not in git, so every finished run's test metrics are also copied to a small JSON record
in git, ``benchmarks/records/<name of --out>/<method>/seed<N>.json`` (and ``NOTES.md`` beside them): a fresh
checkout rebuilds the table from the records (``--table-only``) and does not rerun what they hold. Where neither
the runs nor the records hold finished runs that the document shows (runs from before the records, or a narrower
``--seeds``), the document is left as it is unless ``--overwrite-doc`` is given.

    python benchmarks/results.py --data runs/uci-har/data --out runs/results --seeds 0 1 2
    python benchmarks/results.py --only cnn1d,features-rf         # a subset of methods
    python benchmarks/results.py --table-only                     # just rebuild docs/results.md

On a GPU (`sensorllm align/tune/evaluate` use one whenever it is visible), write a separate document and take the
baseline rows from the CPU runs (same windows, splits and metrics; the machine changes only their speed):

    python benchmarks/results.py --out runs/results-gpu --doc docs/results-gpu.md --baselines-out runs/results \
        --only sensorllm --set optim.batch_size=16 data.max_train_examples=null ...

Long: run it in the background with its log saved (``nohup ... > runs/results.log 2>&1 &``).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sensorllm.train.config import Stage2Config, load_config

from _common import ROOT, ensure_prepared, run_logged

DEFAULT_DOC = "docs/results.md"
RECORDS = ROOT / "benchmarks" / "records"  # git-tracked copies of finished runs' test metrics
DEFAULT_EVAL_BATCH = 8
PAPER_F1 = {  # paper Tables 2 and 3, UCI-HAR F1-macro (%), mean over 5 runs
    "sensorllm": 91.2, "attend": 93.2, "deepconvlstm": 89.2,
    "sensorllm-no-stage1": 82.0,  # Table 3 "task-only w/ prompt"
    "sensorllm-no-stats": 89.2,  # Table 3 "SensorLLM w/o prompt"
}
BASELINES = ["features-rf", "cnn1d", "deepconvlstm", "deepconvlstm-attn", "attend", "chronos-mlp", "chronos-ncm",
             "chronos-mlp-mean-scale", "chronos-mlp-pretrained-encoder", "chronos-mlp-bolt"]
# baseline rows that run a registered baseline with model arguments: row name → (baseline, --model-arg values)
BASELINE_VARIANTS = {
    # the same random-init encoder read through Chronos' mean-scaling tokeniser (the pretrained one's), so that
    # the tokeniser's effect and the pretraining's effect can be told apart
    "chronos-mlp-mean-scale": ("chronos-mlp", ['tokenizer="mean_scale"']),
    # the paper's Chronos+MLP on the Chronos-T5-tiny that `sensorllm pretrain-encoder` trained on UCI-HAR windows
    "chronos-mlp-pretrained-encoder": ("chronos-mlp", ['pretrained="runs/uci-har/pretrain-encoder/model"']),
    # the same on a seeded random-init Chronos-Bolt-tiny (one token per 16-sample patch, mean-pooled)
    "chronos-mlp-bolt": ("chronos-mlp", ['encoder="chronos-bolt"']),
}
MS = "encoder.tokenizer.kind=mean_scale"  # not the paper: the encoder reads mean-scaled, not z-normalised, series


@dataclass(frozen=True)
class Variant:
    """How one SensorLLM row differs from the paper's setting (``--stage1-config`` / ``--stage2-config``)."""

    both: tuple[str, ...] = ()  # config overrides of both stages
    stage2: tuple[str, ...] = ()  # Stage-2-only overrides
    stage1: bool = True  # start Stage 2 from a Stage-1 model (made once, shared by rows with equal Stage 1)
    stage2_config: str | None = None  # replaces --stage2-config
    stage1_data: str | None = None  # align on this other real set (a TRANSFER_SOURCES key) instead of UCI-HAR


# sets Stage 1 can run on instead of UCI-HAR (cross-dataset transfer): name → folder in ../shared/datasets
TRANSFER_SOURCES = {"basicmotions": "UEA-BasicMotions"}
# The encoder variants start Stage 2 from scratch (a Stage-1 model is tied to its encoder's weights): compare them
# with `sensorllm-no-stage1`.
SENSORLLM = {
    "sensorllm": Variant(),
    "sensorllm-no-stage1": Variant(stage2=("init_from=null",), stage1=False),
    "sensorllm-no-stats": Variant(stage2=("data.preprocess_type=none",)),
    "sensorllm-no-tokens": Variant(both=("channel_markers=false",)),
    "sensorllm-pool16": Variant(both=("projector.pool=16",)),
    "sensorllm-pool4": Variant(both=("projector.pool=4",)),
    "sensorllm-std-head": Variant(stage2=("head_standardize=true",)),  # not the paper: standardised head
    "sensorllm-mean-scale": Variant(both=(MS,)),
    # the paper's ablations repeated on top of the mean-scaling tokeniser (the variant that learns here)
    "sensorllm-mean-scale-no-stage1": Variant(both=(MS,), stage2=("init_from=null",), stage1=False),
    "sensorllm-mean-scale-no-stats": Variant(both=(MS,), stage2=("data.preprocess_type=none",)),
    "sensorllm-mean-scale-no-tokens": Variant(both=(MS, "channel_markers=false")),
    "sensorllm-mean-scale-pool16": Variant(both=(MS, "projector.pool=16")),
    "sensorllm-mean-scale-pool4": Variant(both=(MS, "projector.pool=4")),
    # k = 1 is the paper's one token per sample: 129 sensor tokens per channel of a 128-sample window against 17
    # at k = 8; it runs on the same seeded training and test subsets as every other row
    "sensorllm-mean-scale-pool1": Variant(both=(MS, "projector.pool=1")),
    # cross-dataset transfer into UCI-HAR (the paper's Table 5 direction): Stage 1 on BasicMotions, whose six
    # channels carry the same names (x_acc … z_gyro), so every channel token carries over
    "sensorllm-mean-scale-s1-basicmotions": Variant(both=(MS,), stage1_data="basicmotions"),
    "sensorllm-raw-patch": Variant(stage1=False, stage2_config="configs/here/uci-har/stage2-raw-patch.yaml"),
    "sensorllm-bolt": Variant(stage1=False, stage2_config="configs/here/uci-har/stage2-bolt.yaml"),
    "sensorllm-pretrained-encoder": Variant(stage1=False,
                                            stage2_config="configs/here/uci-har/stage2-pretrained-encoder.yaml"),
}


def record_path(name: str, seed: int, out: Path) -> Path:
    """The git-tracked copy of a finished run's test metrics (``out`` is the results directory the run is in)."""
    return RECORDS / out.name / name / f"seed{seed}.json"


def keep_record(src: Path, dst: Path) -> None:
    """Copy ``src`` (a run's ``metrics.json``, or ``NOTES.md``) to its record ``dst`` when it exists and differs:
    records outlive ``runs/``, which is not in git."""
    if src.exists() and (not dst.exists() or dst.read_bytes() != src.read_bytes()):
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(src.read_bytes())


def metrics_file(name: str, seed: int, out: Path) -> Path | None:
    """A finished run's test metrics: its run directory's ``metrics.json``, else its record; None if unfinished."""
    return next((p for p in (out / name / f"seed{seed}" / "metrics.json", record_path(name, seed, out))
                 if p.exists()), None)


def run_baseline(name: str, seed: int, data: Path, out: Path) -> None:
    d = out / name / f"seed{seed}"
    if metrics_file(name, seed, out):
        return
    d.mkdir(parents=True, exist_ok=True)
    # the Chronos-embedding baselines share one embedding cache (the first seed encodes, the others read)
    cache = ["--model-arg", f'cache_dir="{out / "embcache-chronos-feats"}"'] if name.startswith("chronos-") else []
    base, model_args = BASELINE_VARIANTS.get(name, (name, []))
    extra = [a for v in model_args for a in ("--model-arg", v)]
    run_logged([sys.executable, "-m", "sensorllm.cli.main", "baseline", base, "--data", str(data), "--out", str(d),
                "--seed", str(seed), "--overwrite", *cache, *extra], d / "log.txt")


def stage1_dir(name: str, seed: int, out: Path) -> Path:
    """One Stage-1 model per (data, overrides of both stages, seed), shared by the rows that have it in common."""
    v = SENSORLLM[name]
    return out / f"stage1-{v.stage1_data + '-' if v.stage1_data else ''}{'-'.join(v.both) or 'pool8'}" / f"seed{seed}"


def sensorllm_train_time(name: str, seed: int, out: Path) -> float:
    """Seconds of training (validation included, test scoring not) behind a SensorLLM run: its Stage 2 plus the
    Stage 1 it started from, read from the stages' own summaries (a shared Stage 1 counts in every row using it).
    A Stage 1 copied back without its summary (the GPU runs) counts up to its last logged step."""
    t = json.loads((out / name / f"seed{seed}" / "train_summary.json").read_text())["train_time_s"]
    if SENSORLLM[name].stage1:
        s1 = stage1_dir(name, seed, out)
        t += (json.loads((s1 / "metrics.json").read_text())["train_time_s"] if (s1 / "metrics.json").exists()
              else float(np.loadtxt(s1 / "train_log.csv", delimiter=",", skiprows=1, ndmin=2)[-1, -1]))
    return t


def run_sensorllm(name: str, seed: int, data: Path, out: Path, args: argparse.Namespace) -> None:
    v = SENSORLLM[name]
    d = out / name / f"seed{seed}"
    if metrics_file(name, seed, out):
        return
    d.mkdir(parents=True, exist_ok=True)
    common = [f"run.seed={seed}", f"run.cache_dir={out / 'embcache'}", *v.both, *args.set]
    t0 = time.time()
    s1 = stage1_dir(name, seed, out)
    s1_data = data
    if v.stage1_data:  # the source set is prepared once beside the UCI-HAR data (the same registry and splits)
        s1_data = ensure_prepared(v.stage1_data, TRANSFER_SOURCES[v.stage1_data], data.parent.parent / v.stage1_data
                                  / "data", d / "log.txt")
    if v.stage1 and not (s1 / "model" / "config.json").exists():
        run_logged([sys.executable, "-m", "sensorllm.cli.main", "align", "--config", str(ROOT / args.stage1_config),
                    f"data.prepared={s1_data}", *common, *args.set1, f"run.out_dir={s1}",
                    f"optim.max_steps={args.stage1_steps}"], d / "log.txt")
    init = [f"init_from={s1 / 'model'}"] if v.stage1 else []
    stage2_yaml = ROOT / (v.stage2_config or args.stage2_config)
    run_logged([sys.executable, "-m", "sensorllm.cli.main", "tune", "--config", str(stage2_yaml),
                f"data.prepared={data}", *common, *init, *v.stage2, f"run.out_dir={d}",
                f"optim.max_steps={args.stage2_steps}"], d / "log.txt")
    ev = [sys.executable, "-m", "sensorllm.cli.main", "evaluate", "--model", str(d), "--data", str(data),
          "--out", str(d / "eval-test"), "--batch-size", str(args.eval_batch)]
    if args.test_limit:
        ev += ["--limit", str(args.test_limit)]
    run_logged(ev, d / "log.txt")
    m = json.loads((d / "eval-test" / "metrics.json").read_text())
    summary = json.loads((d / "train_summary.json").read_text())
    m.update({"train_time_s": sensorllm_train_time(name, seed, out), "wall_time_s": time.time() - t0,
              "device": summary.get("device", "cpu"),
              "trainable_params": sum(n for k, n in summary["trainable"].items() if k != "llm_total")})
    (d / "metrics.json").write_text(json.dumps(m, indent=1))


def run_dir(name: str, args: argparse.Namespace) -> Path:
    """Where ``name``'s runs live: the baselines may come from another results directory (``--baselines-out``)."""
    return Path(args.baselines_out) if name in BASELINES and args.baselines_out else Path(args.out)


def finished(name: str, seeds: list[int], args: argparse.Namespace) -> dict[int, dict]:
    """Seed → test metrics of ``name``'s finished runs among ``seeds`` (the run directory's, else its record)."""
    return {s: json.loads(p.read_text()) for s in seeds if (p := metrics_file(name, s, run_dir(name, args)))}


def table(methods: list[str], seeds: list[int], args: argparse.Namespace) -> str:
    rows = ["| method | seeds done | F1-macro (%) | accuracy (%) | train time (s) | trainable params | device | "
            "paper F1 (%) |", "|---|---|---|---|---|---|---|---|"]
    for name in methods:
        done = finished(name, seeds, args)
        ms = list(done.values())
        paper = PAPER_F1.get(name, "")
        if not ms:
            rows.append(f"| {name} | 0/{len(seeds)} | not run yet | | | | | {paper} |")
            continue
        f1 = 100 * np.array([m["f1_macro"] for m in ms])
        acc = 100 * np.array([m["accuracy"] for m in ms])
        t = np.mean([m.get("train_time_s", np.nan) for m in ms])  # SensorLLM: sensorllm_train_time at the end
        p = ms[0].get("trainable_params")
        device = ", ".join(sorted({m.get("device", "cpu") for m in ms}))
        rows.append(f"| {name} | {len(ms)}/{len(seeds)} | {f1.mean():.1f} ± {f1.std():.1f} | {acc.mean():.1f} ± "
                    f"{acc.std():.1f} | {t:.0f} | {p if p is not None else 'n/a (forest)'} | {device} | {paper} |")
    return "\n".join(rows)


def _mean_f1(name: str, seeds: list[int], args: argparse.Namespace) -> float | None:
    ms = [m["f1_macro"] for m in finished(name, seeds, args).values()]
    return float(np.mean(ms)) if ms else None


def verdict(seeds: list[int], args: argparse.Namespace) -> str:
    """Sentences comparing SensorLLM (the paper's setting, and its best finished variant) with the best finished
    baseline, from the finished runs."""
    ours = _mean_f1("sensorllm", seeds, args)
    base = {b: f for b in BASELINES if (f := _mean_f1(b, seeds, args)) is not None}
    if ours is None or not base:
        return "SensorLLM and the baselines cannot be compared yet (runs missing)."
    best = max(base, key=base.get)

    def beats(f: float) -> str:
        return "beats every finished baseline" if f > base[best] else "does **not** beat the baselines"

    text = (f"In this harness SensorLLM in the paper's setting ({100 * ours:.1f} F1-macro) {beats(ours)} (best: "
            f"{best}, {100 * base[best]:.1f}).")
    variants = {n: f for n in SENSORLLM if n != "sensorllm" and (f := _mean_f1(n, seeds, args)) is not None}
    if variants:
        top = max(variants, key=variants.get)
        n_done = len(finished(top, seeds, args))
        text += (f" The best finished SensorLLM variant, `{top}` ({100 * variants[top]:.1f}, {n_done} "
                 f"seed{'s' if n_done > 1 else ''}), {beats(variants[top])}.")
    return text + " The points above are what limits it here." if ours <= base[best] else text


def stage2_setting(args: argparse.Namespace) -> Stage2Config:
    """The Stage-2 config the SensorLLM rows ran with (the YAML plus ``--set``), for the text around the table."""
    return load_config(Stage2Config, ROOT / args.stage2_config, [f"data.prepared={args.data}", *args.set])


def run_notes(args: argparse.Namespace) -> str:
    """``<out>/NOTES.md`` (facts about how these runs went, kept beside them; its record copy where the runs are
    gone) as a section, if it exists."""
    notes = Path(args.out) / "NOTES.md"
    src = notes if notes.exists() else RECORDS / Path(args.out).name / "NOTES.md"
    return f"\n## Notes on these runs (`{notes}`)\n\n{src.read_text().strip()}\n" if src.exists() else ""


def tokenizer_sentence(seeds: list[int], args: argparse.Namespace) -> str:
    """The measured effect of the encoder's tokeniser and of its pretraining on frozen features, if run."""
    f = {n: _mean_f1(n, seeds, args) for n in ("chronos-mlp", "chronos-mlp-mean-scale",
                                               "chronos-mlp-pretrained-encoder", "chronos-mlp-bolt")}
    if f["chronos-mlp"] is None or f["chronos-mlp-mean-scale"] is None:
        return ""
    text = (f"Reading the same random-init encoder through Chronos' mean-scaling tokeniser instead, which keeps "
            f"the offset, raises Chronos+MLP from {100 * f['chronos-mlp']:.1f} to "
            f"{100 * f['chronos-mlp-mean-scale']:.1f} F1-macro")
    if f["chronos-mlp-pretrained-encoder"] is not None:
        gain = 100 * (f["chronos-mlp-pretrained-encoder"] - f["chronos-mlp-mean-scale"])
        text += (f"; pre-training the encoder on UCI-HAR windows (same tokeniser) then gives "
                 f"{100 * f['chronos-mlp-pretrained-encoder']:.1f} ({gain:+.1f} points)")
    text += ". The `-mean-scale` row tries that tokeniser in SensorLLM."
    if f["chronos-mlp-bolt"] is not None:
        text += (f" A random-init Chronos-Bolt-tiny, which embeds real-valued patches (continuous in the values) "
                 f"but also removes the offset, gives {100 * f['chronos-mlp-bolt']:.1f}; the `-bolt` row puts it in "
                 "SensorLLM.")
    return text


def mean_scale_sentence(seeds: list[int], args: argparse.Namespace) -> str:
    """A bullet on the ``-mean-scale`` row against the paper's setting, once both have finished seeds."""
    ours, ms = _mean_f1("sensorllm", seeds, args), _mean_f1("sensorllm-mean-scale", seeds, args)
    if ours is None or ms is None:
        return ""
    n = len(finished("sensorllm-mean-scale", seeds, args))
    return (f"- **The tokeniser decides whether SensorLLM learns here.** With the same random-init Chronos-T5-tiny, "
            f"LLM and budget, reading the series through Chronos' mean-scaling tokeniser instead of the "
            f"paper's z-normalising one (`-mean-scale`, {n} seed{'s' if n > 1 else ''}) gives {100 * ms:.1f} "
            f"F1-macro against {100 * ours:.1f}. The next point says why.\n")


def _f1_by_seed(name: str, seeds: list[int], args: argparse.Namespace) -> dict[int, float]:
    return {s: m["f1_macro"] for s, m in finished(name, seeds, args).items()}


MEAN_SCALE_ABLATIONS = (("-no-stage1", "without Stage 1"), ("-no-stats", "without the statistics text"),
                        ("-no-tokens", "without the channel tokens"), ("-pool16", "pooled by 16 instead of 8"),
                        ("-pool4", "pooled by 4 instead of 8"), ("-pool1", "not pooled (k = 1) instead of pooled by 8"),
                        ("-s1-basicmotions", "with Stage 1 on BasicMotions instead of UCI-HAR"))


def ablation_sentence(seeds: list[int], args: argparse.Namespace) -> str:
    """A bullet on the paper's ablations (and its cross-dataset question, Table 5) run on the ``-mean-scale``
    variant, each compared with ``-mean-scale`` on the seeds both have finished (seed-to-seed variation is large,
    so unequal seed sets would mislead), and what the Stage-1 comparison says when it has been run."""
    base = _f1_by_seed("sensorllm-mean-scale", seeds, args)
    parts, diff = [], {}
    for suffix, what in MEAN_SCALE_ABLATIONS:
        abl = _f1_by_seed("sensorllm-mean-scale" + suffix, seeds, args)
        common = sorted(set(abl) & set(base))
        if common:
            f_abl, f_base = (100 * float(np.mean([d[s] for s in common])) for d in (abl, base))
            diff[suffix] = (f_base - f_abl, [100 * (base[s] - abl[s]) for s in common])
            parts.append(f"{what} (`-mean-scale{suffix}`) {f_abl:.1f} against {f_base:.1f} "
                         f"(seed{'s' if len(common) > 1 else ''} {', '.join(map(str, common))})")
    if not parts:
        return ""
    text = ("- **The paper's ablations and transfer, on the variant that learns here** (F1-macro, each against "
            "`-mean-scale` on the same seeds): " + "; ".join(parts) + ". The paper on UCI-HAR (Tables 3 and 5): "
            "91.2 in full, 82.0 without Stage 1, 89.2 without the statistics text, 91.0 with Stage 1 on USC-HAD; "
            "its channel-token ablation is on MHealth and PAMAP2 only (+0.6 and +1.4 with the tokens).")
    if "-no-stage1" in diff:
        gain, per_seed = diff["-no-stage1"]
        text += (f" Stage 1 as run here ({args.stage1_steps} steps) changes test F1-macro by {gain:+.1f} points "
                 f"(per seed: {', '.join(f'{g:+.1f}' for g in per_seed)}); the paper measures +9.2.")
    return text + "\n"


ENCODER_ROWS = (("sensorllm-raw-patch", "no pretrained encoder (raw patches, a trained linear layer)"),
                ("sensorllm-bolt", "random-init Chronos-Bolt-tiny"),
                ("sensorllm-pretrained-encoder", "Chronos-T5-tiny pre-trained here (`sensorllm pretrain-encoder`)"),
                ("sensorllm-no-stage1", "random-init Chronos-T5-tiny, the paper's tokeniser"),
                ("sensorllm-mean-scale-no-stage1", "random-init Chronos-T5-tiny, mean-scaling tokeniser"))


def encoder_sentence(seeds: list[int], args: argparse.Namespace) -> str:
    """A bullet on which time-series encoder works inside SensorLLM: the encoder rows and the Chronos-T5 rows with
    the same training (Stage 2 from scratch), on the seeds every row shown has finished (seed-to-seed variation is
    large, so unequal seed sets would mislead); each row's own seeds when they share none."""
    by_row = {name: f1 for name, _ in ENCODER_ROWS if (f1 := _f1_by_seed(name, seeds, args))}
    if not any(name in by_row for name, _ in ENCODER_ROWS[:3]):  # no encoder row finished yet
        return ""
    common = sorted(set.intersection(*(set(f1) for f1 in by_row.values())))
    parts = []
    for name, what in ENCODER_ROWS:
        if name in by_row:
            f1 = {s: by_row[name][s] for s in common} if common else by_row[name]
            v = 100 * np.array(list(f1.values()))
            parts.append(f"{what} (`{name.removeprefix('sensorllm')}`) {v.mean():.1f}"
                         + (f" ± {v.std():.1f}" if len(v) > 1 else "")
                         + ("" if common else f" (seed{'s' if len(f1) > 1 else ''} {', '.join(map(str, f1))})"))
    on = (f"seed{'s' if len(common) > 1 else ''} {', '.join(map(str, common))} (finished by every row "
          "here)" if common else "each row on its own seeds")
    return ("- **Which encoder inside SensorLLM** (Stage 2 from scratch at the same budget, test F1-macro on "
            f"{on}; `docs/encoders.md`): " + "; ".join(parts) + ". Chronos+MLP on the same frozen encoders is in "
            "the table above (`chronos-mlp*`).\n")


def rows_it_would_drop(methods: list[str], seeds: list[int], args: argparse.Namespace) -> list[str]:
    """Rows whose finished seeds the current ``--doc`` shows but neither the runs here nor their records hold (runs
    from before the records, or a narrower ``--seeds``, would otherwise turn a finished row into "not run yet")."""
    doc = ROOT / args.doc
    if not doc.exists():
        return []
    shown = {cells[1]: int(cells[2].split("/")[0]) for line in doc.read_text().splitlines()
             if (cells := [c.strip() for c in line.split("|")]) and len(cells) > 3 and "/" in cells[2]
             and cells[2].split("/")[0].isdigit()}
    return [f"{m} ({shown[m]} seeds in the document, {n} here)" for m in methods
            if m in shown and (n := len(finished(m, seeds, args))) < shown[m]]


def write_doc(methods: list[str], seeds: list[int], args: argparse.Namespace) -> Path:
    doc = ROOT / args.doc
    for name in methods:
        for seed in seeds:
            keep_record(run_dir(name, args) / name / f"seed{seed}" / "metrics.json",
                        record_path(name, seed, run_dir(name, args)))
    keep_record(Path(args.out) / "NOTES.md", RECORDS / Path(args.out).name / "NOTES.md")
    if not args.overwrite_doc and (lost := rows_it_would_drop(methods, seeds, args)):
        print(f"not rewriting {doc}: it shows finished runs that {args.out} (and --seeds) lack: {'; '.join(lost)}. "
              "Run with the seeds and results directory that produced it, or pass --overwrite-doc.", flush=True)
        return doc
    cmd = "python benchmarks/results.py " + " ".join(
        f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in (("data", args.data), ("out", args.out), ("doc", args.doc), ("baselines_out", args.baselines_out),
                     ("seeds", seeds), ("stage1_steps", args.stage1_steps), ("stage2_steps", args.stage2_steps),
                     ("test_limit", args.test_limit), ("eval_batch", args.eval_batch), ("set", args.set),
                     ("set1", args.set1))
        if v not in ([], 0, None) and (k, v) not in (("doc", DEFAULT_DOC), ("eval_batch", DEFAULT_EVAL_BATCH)))
    s2 = stage2_setting(args)
    batch = s2.optim.batch_size * s2.optim.grad_accum
    manifest = Path(args.data) / "manifest.json"
    n_train = json.loads(manifest.read_text())["splits"]["train"]["windows"] if manifest.exists() else None
    used = min(n_train, s2.data.max_train_examples or n_train) if n_train else None
    windows = args.stage2_steps * batch
    epochs = f"{windows / used:.2f} passes over" if used else "part of"
    subset = (f"a seeded subset of {used:,} of the {n_train:,} training windows"
              if used and used < n_train else f"all {n_train:,} training windows" if n_train else "the training windows")
    llm_devices = sorted({m.get("device", "cpu") for name in SENSORLLM
                          for m in finished(name, seeds, args).values()})
    other = [o for o in (args.other_doc or []) if (ROOT / o).exists() and o != args.doc]
    text = f"""# Results: UCI-HAR (subject-wise, official test subjects)

Produced by `{cmd}` (resumable; this file is rewritten from the finished runs, or from their records in `benchmarks/records/{Path(args.out).name}` where the runs are gone).
SensorLLM rows ran on: {', '.join(llm_devices) or 'nothing yet'} (the `device` column; `cpu` is this project's
2-core {platform.machine()} machine). Every method sees the same prepared windows (128 samples / stride 64 from the
raw UCI HAPT recordings, `sensorllm prepare uci-har`), selects its model on the validation subjects (never on test)
and is scored once on the nine official test subjects by the same metrics code. Mean ± standard deviation over
seeds. Baselines train on the CPU with one torch thread each (their default); up to two runs may share the 2 cores,
so CPU training times are indicative only. Train time is training with its validation, not the test scoring;
for SensorLLM it adds Stage 1 and Stage 2 (a Stage-1 model shared by several rows counts in each).{' Baseline rows are read from `' + args.baselines_out + '`.' if args.baselines_out else ''}
{''.join(chr(10) + 'See also: ' + ', '.join(f'[`{o}`]({Path(o).name})' for o in other) + '.') if other else ''}

{table(methods, seeds, args)}
{run_notes(args)}
SensorLLM here is **not** the paper's setting: SmolLM2-135M-Instruct instead of Llama-3-8B, a seeded
**random-init** Chronos-T5-tiny instead of pretrained Chronos-T5-large (no weights are obtainable here),
sensor tokens mean-pooled by {s2.projector.pool} (`projector.pool`), {args.stage1_steps} Stage-1 and {args.stage2_steps}
Stage-2 optimiser steps of batch {batch} ({epochs} {subset}; `{args.stage2_config}`, overrides
`{' '.join(args.set) or 'none'}`){', test scored on a seeded subset of ' + str(args.test_limit) + ' windows' if args.test_limit else ', test scored on all test windows'}.
Paper numbers (Table 2) are shown for reference only; the data source differs too (raw HAPT windows, 10,411 vs the
official 10,299; see `docs/deviations.md`). Ablations: `-no-stage1` (Stage 2 from scratch), `-no-stats` (no
statistics text, `preprocess_type=none`), `-no-tokens` (no `<c_start>`/`<c_end>` channel tokens in either stage,
`channel_markers=false`), `-pool4` / `-pool16` (pooling factor); `-std-head` (not the paper: the head reads
per-feature standardised states, `head_standardize=true`); `-mean-scale` (not the paper: the encoder's tokeniser
mean-scales instead of z-normalising, `encoder.tokenizer.kind=mean_scale`, in both stages); `-mean-scale-no-stage1` / `-no-stats` / `-no-tokens` / `-pool16` / `-pool4` / `-pool1` (k = 1, the paper's one token per sample; on a smaller budget that k = 1 fits, beside k = 4, 8 and 16 on the same one: `docs/pool-sweep.md`): the same ablations on top of `-mean-scale` (run there first: with the paper's tokeniser SensorLLM stays at chance here, where removing a part cannot show what that part is worth); `-mean-scale-s1-basicmotions`: Stage 1 on UEA BasicMotions (same six channel names), Stage 2 on UCI-HAR, the paper's cross-dataset question (Table 5) in the direction `docs/transfer.md` does not cover. Encoders (Stage 2 without Stage 1, so compare
with `-no-stage1`; `docs/encoders.md`): `-raw-patch` (no pretrained encoder: z-normalised raw patches of 8 samples
→ a trained linear layer), `-bolt` (random-init Chronos-Bolt-tiny), `-pretrained-encoder` (Chronos-T5-tiny
pre-trained here on UCI-HAR training windows by `sensorllm pretrain-encoder`, `runs/uci-har/pretrain-encoder`).
`chronos-mlp` / `chronos-ncm`: the paper's Chronos+MLP baseline (and a nearest-class-mean variant) on the same
seeded **random-init** Chronos-T5-tiny embeddings SensorLLM reads here, mean-pooled over time.
`chronos-mlp-pretrained-encoder`: the same Chronos+MLP on the Chronos-T5-tiny pre-trained here on UCI-HAR training
windows (`sensorllm pretrain-encoder`, `runs/uci-har/pretrain-encoder/model`; its tokeniser mean-scales instead of
z-normalising, so the gravity offset survives): what motion-domain pretraining gives the frozen features;
`chronos-mlp-mean-scale`: the random-init encoder read through that same mean-scaling tokeniser, which separates
the tokeniser's share of that gain from the pretraining's. `chronos-mlp-bolt`: the same on a seeded random-init
Chronos-Bolt-tiny (one output per 16-sample patch, mean-pooled over patches; Bolt scales each series by its own
mean and standard deviation, so it drops the offset as z-normalisation does).

## What limits SensorLLM here

{mean_scale_sentence(seeds, args)}{ablation_sentence(seeds, args)}{encoder_sentence(seeds, args)}- **The random-init encoder reads z-normalised, unordered bins.** `chronos-mlp` shows how much activity
  information the frozen random-init Chronos-T5-tiny embeddings carry: far less than raw windows give a 1-D CNN or
  hand-made features. Two causes (`docs/encoders.md`). The paper's tokeniser z-normalises every window, which
  removes the gravity offset, and that offset is most of what separates sitting, standing and laying; in
  SensorLLM only the statistics text (per-channel means with units) carries it. And a random initialisation gives
  each of Chronos-T5's 4,096 value bins an unrelated embedding, so the encoder cannot tell how the signal moves;
  pre-training is what orders them. {tokenizer_sentence(seeds, args)}
- **The budget.** {args.stage2_steps} Stage-2 steps of batch {batch} are {windows:,} windows ({epochs} {subset});
  the paper trains 8 epochs at an effective batch of 64 with Llama-3-8B on GPUs. On the 2 CPU cores here one
  SensorLLM seed at 300 steps of batch 4 takes about two hours, so CPU rows have fewer seeds than the baselines;
  rows still marked "not run yet" are resumed by the command above.
- **More steps alone did not help at this scale.** On an NVIDIA H200 (`docs/results-gpu.md`), 250 Stage-2 steps
  of batch 16 over the full training set also ended at chance. From step 60 to step 250 the Stage-2 training loss
  there stayed between 1.77 and 1.97 (logged every 10 steps, both seeds; `runs/results-gpu/sensorllm/seed*/
  train_log.csv`), around ln 6 ≈ 1.79, which is the loss of always predicting the class prior.
- **The features hold more than the head uses.** A linear probe on the final hidden states of the CPU-trained
  model (`python benchmarks/probe_stage2_features.py --model runs/results/sensorllm/seed0 --data runs/uci-har/data
  --train 240 --val 120 --threads 1`: standardised logistic regression on 240 training windows, scored on 120
  validation windows, where the largest class is 25.0 %) reached 38.3 % accuracy (F1-macro 35.7) on the last-token
  state the head reads, and 45.0 % (F1-macro 41.8) on the mean over all positions. The model's own head scored
  23.3 % (F1-macro 16.5) on the same windows. Some class information reaches those states, but the projector and
  head, trained together from this start, do not pick it up within these budgets.
- **The raw states make the head hard to train.** They have a large constant part and little spread across
  windows (the median per-feature std is 0.20 of the mean magnitude). The same probe command trains a fresh head the
  way Stage 2 does (AdamW, lr 1e-3, 250 steps of 16) on those fixed features: on the raw states its training loss
  only reached 1.551 and it scored 20.8 % validation accuracy (F1-macro 6.8); on standardised states, 0.867 and
  35.8 % (F1-macro 33.2). `head_standardize=true` (the `-std-head` row; not the paper) gives the model's head such
  standardised states. A short CPU check did not get off chance either: from the seed-0 Stage-1 model, 100 steps
  of batch 4 (`sensorllm tune --config configs/here/uci-har/stage2.yaml data.prepared=runs/uci-har/data run.seed=0
  run.cache_dir=runs/results/embcache run.threads=1 data.max_val_examples=150 data.trend_mode=tolerant
  init_from=runs/results/stage1-pool8/seed0/model run.out_dir=runs/exp/stdhead-seed0 optim.max_steps=100
  run.eval_every=50 head_standardize=true head_stats_windows=256`) scored validation F1-macro 13.8 at step 50 and
  11.8 at step 100. Those 400 windows are a tenth of the probe's 4,000, so the `-std-head` row on a GPU is the
  real test. A lower learning rate does not help the head: with `--adam-steps 300 --adam-batch 4 16 --adam-lr
  1e-3 1e-4 1e-5` added to the probe command, at Stage 2's batch of 4 the standardised head's training loss was
  1.049 at lr 1e-3, 1.546 at 1e-4 and 1.826 at 1e-5 (raw states: 1.638, 1.742, 1.803). Not yet measured: LoRA on
  the LLM (`llm.lora`), mean pooling for the head, and several epochs on a GPU.

{verdict(seeds, args)}
"""
    doc.write_text(keep_recommended_section(doc, text))
    return doc


def keep_recommended_section(doc: Path, text: str) -> str:
    """``text`` with the recommended-configuration section that ``benchmarks/full_budget.py`` keeps in ``doc``
    (from its heading to the heading that follows its table) put back after the command line, if ``doc`` has one."""
    head, end = "## SensorLLM in the recommended CPU configuration", "<!-- end recommended table -->"
    old = doc.read_text() if doc.exists() else ""
    if head not in old or head in text:
        return text
    section = old[old.index(head): old.index(end) + len(end)] + "\n\n"
    cut = text.index("See also: ") if "See also: " in text else len(text)
    return text[:cut] + section + text[cut:]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="runs/uci-har/data")
    ap.add_argument("--out", default="runs/results")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--only", help="comma-separated methods")
    ap.add_argument("--stage1-config", default="configs/here/uci-har/stage1.yaml")
    ap.add_argument("--stage2-config", default="configs/here/uci-har/stage2.yaml")
    ap.add_argument("--stage1-steps", type=int, default=300)
    ap.add_argument("--stage2-steps", type=int, default=500)
    ap.add_argument("--test-limit", type=int, default=0, help="score SensorLLM on a seeded test subset (0 = all)")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="extra config overrides for both SensorLLM stages (e.g. run.threads=1)")
    ap.add_argument("--set1", nargs="*", default=[], metavar="KEY=VALUE",
                    help="extra overrides for Stage 1 only (e.g. eval_generate=0: no generated descriptions)")
    ap.add_argument("--doc", default=DEFAULT_DOC, help="the Markdown file to (re)write")
    ap.add_argument("--other-doc", nargs="*", default=["docs/results.md", "docs/results-gpu.md"],
                    help="results documents to link to when they exist")
    ap.add_argument("--baselines-out", help="read the baseline rows from this results directory (e.g. the CPU runs)")
    ap.add_argument("--eval-batch", type=int, default=DEFAULT_EVAL_BATCH,
                    help="windows per batch when scoring SensorLLM on test")
    ap.add_argument("--table-only", action="store_true")
    ap.add_argument("--overwrite-doc", action="store_true",
                    help="rewrite --doc even where it shows finished runs that are not here")
    args = ap.parse_args()
    data, out = Path(args.data), Path(args.out)
    methods = BASELINES + list(SENSORLLM)
    todo = args.only.split(",") if args.only else methods
    unknown = [m for m in todo if m not in methods]
    if unknown:
        raise SystemExit(f"unknown methods {unknown}; known: {methods}")
    if not args.table_only:
        if not (data / "manifest.json").exists():
            raise SystemExit(f"{data} is not prepared: sensorllm prepare uci-har --raw "
                             "../shared/datasets/UCI-HAPT/RawData --out " + str(data))
        for seed in args.seeds:
            for name in todo:
                (run_baseline(name, seed, data, run_dir(name, args)) if name in BASELINES
                 else run_sensorllm(name, seed, data, out, args))
                write_doc(methods, args.seeds, args)
    print(write_doc(methods, args.seeds, args).read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
