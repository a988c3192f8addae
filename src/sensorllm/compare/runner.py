"""Running a comparison: every (method, seed) job in its own run folder under the output folder, resumable.

A job is finished when its run folder holds ``metrics.json`` (the test metrics); a finished job is never run
again. A job that was interrupted starts again in the same folder: a baseline trains from the start, a
SensorLLM stage continues from its last checkpoint (the training loop resumes when rerun with the same
``run.out_dir``), and a Stage-1 model already published (``model/config.json``) is reused. Every job runs in
this process, one after the other; its output goes to ``log.txt`` in its run folder, and a SensorLLM job's
progress (steps done, time so far and left, per stage) to the console.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import io
import json
import math
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from .methods import Method, config_pair
from .report import Row, summarize, write_outputs

__all__ = ["CompareSettings", "Comparison", "run_comparison", "run_folder", "metrics_path", "collect",
           "stage1_folder", "BASELINE_CACHE", "SENSORLLM_CACHE"]

SENSORLLM_CACHE = "embcache"  # frozen-encoder embedding cache of the SensorLLM rows, under the output folder
BASELINE_CACHE = "embcache-chronos-feats"  # the same for baselines that take a cache_dir (the Chronos ones)
_RESERVED_BASELINE_KEYS = {"baseline", "data", "out", "seed", "model_args"}
_RESERVED_SENSORLLM_KEYS = {"run.out_dir", "run.seed", "data.prepared"}
PROGRESS_EVERY_S = 60.0  # a SensorLLM stage's progress on the console: at most a line a minute, and its last step


@dataclass
class CompareSettings:
    """What every job of a comparison shares.

    ``stage1_config`` / ``stage2_config``: the SensorLLM configuration pair (None: the packaged recommended
    configuration, :func:`~sensorllm.compare.methods.config_pair`). ``sensorllm_set``: overrides of both
    SensorLLM stages; ``stage1_set`` / ``stage2_set``: of one stage (applied after ``sensorllm_set``). ``baseline_set``: ``sensorllm baseline`` settings
    (:class:`~sensorllm.baselines.config.BaselineConfig` fields, e.g. ``epochs``, ``max_train_windows``).
    ``test_limit``: score SensorLLM on a seeded subset of test windows (None: all). ``command``: the command
    line shown in ``results.md``.
    """

    data: str | Path
    out: str | Path
    seeds: Sequence[int] = (0,)
    stage1_config: str | Path | None = None
    stage2_config: str | Path | None = None
    sensorllm_set: Sequence[str] = ()
    stage1_set: Sequence[str] = ()
    stage2_set: Sequence[str] = ()
    baseline_set: dict[str, Any] = field(default_factory=dict)
    test_limit: int | None = None
    eval_batch_size: int = 8
    device: str = "auto"
    command: str = ""
    verbose: bool = False  # echo each job's output to the console as well as to its log.txt

    def as_dict(self) -> dict:
        return {"data": str(self.data), "out": str(self.out), "seeds": list(self.seeds),
                "stage1_config": None if self.stage1_config is None else str(self.stage1_config),
                "stage2_config": None if self.stage2_config is None else str(self.stage2_config),
                "set": list(self.sensorllm_set), "set1": list(self.stage1_set), "set2": list(self.stage2_set),
                "baseline_set": dict(self.baseline_set), "test_limit": self.test_limit,
                "eval_batch_size": self.eval_batch_size, "device": self.device}


@dataclass
class Comparison:
    """What a comparison holds after :func:`run_comparison`: one row per method with a finished seed, the
    per-seed test metrics (method → seed → ``metrics.json``), the jobs that failed in this sitting, the jobs
    still to run, and the files written."""

    rows: list[Row]
    per_seed: dict[str, dict[int, dict]]
    failed: list[dict]
    pending: list[str]
    paths: dict[str, Path]


def run_folder(out: str | Path, method: str, seed: int) -> Path:
    """The run folder of one (method, seed)."""
    return Path(out) / method / f"seed{seed}"


def metrics_path(out: str | Path, method: str, seed: int) -> Path:
    """A job's test metrics: its existence marks the job finished."""
    return run_folder(out, method, seed) / "metrics.json"


def stage1_folder(out: str | Path, method: Method, seed: int) -> Path:
    """Where ``method``'s Stage-1 model for ``seed`` is trained (shared by rows with equal Stage-1 settings)."""
    return Path(out) / method.stage1_folder() / f"seed{seed}"


def collect(out: str | Path, methods: Iterable[str], seeds: Sequence[int]) -> dict[str, dict[int, dict]]:
    """method → seed → test metrics of the finished jobs in ``out`` (seeds in the order given)."""
    found: dict[str, dict[int, dict]] = {}
    for name in methods:
        for s in seeds:
            p = metrics_path(out, name, s)
            if p.exists():
                found.setdefault(name, {})[s] = json.loads(p.read_text())
    return found


class _Tee(io.TextIOBase):
    """A text stream writing to a job's log file and, when ``echo``, to the console stream it replaces. After
    the job (``release``) it writes to the console only: a library that kept a reference to it during the job
    (a logging handler made at import) then still has somewhere to write."""

    def __init__(self, fh, console, echo: bool) -> None:
        super().__init__()
        self.fh, self.console, self.echo = fh, console, echo

    def write(self, s: str) -> int:
        if self.fh is not None:
            self.fh.write(s)
        if self.echo or self.fh is None:
            self.console.write(s)
        return len(s)

    def flush(self) -> None:
        if self.fh is not None:
            self.fh.flush()
        self.console.flush()

    def release(self) -> None:
        self.fh = None

    def close(self) -> None:  # the console is not ours to close
        pass

    def fileno(self) -> int:
        return self.console.fileno()

    def isatty(self) -> bool:
        return False


@contextlib.contextmanager
def _job_output(log: Path, echo: bool) -> Iterator[None]:
    """Send stdout and stderr to ``log`` (appended; also to the console when ``echo``); keep the torch thread
    count of the caller, and free memory afterwards."""
    import torch

    threads = torch.get_num_threads()
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as fh:
        out, err = _Tee(fh, sys.stdout, echo), _Tee(fh, sys.stderr, echo)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                yield
        except Exception:
            fh.write(traceback.format_exc())
            raise
        finally:
            out.release()
            err.release()
            torch.set_num_threads(threads)
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


class _Progress:
    """A SensorLLM job's progress on the console while the job's own output goes to its ``log.txt``: a line when
    a stage finishes, and per training stage one at its first logged step, then at most every ``every`` seconds
    and at its last step (steps done / total, training time so far, the training loop's estimate of the time
    left). Lines go through ``log``, with stdout pointing at ``console`` (the stdout from before the job's
    output was redirected)."""

    def __init__(self, prefix: str, log: Callable[[str], None], console, every: float = PROGRESS_EVERY_S):
        self.prefix, self.log, self.console, self.every = prefix, log, console, every
        self.last: dict[str, float] = {}

    def say(self, text: str) -> None:
        with contextlib.redirect_stdout(self.console):
            self.log(f"{self.prefix}: {text}")

    def stage(self, name: str) -> Callable[[dict], None]:
        """The ``progress`` callback of one training stage (see :func:`~sensorllm.train.loop.train_loop`)."""

        def report(p: dict) -> None:
            now = time.monotonic()
            if p["step"] < p["steps"] and now - self.last.get(name, -math.inf) < self.every:
                return
            self.last[name] = now
            self.say(f"{name} step {p['step']}/{p['steps']}, {_duration(p['elapsed_s'])} elapsed, about "
                     f"{_duration(p['left_s'])} left")

        return report


def _stage_configs(s: CompareSettings, m: Method, seed: int):
    """``(Stage-1 config or None, Stage-2 config, Stage-1 folder or None)`` of a SensorLLM job; invalid
    configs raise ConfigError (every problem listed) before anything runs."""
    from sensorllm.train.config import Stage1Config, Stage2Config, load_config

    own = [o for o in (*s.sensorllm_set, *s.stage1_set, *s.stage2_set)
           if o.split("=", 1)[0].strip() in _RESERVED_SENSORLLM_KEYS]
    if own:
        raise ValueError(f"override(s) {', '.join(own)}: the comparison sets "
                         f"{', '.join(sorted(_RESERVED_SENSORLLM_KEYS))} itself")
    c1, c2 = m.stage1_config or s.stage1_config, m.stage2_config or s.stage2_config
    if c2 is None or (m.stage1 and c1 is None):
        default1, default2 = config_pair()
        c1, c2 = c1 or default1, c2 or default2
    out, d = Path(s.out), run_folder(s.out, m.name, seed)
    q = json.dumps  # paths as YAML strings (a path may hold characters YAML reads otherwise)
    common = [f"run.seed={seed}", f"run.cache_dir={q(str(out / SENSORLLM_CACHE))}", *m.overrides, *s.sensorllm_set]
    cfg1 = s1 = None
    if m.stage1:
        s1 = stage1_folder(out, m, seed)
        cfg1 = load_config(Stage1Config, c1, [f"data.prepared={q(str(m.stage1_data or s.data))}", *common,
                                              *s.stage1_set, f"run.out_dir={q(str(s1))}"])
    init = [f"init_from={q(str(s1 / 'model'))}"] if s1 is not None else []
    cfg2 = load_config(Stage2Config, c2, [f"data.prepared={q(str(s.data))}", *common, *init, *m.stage2_overrides,
                                          *s.stage2_set, f"run.out_dir={q(str(d))}"])
    return cfg1, cfg2, s1


def _baseline_config(s: CompareSettings, m: Method, seed: int):
    from sensorllm.baselines import get_baseline
    from sensorllm.baselines.config import resolve_config

    bad = sorted(set(s.baseline_set) & _RESERVED_BASELINE_KEYS)
    if bad:
        raise ValueError(f"baseline setting(s) {', '.join(bad)} are set by the comparison itself")
    args = dict(m.model_args)
    spec = get_baseline(m.baseline)  # type: ignore[arg-type]
    if "cache_dir" not in args and "cache_dir" in spec.model_defaults():
        args["cache_dir"] = str(Path(s.out) / BASELINE_CACHE)
    return resolve_config(spec.name, str(s.data), str(run_folder(s.out, m.name, seed)), seed=seed,
                          model_args=args, **s.baseline_set)


def _stage1_time(s1: Path) -> float:
    """Training seconds of a Stage-1 run: its ``metrics.json``, else (a run copied without it) the last logged
    ``elapsed_s`` of its ``train_log.csv``."""
    if (s1 / "metrics.json").exists():
        return float(json.loads((s1 / "metrics.json").read_text())["train_time_s"])
    with open(s1 / "train_log.csv") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("elapsed_s")]
    return float(rows[-1]["elapsed_s"]) if rows else 0.0


def _run_sensorllm(s: CompareSettings, m: Method, seed: int, progress: _Progress) -> dict:
    from sensorllm.eval.metrics import write_json_atomic
    from sensorllm.infer.evaluate import evaluate
    from sensorllm.train.align import run_align
    from sensorllm.train.tune import run_tune

    t0 = time.time()
    cfg1, cfg2, s1 = _stage_configs(s, m, seed)
    d = run_folder(s.out, m.name, seed)
    if cfg1 is not None and not (s1 / "model" / "config.json").exists():
        print(f"== {m.name} seed {seed}: Stage 1 in {s1} ==", flush=True)
        done = run_align(cfg1, progress=progress.stage("Stage 1"))
        progress.say(f"Stage 1 done ({done['steps']} steps, {_duration(done['train_time_s'])}): {s1 / 'model'}")
    print(f"== {m.name} seed {seed}: Stage 2 in {d} ==", flush=True)
    summary = run_tune(cfg2, progress=progress.stage("Stage 2"))  # an interrupted run continues from its checkpoint
    best = summary.get(f"best_val_{cfg2.metric}")
    progress.say(f"Stage 2 done ({summary['steps']} steps, {_duration(summary['train_time_s'])}; best validation "
                 f"{cfg2.metric} {'n/a' if best is None else f'{best:.4f}'} at step {summary.get('best_step')}); "
                 "scoring the test split")
    metrics = evaluate(d, s.data, "test", d / "eval-test", s.eval_batch_size, s.test_limit, s.device)
    train_time = float(summary["train_time_s"]) + (_stage1_time(s1) if s1 is not None else 0.0)
    metrics.update({
        "method": m.name, "seed": seed, "train_time_s": train_time, "wall_time_s": time.time() - t0,
        "device": summary.get("device", "cpu"), "best_step": summary.get("best_step"),
        f"val_{cfg2.metric}": summary.get(f"best_val_{cfg2.metric}"),
        "trainable_params": sum(n for k, n in summary["trainable"].items() if k != "llm_total"),
    })
    write_json_atomic(metrics, d / "metrics.json")  # last: marks the job finished
    return metrics


def _run_baseline(s: CompareSettings, m: Method, seed: int) -> dict:
    from sensorllm.train.baseline import run_baseline

    return run_baseline(_baseline_config(s, m, seed))  # writes metrics.json (test) last


def _dataset_name(data: str | Path) -> str:
    from sensorllm.datasets.prepared import open_prepared

    ds = open_prepared(data)
    if "test" not in ds.splits():
        raise ValueError(f"{data} has no test windows: a comparison scores every method on the test split")
    return ds.name


def run_comparison(settings: CompareSettings, methods: Sequence[Method], *, run: bool = True,
                   skip: Iterable[tuple[str, int]] = (), stop_on_error: bool = False,
                   on_result: Callable[[str, int, dict], None] | None = None,
                   log: Callable[[str], None] = print) -> Comparison:
    """Run every unfinished (method, seed) of ``methods`` × ``settings.seeds`` (seed by seed, methods in the
    order given), then write the results into ``settings.out``; they are also rewritten after every job, so an
    interrupted comparison leaves a table of what finished.

    ``run=False``: run nothing, only rewrite the results from the finished jobs. ``skip``: (method, seed) pairs
    finished elsewhere (not run, not listed as pending). ``on_result(method, seed, metrics)`` is called after
    each job that finishes here. A job that fails is logged and reported (``results.md``, ``Comparison.failed``)
    and the others still run, unless ``stop_on_error``. Every configuration is checked before anything runs.
    """
    names = [m.name for m in methods]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate method names in {names}")
    seeds = list(dict.fromkeys(int(x) for x in settings.seeds))
    out = Path(settings.out)
    dataset = _dataset_name(settings.data)
    skipped = {(n, int(x)) for n, x in skip}
    todo = [(m, x) for x in seeds for m in methods
            if (m.name, x) not in skipped and not metrics_path(out, m.name, x).exists()]
    failed: list[dict] = []
    if run and todo:
        for m, x in todo:  # check every configuration first: a typo fails now, not after hours of training
            _stage_configs(settings, m, x) if m.baseline is None else _baseline_config(settings, m, x)
        out.mkdir(parents=True, exist_ok=True)
        for i, (m, x) in enumerate(todo, 1):
            d = run_folder(out, m.name, x)
            log(f"[{i}/{len(todo)}] {m.name} seed {x}: running (log: {d / 'log.txt'})")
            t = time.time()
            progress = _Progress(f"[{i}/{len(todo)}] {m.name} seed {x}", log, sys.stdout)  # before the redirect
            try:
                with _job_output(d / "log.txt", settings.verbose):
                    metrics = (_run_baseline(settings, m, x) if m.baseline is not None
                               else _run_sensorllm(settings, m, x, progress))
            except Exception as exc:
                failed.append({"method": m.name, "seed": x, "error": f"{type(exc).__name__}: {exc}".splitlines()[0]})
                log(f"[{i}/{len(todo)}] {m.name} seed {x}: FAILED ({failed[-1]['error']}); see {d / 'log.txt'}")
                if stop_on_error:
                    raise
            else:
                log(f"[{i}/{len(todo)}] {m.name} seed {x}: test F1-macro {metrics['f1_macro']:.4f}, accuracy "
                    f"{metrics['accuracy']:.4f} ({time.time() - t:.0f} s)")
                if on_result is not None:
                    on_result(m.name, x, metrics)
            _write(settings, methods, seeds, dataset, skipped, failed)
    elif run:
        log(f"every (method, seed) in {out} has finished")
    result = _write(settings, methods, seeds, dataset, skipped, failed)
    log(f"results: {', '.join(str(p) for p in result.paths.values())}")
    return result


def _write(s: CompareSettings, methods: Sequence[Method], seeds: list[int], dataset: str,
           skipped: set[tuple[str, int]], failed: list[dict]) -> Comparison:
    per_seed = collect(s.out, [m.name for m in methods], seeds)
    rows = [r for m in methods if (r := summarize(m.name, per_seed.get(m.name, {}), len(seeds), m.kind))]
    bad = {(f["method"], f["seed"]) for f in failed}
    pending = [f"{m.name} seed {x}" for x in seeds for m in methods
               if x not in per_seed.get(m.name, {}) and (m.name, x) not in skipped | bad]
    paths = write_outputs(Path(s.out), rows, per_seed, dataset=dataset, data=str(s.data), seeds=seeds,
                          command=s.command, settings=s.as_dict(), failed=failed, pending=pending)
    return Comparison(rows, per_seed, failed, pending, paths)
