"""Data-parallel training through ``accelerate launch`` with 2 CPU processes (gloo) on the tiny configs:
Stage 1 (``align``) and Stage 2 (``tune``), each checked for disjoint shards per process, checkpoints written
once by the main process, resume after an interruption, and the loss of a single-process run with the same
global batch.

How the 2 CPU processes are started: ``accelerate launch`` runs ``torchrun`` only for a multi-GPU config
(``--cpu`` / ``use_cpu`` take its simple launcher, which starts several processes only through ``mpirun``),
so the test writes a ``MULTI_GPU`` config with 2 processes and sets ``ACCELERATE_USE_CPU=true``; each
process's ``Accelerator`` then takes the CPU path (``DistributedType.MULTI_CPU``, gloo backend). That the
run is distributed is asserted from the loop's "x 2 process(es)" line and the per-process batch records
(``run.record_batches``).
"""

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from sensorllm.cli.main import main
from sensorllm.train.state import verify_checksums

pytestmark = pytest.mark.usefixtures("one_thread")

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "tiny"
DEMO_RAW = files("sensorllm") / "demo_data" / "uci-hapt-subset"
ACCELERATE_CONFIG = """\
compute_environment: LOCAL_MACHINE
distributed_type: MULTI_GPU
num_machines: 1
num_processes: 2
machine_rank: 0
mixed_precision: 'no'
use_cpu: false
main_training_function: main
"""


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    assert main(["prepare", "uci-har", "--raw", str(DEMO_RAW), "--out", str(root / "data"), "-q"]) == 0
    (root / "accelerate.yaml").write_text(ACCELERATE_CONFIG)
    return root


def _common(work: Path, out: str) -> list[str]:
    return [f"data.prepared={work / 'data'}", f"run.out_dir={work / out}", f"run.cache_dir={work / 'cache'}",
            "run.record_batches=true", "run.threads=1"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(work: Path, args: list[str]) -> str:
    """``accelerate launch`` 2 CPU processes of ``sensorllm <args>``; returns the output of both."""
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(work / "accelerate.yaml"),
           "--main_process_port", str(_free_port()), "-m", "sensorllm.cli.main", *args]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-6000:]
    assert "x 2 process(es)" in out, out[-3000:]
    return out


def _log(run: Path) -> list[dict]:
    text = (run / "train_log.csv").read_text()
    assert text.count("step,loss") == 1, text  # one header: one process writes the log
    return list(csv.DictReader(text.splitlines()))


def _records(run: Path) -> dict[int, list[dict]]:
    """rank → its batch records (``run.record_batches``), in the order written."""
    return {int(f.stem.removeprefix("batches-rank")): [json.loads(x) for x in f.read_text().splitlines()]
            for f in sorted(run.glob("batches-rank*.jsonl"))}


def _check_shards(run: Path, reference: Path, steps: range) -> None:
    """Each step's micro-batch: the 2 processes trained on disjoint halves whose union is, in order, the
    micro-batch that the single-process reference (batch 4 or batch 2 x accumulation 2) trained on."""
    rec, ref = _records(run), _records(reference)
    assert sorted(rec) == [0, 1] and list(ref) == [0]
    for r in (0, 1):
        assert [x["step"] for x in rec[r]] == list(steps)  # each step once: nothing repeated after the resume
        assert all(x["rank"] == r and x["world"] == 2 and len(x["indices"]) == 2 for x in rec[r])
    ref_idx = [i for x in ref[0] for i in x["indices"]]
    for k, (a, b) in enumerate(zip(rec[0], rec[1])):
        assert not set(a["indices"]) & set(b["indices"])
        assert a["indices"] + b["indices"] == ref_idx[4 * k : 4 * k + 4]
    seen = [i for r in (0, 1) for x in rec[r] for i in x["indices"]]
    assert len(seen) == len(set(seen)) == 4 * len(steps)  # 16 examples, 4 steps of 4: each example once


def _check_checkpoints(run: Path, out: str, steps: list[int], written: list[int]) -> None:
    """``run`` holds the checkpoints of ``steps``; this launch (output ``out``) wrote those of ``written``,
    each once, by one process (one "wrote checkpoint" line each), and every checkpoint is complete: its
    checksums verify and no temporary file or directory is left behind."""
    for s in range(1, steps[-1] + 1):
        assert out.count(f"step {s}: wrote checkpoint") == int(s in written), out[-3000:]
    root = run / "checkpoints"
    assert sorted(p.name for p in root.iterdir()) == ["latest", *(f"step-{s:06d}" for s in steps)]
    assert (root / "latest").read_text() == f"step-{steps[-1]:06d}"
    for s in steps:
        verify_checksums(root / f"step-{s:06d}")
    assert not [p for p in run.rglob("*") if ".tmp" in p.name]  # no half-published model or JSON either


def test_align_two_processes_shards_checkpoints_resumes_and_matches_one_process(work):
    """Stage 1: interrupted after 2 steps (``optim.max_steps=2``) and started again for 4. The schedule is
    constant so that the stopped-and-continued run is the same run as an uninterrupted 4-step one."""
    args = ["align", "--config", str(CONFIGS / "stage1.yaml"), "optim.schedule=constant", "eval_generate=0",
            "data.max_val_examples=2"]
    run = work / "s1"
    out = _launch(work, [*args, *_common(work, "s1"), "optim.max_steps=2"])
    _check_checkpoints(run, out, [2], written=[2])
    assert [x["step"] for x in _records(run)[1]] == [1, 2]
    out = _launch(work, [*args, *_common(work, "s1")])
    assert out.count("resumed from") == 2 and "training 4 steps (from 2)" in out  # both processes resumed
    _check_checkpoints(run, out, [2, 4], written=[4])
    assert out.count("Stage 1 done") == 1  # one process publishes the model and writes metrics.json
    assert json.loads((run / "metrics.json").read_text())["resumed_from"] == 2
    published = load_file(str(run / "model" / "weights.safetensors"))
    last = load_file(str(run / "checkpoints" / "step-000004" / "model" / "weights.safetensors"))
    assert all(np.array_equal(published[k], last[k]) for k in last)

    # one process, batch 4: the same global batches (group_by_length orders an epoch in micro-batches of
    # batch x processes = 4 examples either way)
    assert main([*args, *_common(work, "s1-ref"), "optim.batch_size=4"]) == 0
    _check_shards(run, work / "s1-ref", range(1, 5))
    two, one = _log(run), _log(work / "s1-ref")
    assert [int(r["step"]) for r in two] == [1, 2, 3, 4]
    # Tolerance 5e-3 (losses ~5.6): the Stage-1 loss is a mean over answer tokens. With 2 processes each
    # process takes the mean over its own 2 examples' tokens and DDP averages the two means (and their
    # gradients); one process takes a single mean over all 4 examples' tokens. The two differ by the gap
    # between the processes' losses (~0.02) times the imbalance of their token counts, ~1e-3 here. Anything
    # that trains on other data or skips or repeats steps moves the loss by more: it falls ~0.015 per step.
    np.testing.assert_allclose([float(r["loss"]) for r in two], [float(r["loss"]) for r in one],
                               rtol=0, atol=5e-3)


def test_tune_two_processes_shards_checkpoints_resumes_and_matches_one_process(work):
    """Stage 2: a full 4-step run; then a crash after step 2 (later files removed) and a rerun, which must
    resume from step 2 and reach bit-identical weights."""
    args = ["tune", "--config", str(CONFIGS / "stage2.yaml"), "init_from=null", "data.max_val_examples=6"]
    run = work / "s2"
    out = _launch(work, [*args, *_common(work, "s2")])
    _check_checkpoints(run, out, [2, 4], written=[2, 4])
    assert out.count("best validation") == 1  # one process writes the summary
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["steps"] == 4 and summary["resumed_from"] is None and summary["best_step"] in (2, 4)
    assert len(_log(run)) == 4 and (run / "val_log.csv").read_text().count("step,loss") == 1
    full = load_file(str(run / "checkpoints" / "step-000004" / "model" / "weights.safetensors"))

    shutil.rmtree(run / "checkpoints" / "step-000004")
    (run / "checkpoints" / "latest").write_text("step-000002")
    for f in ("model", "metrics_val.json", "train_summary.json"):
        p = run / f
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    # the logs and batch records as the crash would have left them: steps 1-2 only
    for name, keep in (("train_log.csv", 3), ("val_log.csv", 2), ("batches-rank0.jsonl", 2),
                       ("batches-rank1.jsonl", 2)):
        (run / name).write_text("".join(x + "\n" for x in (run / name).read_text().splitlines()[:keep]))
    out = _launch(work, [*args, *_common(work, "s2")])
    assert out.count("resumed from") == 2 and "training 4 steps (from 2)" in out
    _check_checkpoints(run, out, [2, 4], written=[4])
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["resumed_from"] == 2 and summary["steps"] == 4
    assert (run / "model" / "weights.safetensors").exists() and (run / "metrics_val.json").exists()
    resumed = load_file(str(run / "checkpoints" / "step-000004" / "model" / "weights.safetensors"))
    assert resumed.keys() == full.keys() and all(np.array_equal(full[k], resumed[k]) for k in full)

    # One process with batch 2 x grad_accum 2: the same global batch of 4 in the same order (Stage 2 does not
    # group by length, so the epoch order does not depend on the micro-batch size), and the same objective:
    # the class-weighted cross-entropy is a weighted mean per micro-batch, and both runs step on the mean of
    # two such micro-batch losses (DDP averages the processes' gradients, accumulation adds halves). So the
    # runs agree up to float rounding (the order of the additions, the gloo all-reduce): tolerance 1e-5
    # relative on the losses and gradient norms, 1e-5 absolute on the weights. A run with batch 4 would not
    # match this closely: one weighted mean over 4 windows is another objective (~1 % off here).
    assert main([*args, *_common(work, "s2-ref"), "optim.batch_size=2", "optim.grad_accum=2"]) == 0
    _check_shards(run, work / "s2-ref", range(1, 5))
    two, one = _log(run), _log(work / "s2-ref")
    for key in ("loss", "grad_norm", "lr"):
        np.testing.assert_allclose([float(r[key]) for r in two], [float(r[key]) for r in one], rtol=1e-5)
    ref = load_file(str(work / "s2-ref" / "checkpoints" / "step-000004" / "model" / "weights.safetensors"))
    assert ref.keys() == full.keys()
    for k in full:
        np.testing.assert_allclose(full[k], ref[k], rtol=0, atol=1e-5)
