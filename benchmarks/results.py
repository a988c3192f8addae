"""The UCI-HAR results table: SensorLLM (CPU configuration) and every baseline in the same harness.

The runs go through the library behind ``sensorllm compare`` (:mod:`sensorllm.compare`): this script names the
project's methods (the baseline variants and SensorLLM ablations below), runs them with it into ``--out`` (which
then also holds compare's own ``results.md/.csv/.json/.png``) and copies the table into the document.

Resumable: every (method, seed) run has its own directory under ``--out``; a run whose ``metrics.json``
exists is skipped, so the command can be started again after an interruption and only what is missing runs.
The script writes only the table (and the command line that produced it) between the ``<!-- results table -->``
and ``<!-- end results table -->`` markers of ``--doc`` (``docs/results.md``); the text around it is written by
hand. A method with no finished seed has no row.

The run directories are not in git, so every finished run's test metrics are also copied to a small JSON record
in git, ``benchmarks/records/<name of --out>/<method>/seed<N>.json``: a fresh checkout rebuilds the table from the
records (``--doc-only``, with the options the document's command line shows) and does not rerun what they hold.
Rows whose runs finished before these records existed are kept, as the table showed them, in
``benchmarks/records/<name of --out>/published-rows.json``: a row of one seed counts as that seed's result (at the
table's rounding) and merges with seeds that finish later; a row of several seeds stands until the runs or records
hold at least as many seeds. ``NOTES.md`` beside the records says how the runs went. Where neither the runs nor the
records hold finished runs that the document shows (a narrower ``--seeds``, say), the table is left as it is
unless ``--overwrite-doc`` is given.

    python benchmarks/results.py --data runs/uci-har/data --out runs/results --seeds 0 1 2
    python benchmarks/results.py --only cnn1d,features-rf         # a subset of methods
    python benchmarks/results.py ... --doc-only                   # just rewrite the table from runs and records

On a GPU (`sensorllm align/tune/evaluate` use one whenever it is visible), write a separate document and take the
baseline rows from the CPU runs (same windows, splits and metrics; the machine changes only their speed):

    python benchmarks/results.py --out runs/results-gpu --doc docs/results-gpu.md --baselines-out runs/results \
        --only sensorllm --set optim.batch_size=16 data.max_train_examples=null ...

Long: run it in the background with its log saved (``nohup ... > runs/results.log 2>&1 &``).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from _common import ROOT, ensure_prepared, keep_record, replace_between

from sensorllm.compare import (CompareSettings, Method, Row, column, markdown_table, metrics_path, run_comparison,
                               summarize)
from sensorllm.compare.report import Column

DEFAULT_DOC = "docs/results.md"
RECORDS = ROOT / "benchmarks" / "records"  # git-tracked copies of finished runs' test metrics
PUBLISHED = "published-rows.json"  # rows from before the per-seed records, as the table showed them
TABLE_START, TABLE_END = "<!-- results table -->", "<!-- end results table -->"
DEFAULT_EVAL_BATCH = 8
PAPER_F1 = {  # paper Tables 2 and 3, UCI-HAR F1-macro (%), mean over 5 runs
    "sensorllm": 91.2, "attend": 93.2, "deepconvlstm": 89.2,
    "sensorllm-no-stage1": 82.0,  # Table 3 "task-only w/ prompt"
    "sensorllm-no-stats": 89.2,  # Table 3 "SensorLLM w/o prompt"
}
BASELINES = ["minirocket", "features-rf", "cnn1d", "deepconvlstm", "deepconvlstm-attn", "attend", "chronos-mlp", "chronos-ncm",
             "chronos-mlp-mean-scale", "chronos-mlp-pretrained-encoder", "chronos-mlp-bolt"]
# baseline rows that run a registered baseline with model arguments: row name → (baseline, model arguments)
BASELINE_VARIANTS = {
    # the same random-init encoder read through Chronos' mean-scaling tokeniser (the pretrained one's), so that
    # the tokeniser's effect and the pretraining's effect can be told apart
    "chronos-mlp-mean-scale": ("chronos-mlp", {"tokenizer": "mean_scale"}),
    # the paper's Chronos+MLP on the Chronos-T5-tiny that `sensorllm pretrain-encoder` trained on UCI-HAR windows
    "chronos-mlp-pretrained-encoder": ("chronos-mlp", {"pretrained": "runs/uci-har/pretrain-encoder/model"}),
    # the same on a seeded random-init Chronos-Bolt-tiny (one token per 16-sample patch, mean-pooled)
    "chronos-mlp-bolt": ("chronos-mlp", {"encoder": "chronos-bolt"}),
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


def metrics_file(name: str, seed: int, out: Path) -> Path | None:
    """A finished run's test metrics: its run directory's ``metrics.json``, else its record; None if unfinished."""
    return next((p for p in (metrics_path(out, name, seed), record_path(name, seed, out)) if p.exists()), None)


def stage1_name(v: Variant) -> str:
    """One Stage-1 model per (data, overrides of both stages, seed), shared by the rows that have it in common
    (the folder names of the runs made before the compare library)."""
    return f"stage1-{v.stage1_data + '-' if v.stage1_data else ''}{'-'.join(v.both) or 'pool8'}"


def method(name: str, data: Path) -> Method:
    """The compare library's description of the row ``name`` (a baseline, a baseline variant or a SensorLLM
    variant); SensorLLM rows take the stage configurations from ``--stage1-config`` / ``--stage2-config``."""
    if name in BASELINES:
        base, model_args = BASELINE_VARIANTS.get(name, (name, {}))
        return Method(name, baseline=base, model_args=dict(model_args))
    v = SENSORLLM[name]
    # the source set of a transfer row is prepared once beside the UCI-HAR data (the same registry and splits)
    s1_data = str(data.parent.parent / v.stage1_data / "data") if v.stage1_data else None
    return Method(name, overrides=v.both, stage2_overrides=v.stage2, stage1=v.stage1,
                  stage2_config=str(ROOT / v.stage2_config) if v.stage2_config else None, stage1_data=s1_data,
                  stage1_name=stage1_name(v))


def run_dir(name: str, args: argparse.Namespace) -> Path:
    """Where ``name``'s runs live: the baselines may come from another results directory (``--baselines-out``)."""
    return Path(args.baselines_out) if name in BASELINES and args.baselines_out else Path(args.out)


def finished(name: str, seeds: list[int], args: argparse.Namespace) -> dict[int, dict]:
    """Seed → test metrics of ``name``'s finished runs among ``seeds``: the run directory's, else its record, else
    (for a published row of one seed, whose values are that seed's at the table's rounding) the published row's."""
    one = published_row(name, None, args)
    pub = ({one["seeds"][0]: {"f1_macro": one["f1_macro"][0] / 100, "accuracy": one["accuracy"][0] / 100,
                              "train_time_s": one["train_time_s"], "trainable_params": one["trainable_params"],
                              "device": one["device"]}} if one and len(one["seeds"]) == 1 else {})
    done = {}
    for s in seeds:
        if p := metrics_file(name, s, run_dir(name, args)):
            done[s] = json.loads(p.read_text())
        elif s in pub:
            done[s] = pub[s]
    return done


def published_row(name: str, seeds: list[int] | None, args: argparse.Namespace) -> dict | None:
    """``name``'s row as the table showed it before the per-seed records existed (``published-rows.json`` beside
    the records), if all its seeds are among ``seeds`` (any seeds when ``seeds`` is None)."""
    path = RECORDS / run_dir(name, args).name / PUBLISHED
    row = json.loads(path.read_text())["rows"].get(name) if path.exists() else None
    return row if row and (seeds is None or set(row["seeds"]) <= set(seeds)) else None


def is_done(name: str, seed: int, args: argparse.Namespace) -> bool:
    """A finished (method, seed): its run directory or record has test metrics, or a published row holds it."""
    return (metrics_file(name, seed, run_dir(name, args)) is not None
            or seed in (published_row(name, None, args) or {}).get("seeds", []))


def sample_sd(mean_sd: list[float], n: int) -> tuple[float, float]:
    """A published row's (mean, sd) with the sample standard deviation over its ``n`` seeds (ddof 1, the tables'
    convention): the published rows hold the population one (ddof 0), so it is scaled by sqrt(n / (n - 1))."""
    mean, sd = mean_sd
    return (mean, sd * (n / (n - 1)) ** 0.5 if n > 1 else sd)


def doc_row(name: str, seeds: list[int], args: argparse.Namespace) -> Row | None:
    """``name``'s row from its finished runs and records, or from its published row where that holds more
    seeds; None if ``name`` has no finished seed."""
    done = finished(name, seeds, args)
    pub = published_row(name, seeds, args)
    if pub and len(pub["seeds"]) > 1 and len(pub["seeds"]) > len(done):
        if extra := sorted(set(done) - set(pub["seeds"])):
            print(f"{name}: the published row (seeds {pub['seeds']}) is shown; seeds {extra} finished since are "
                  "not in it (it cannot be merged with them)", flush=True)
        n = len(pub["seeds"])
        return Row(name, list(pub["seeds"]), len(seeds), sample_sd(pub["f1_macro"], n), sample_sd(pub["accuracy"], n),
                   train_time_s=pub["train_time_s"], trainable_params=pub["trainable_params"], device=pub["device"])
    return summarize(name, done, len(seeds))  # SensorLLM train time: Stage 2 plus its Stage 1


# the document's columns: compare's table with the project's extras (parameters, device, the paper's F1)
DOC_COLUMNS = [
    column("method"), column("seeds", "seeds done"), column("f1_macro", "F1-macro (%)"),
    column("accuracy", "accuracy (%)"), column("train_time", "train time (s)"),
    Column("trainable params",
           lambda r: "n/a (no gradient training)" if r.trainable_params is None else str(r.trainable_params)),
    column("device"), Column("paper F1 (%)", lambda r: str(PAPER_F1.get(r.method, ""))),
]


def table(methods: list[str], seeds: list[int], args: argparse.Namespace) -> list[str]:
    """The results table's lines: one row per method with a finished seed (methods never run have none)."""
    return markdown_table([r for name in methods if (r := doc_row(name, seeds, args))], DOC_COLUMNS)


def shown_in_doc(doc: Path) -> dict[str, int]:
    """Method → seeds done, as the table between the markers of ``doc`` shows them."""
    text = doc.read_text() if doc.exists() else ""
    if TABLE_START not in text or TABLE_END not in text:
        return {}
    section = text[text.index(TABLE_START): text.index(TABLE_END)]
    return {cells[1]: int(cells[2].split("/")[0]) for line in section.splitlines()
            if (cells := [c.strip() for c in line.split("|")]) and len(cells) > 3 and "/" in cells[2]
            and cells[2].split("/")[0].isdigit()}


def rows_it_would_drop(methods: list[str], seeds: list[int], args: argparse.Namespace) -> list[str]:
    """Rows whose finished seeds the current table shows but neither the runs here, their records nor the
    published rows hold (a narrower ``--seeds``, or another ``--out``, would otherwise drop or shrink them)."""
    shown = shown_in_doc(ROOT / args.doc)
    return [f"{m} ({shown[m]} seeds in the document, {n} here)" for m in methods
            if m in shown and (n := len(getattr(doc_row(m, seeds, args), "seeds", []))) < shown[m]]


def command_line(seeds: list[int], args: argparse.Namespace) -> str:
    """The command that runs (and resumes) the table's runs, as the document shows it."""
    return "python benchmarks/results.py " + " ".join(
        f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in (("data", args.data), ("out", args.out), ("doc", args.doc), ("baselines_out", args.baselines_out),
                     ("seeds", seeds), ("stage1_steps", args.stage1_steps), ("stage2_steps", args.stage2_steps),
                     ("test_limit", args.test_limit), ("eval_batch", args.eval_batch), ("set", args.set),
                     ("set1", args.set1))
        if v not in ([], 0, None) and (k, v) not in (("doc", DEFAULT_DOC), ("eval_batch", DEFAULT_EVAL_BATCH)))


def write_doc(methods: list[str], seeds: list[int], args: argparse.Namespace) -> list[str]:
    """Record every finished run, then rewrite the table between the markers of ``--doc`` (appending the markers
    to the document, or creating it, where they are missing). Returns the lines written."""
    doc = ROOT / args.doc
    for name in methods:
        for seed in seeds:
            keep_record(run_dir(name, args) / name / f"seed{seed}" / "metrics.json",
                        record_path(name, seed, run_dir(name, args)))
    made = (f"Produced by `{command_line(seeds, args)}` (resumable; `--doc-only` rewrites this table from the "
            f"records in `benchmarks/records/{Path(args.out).name}`).")
    lines = [made, "", *table(methods, seeds, args)]
    if not args.overwrite_doc and (lost := rows_it_would_drop(methods, seeds, args)):
        print(f"not rewriting {doc}: it shows finished runs that {args.out} (and --seeds) lack: {'; '.join(lost)}. "
              "Run with the seeds and results directory that produced it, or pass --overwrite-doc.", flush=True)
        return lines
    text = doc.read_text() if doc.exists() else "# Results: UCI-HAR\n"
    if TABLE_START not in text or TABLE_END not in text:
        doc.parent.mkdir(parents=True, exist_ok=True)
        doc.write_text(text.rstrip("\n") + f"\n\n{TABLE_START}\n{TABLE_END}\n")
    replace_between(doc, TABLE_START, TABLE_END, lines)
    return lines


def run_methods(todo: list[str], methods: list[str], data: Path, args: argparse.Namespace) -> None:
    """Run the unfinished (method, seed) pairs of ``todo`` with the compare library (one comparison per results
    directory: the baselines may have their own, ``--baselines-out``), rewriting the document after each run."""
    settings = dict(data=data, seeds=args.seeds, stage1_config=ROOT / args.stage1_config,
                    stage2_config=ROOT / args.stage2_config, sensorllm_set=args.set,
                    stage1_set=[*args.set1, f"optim.max_steps={args.stage1_steps}"],
                    stage2_set=[f"optim.max_steps={args.stage2_steps}"], test_limit=args.test_limit or None,
                    eval_batch_size=args.eval_batch, command=command_line(args.seeds, args))
    groups: dict[Path, list[Method]] = {}
    for name in todo:
        groups.setdefault(run_dir(name, args), []).append(method(name, data))
    for out, group in groups.items():
        skip = {(m.name, s) for m in group for s in args.seeds if is_done(m.name, s, args)}
        for m in group:  # a transfer row's Stage-1 set, prepared once
            if m.stage1_data and any((m.name, s) not in skip for s in args.seeds):
                key = SENSORLLM[m.name].stage1_data
                ensure_prepared(key, TRANSFER_SOURCES[key], Path(m.stage1_data), out / f"prepare-{key}.log")
        run_comparison(CompareSettings(out=out, **settings), group, skip=skip, stop_on_error=True,
                       on_result=lambda *_: write_doc(methods, args.seeds, args))


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
    ap.add_argument("--doc", default=DEFAULT_DOC, help="the Markdown file whose table to (re)write")
    ap.add_argument("--baselines-out", help="read the baseline rows from this results directory (e.g. the CPU runs)")
    ap.add_argument("--eval-batch", type=int, default=DEFAULT_EVAL_BATCH,
                    help="windows per batch when scoring SensorLLM on test")
    ap.add_argument("--doc-only", "--table-only", dest="doc_only", action="store_true",
                    help="run nothing: rewrite the table from the finished runs and their records")
    ap.add_argument("--overwrite-doc", action="store_true",
                    help="rewrite the table even where it shows finished runs that are not here")
    args = ap.parse_args()
    data = Path(args.data)
    methods = BASELINES + list(SENSORLLM)
    todo = args.only.split(",") if args.only else methods
    unknown = [m for m in todo if m not in methods]
    if unknown:
        raise SystemExit(f"unknown methods {unknown}; known: {methods}")
    if not args.doc_only:
        if not (data / "manifest.json").exists():
            raise SystemExit(f"{data} is not prepared: sensorllm prepare uci-har --raw "
                             "../shared/datasets/UCI-HAPT/RawData --out " + str(data))
        run_methods(todo, methods, data, args)
    print("\n".join(write_doc(methods, args.seeds, args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
