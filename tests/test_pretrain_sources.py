"""``sensorllm pretrain-encoder`` sources: raw recordings of the training subjects only (never a validation or
test subject of the scored dataset), prepared splits, short and resampled recordings, the typed config and its
errors, snapshots and patience. All on tiny files written in the official layouts (as the loader tests do)."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import pytest
import yaml

from sensorllm.datasets import get_dataset_spec, open_prepared
from sensorllm.datasets.prepare import PrepareOptions, prepare_dataset
from sensorllm.datasets.subject_splits import assign_splits
from sensorllm.pretrain import PretrainEncoderConfig, PretrainSource, run_pretrain
from sensorllm.pretrain.checkpoints import check_resumed_config
from sensorllm.pretrain.sources import cut_recording, source_series
from sensorllm.train.config import ConfigError, config_to_dict, load_config

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "datasets"
USERS = tuple(range(1, 11))  # uci-har's test subjects among them: 2, 4, 9, 10
N = 1000  # samples per experiment

pytestmark = pytest.mark.usefixtures("one_thread")


def write_raw_hapt(root: Path, users=USERS, n=N) -> Path:
    """HAPT RawData: one experiment per user whose every value is ``user`` (+ a small ramp), so a series tells
    whose it is; only half of each recording is labelled (the rest: unlabelled, a transition)."""
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for exp, user in enumerate(users, 1):
        base = user + 1e-4 * np.arange(n)[:, None] + np.zeros((n, 3))
        for kind in ("acc", "gyro"):
            with gzip.open(root / f"{kind}_exp{exp:02d}_user{user:02d}.txt.gz", "wt") as fh:
                np.savetxt(fh, base, fmt="%.6f")
        rows += [(exp, user, 1, 0, 299), (exp, user, 7, 300, 349), (exp, user, 4, 350, 499)]  # 500..999 unlabelled
    np.savetxt(root / "labels.txt", np.array(rows), fmt="%d")
    return root


@pytest.fixture(scope="module")
def hapt(tmp_path_factory):
    """Fake raw HAPT folder and the scored dataset prepared from it with seed 3 (``prepare uci-har``)."""
    root = tmp_path_factory.mktemp("hapt")
    raw = write_raw_hapt(root / "RawData")
    prepare_dataset(get_dataset_spec("uci-har"), raw, root / "data", PrepareOptions(seed=3, progress=False))
    return raw, open_prepared(root / "data")


def _users(rows) -> set[int]:
    """The users whose values a set of series holds (each series holds one user's values)."""
    x = np.asarray(rows)
    return {int(u) for u in np.unique(np.floor(np.nanmin(x, axis=1)))}


def test_raw_hapt_source_holds_the_training_subjects_only(hapt):
    raw, scored = hapt
    splits = scored.manifest["splits"]
    assert splits["test"]["subjects"] == ["2", "4", "9", "10"] and len(splits["val"]["subjects"]) == 1
    got = source_series(PretrainSource(kind="raw", dataset="uci-har", raw=str(raw)), 128, 32, scored, seed=0)
    train = {int(s) for s in splits["train"]["subjects"]}
    held = {int(s) for s in splits["val"]["subjects"] + splits["test"]["subjects"]}
    assert _users(got.rows) == train and not _users(got.rows) & held
    assert got.info["subjects"] == splits["train"]["subjects"] and got.info["split_seed"] == 3
    # whole recordings, the unlabelled half included: starts 0, 32, …, 864 and one aligned to the end (872)
    per_user = (len(range(0, N - 128 + 1, 32)) + 1) * 6
    assert got.rows.shape == (len(train) * per_user, 128) and got.info["series"] == len(train) * per_user
    assert float(got.rows.max()) > max(train) + 1e-4 * 990  # samples from the unlabelled end are in
    assert got.info["rate_hz"] == 50 and got.info["resampled"] is False


def test_a_split_seed_other_than_the_scored_datasets_is_refused(hapt):
    raw, scored = hapt
    spec = get_dataset_spec("uci-har")
    val = scored.manifest["splits"]["val"]["subjects"]
    seed = next(s for s in range(50)
                if assign_splits([str(u) for u in USERS], spec, PrepareOptions(seed=s))["val"] != val)
    src = PretrainSource(kind="raw", dataset="uci-har", raw=str(raw), split_seed=seed)
    with pytest.raises(ValueError, match=rf"holds uci-har subjects \['{val[0]}'\], which are val subjects"):
        source_series(src, 128, 32, scored, seed=0)


def test_a_prepared_source_of_held_out_subjects_is_refused(hapt):
    _, scored = hapt
    for split in ("val", "test"):
        with pytest.raises(ValueError, match=f"which are {split} subjects of the scored dataset"):
            source_series(PretrainSource(prepared=str(scored.root), split=split), 128, 32, scored, seed=0)
    got = source_series(PretrainSource(prepared=str(scored.root)), 128, 32, scored, seed=0)
    assert _users(got.rows) <= {int(s) for s in scored.manifest["splits"]["train"]["subjects"]}
    assert got.info["series"] == 6 * scored.manifest["splits"]["train"]["windows"]


def write_ts(path: Path, first_case: int, n_cases: int, n_dims: int, length: int) -> None:
    """A ``.ts`` file whose case ``i`` holds the value ``i`` (numbered from ``first_case``) in every sample."""
    lines = ["@problemName Fake", f"@dimensions {n_dims}", "@classLabel true Standing Running", "@data"]
    for i in range(first_case, first_case + n_cases):
        lines.append(":".join(",".join(f"{i}" for _ in range(length)) for _ in range(n_dims)) + ":Standing")
    path.write_text("\n".join(lines) + "\n")


def test_uea_train_cases_short_recordings_and_resampling(hapt, tmp_path):
    _, scored = hapt  # uci-har is scored: the UEA split is prepare's default (seed 0)
    write_ts(tmp_path / "BasicMotions_TRAIN.ts", 1, 20, 6, 100)
    write_ts(tmp_path / "BasicMotions_TEST.ts", 101, 10, 6, 100)
    src = PretrainSource(kind="raw", dataset="basicmotions", raw=str(tmp_path))
    got = source_series(src, 128, 32, scored, seed=0)
    spec = get_dataset_spec("basicmotions")
    fixed = {f"train-{i:04d}": "train" for i in range(1, 21)} | {f"test-{i:04d}": "test" for i in range(1, 11)}
    expect = assign_splits(list(fixed), spec, PrepareOptions(seed=0), fixed)
    assert got.info["subjects"] == expect["train"] and len(expect["val"]) == 3  # val cases drawn from TRAIN
    cases = {int(s.split("-")[1]) for s in expect["train"]}
    assert _users(got.rows) == cases  # no test case (101…), no validation case
    # 100 samples < 128: one series per channel, left-padded with 28 missing values
    assert got.rows.shape == (len(cases) * 6, 128)
    assert bool(got.rows[:, :28].isnan().all()) and not bool(got.rows[:, 28:].isnan().any())
    # resampled to 20 Hz (prepare's filter): 200 samples, starts 0, 32, 64 and the end-aligned 72
    fast = source_series(PretrainSource(kind="raw", dataset="basicmotions", raw=str(tmp_path), rate_hz=20),
                         128, 32, scored, seed=0)
    assert fast.info["resampled"] and fast.info["rate_hz"] == 20 and fast.rows.shape == (len(cases) * 6 * 4, 128)
    capped = source_series(PretrainSource(kind="raw", dataset="basicmotions", raw=str(tmp_path), max_series=7,
                                          channels=("x_acc",)), 128, 32, scored, seed=0)
    assert capped.rows.shape == (7, 128) and capped.info["series_available"] == len(cases)


def test_cut_recording_drops_windows_over_long_gaps_and_too_short_recordings():
    x = np.arange(20.0)[:, None] * np.ones((1, 2))
    valid = np.ones(20, dtype=bool)
    assert cut_recording(x, valid, 8, 4, 2).shape == (4 * 2, 8)  # starts 0, 4, 8, 12
    valid[9] = False
    kept = cut_recording(x, valid, 8, 4, 2)
    assert list(kept[::2, 0]) == [0, 12]  # the windows at 4 and 8 hold sample 9 (a long gap)
    assert cut_recording(x[:2], np.ones(2, bool), 8, 4, 2).shape == (0, 8)  # no context before the target
    short = cut_recording(x[:5], np.ones(5, bool), 8, 4, 2)
    assert short.shape == (2, 8) and np.isnan(short[:, :3]).all() and list(short[0, 3:]) == [0, 1, 2, 3, 4]


# -- the config ---------------------------------------------------------------------------------------------

def test_bad_sources_are_collected_and_named_with_the_file(tmp_path):
    doc = {"data": {"prepared": "d", "sources": [
        {"kind": "raw", "dataset": "nope", "raw": "r"},
        {"kind": "prepared"},
        {"kind": "raw", "dataset": "uci-har", "raw": "r", "stride": 0, "rate_hz": -5},
        {"kind": "prepared", "prepared": "d", "stride": 4},
        {"kind": "raw", "dataset": "uci-har", "raw": "r", "split": "test"},
        {"kind": "web", "prepared": "d"},
        {"kind": "raw", "dataset": "uci-har", "raw": "r", "colour": "red"},
        {"prepared": "d", "split": "dev"},
    ]}}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError) as err:
        load_config(PretrainEncoderConfig, path)
    msg = str(err.value)
    assert f"in {path}" in msg
    for part in ("data.sources[0]: dataset='nope' is not a registered dataset; known:",
                 "data.sources[1]: kind 'prepared' needs `prepared: DIR`",
                 "data.sources[2]: stride=0 must be >= 1",
                 "data.sources[3]: kind 'prepared' takes no stride",
                 "data.sources[4]: kind 'raw' takes no prepared/split",
                 "data.sources[5].kind='web'; valid: 'prepared', 'raw'",
                 "unknown key data.sources[6].colour",
                 "data.sources[7]: split='dev'; valid: train, val, test"):
        assert part in msg, (part, msg)
    with pytest.raises(ConfigError, match=r"data.sources\[0\]: rate_hz=-5.0 must be a positive number"):
        load_config(PretrainEncoderConfig, None, ["data.sources=[{kind: raw, dataset: uci-har, raw: r, rate_hz: -5}]"])
    with pytest.raises(ConfigError, match="data: train_split='val' is read only without `sources`"):
        load_config(PretrainEncoderConfig, None, ["data.train_split=val", "data.sources=[{prepared: d}]"])
    with pytest.raises(ConfigError, match=r"data: sources \['d:train'\] appear more than once"):
        load_config(PretrainEncoderConfig, None, ["data.sources=[{prepared: d}, {prepared: d}]"])
    with pytest.raises(ConfigError, match="run: patience=0 must be >= 1 \\(or null\\)"):
        load_config(PretrainEncoderConfig, None, ["run.patience=0"])
    with pytest.raises(ConfigError, match="data: max_train_series=0 must be >= 1"):
        load_config(PretrainEncoderConfig, None, ["data.max_train_series=0"])


def test_shipped_all_sources_config():
    cfg = load_config(PretrainEncoderConfig, ROOT / "configs" / "here" / "uci-har" / "pretrain-encoder-all.yaml")
    assert cfg.data.prepared == "runs/uci-har/data" and cfg.data.val_split == "val"
    assert [(s.kind, s.dataset) for s in cfg.data.sources] == [
        ("raw", "uci-har"), ("raw", "basicmotions"), ("raw", "epilepsy")]
    assert all(isinstance(s, PretrainSource) and s.rate_hz is None for s in cfg.data.sources)  # native rates
    assert cfg.run.snapshot_every and cfg.run.patience and cfg.run.max_time_s and cfg.run.threads == 1
    assert config_to_dict(cfg)["data"]["sources"][0]["raw"] == "../shared/datasets/UCI-HAPT/RawData"


def test_a_checkpoint_written_before_a_new_data_key_still_resumes(tmp_path):
    current = json.loads(json.dumps(config_to_dict(PretrainEncoderConfig())))
    defaults = json.loads(json.dumps(config_to_dict(PretrainEncoderConfig())))
    old = json.loads(json.dumps(current))
    del old["data"]["sources"]  # as written before data.sources existed
    check_resumed_config(old, current, tmp_path, defaults)
    current["data"]["sources"] = [{"kind": "raw"}]
    with pytest.raises(ValueError, match="use another run.out_dir"):
        check_resumed_config(old, current, tmp_path, defaults)


@pytest.mark.skipif(not (REAL / "UCI-HAPT" / "RawData").exists(), reason="../shared/datasets not present")
def test_real_hapt_raw_source_has_the_18_training_subjects(tmp_path):
    """The real recordings with the manifest of `prepare uci-har` (seed 0): its 18 training subjects, 125,988
    series at stride 32, none of the validation (16, 26, 28) or test subjects."""
    spec = get_dataset_spec("uci-har")
    subjects = [str(u) for u in range(1, 31)]
    split = assign_splits(subjects, spec, PrepareOptions(seed=0))
    (tmp_path / "manifest.json").write_text(json.dumps({"dataset": "uci-har", "seed": 0, "paper_split": False,
                                                        "splits": {k: {"subjects": v} for k, v in split.items()}}))
    got = source_series(PretrainSource(kind="raw", dataset="uci-har", raw=str(REAL / "UCI-HAPT" / "RawData")),
                        128, 32, open_prepared(tmp_path), seed=0)
    assert split["val"] == ["16", "26", "28"] and got.info["subjects"] == split["train"]
    assert got.info["recordings"] == 36 and got.info["series"] == 125_988


# -- a run from several sources: snapshots and patience -------------------------------------------------------


def test_run_from_sources_snapshots_and_stops_on_patience(hapt, tmp_path):
    raw, scored = hapt
    over = [f"data.prepared={scored.root}", f"run.out_dir={tmp_path / 'out'}", "model.n_tokens=128",
            "model.prediction_length=8", "model.context_length=24", "optim.batch_size=8", "optim.max_steps=40",
            "optim.lr=0.0", "run.eval_every=2", "run.save_every=4", "run.snapshot_every=2", "run.patience=1",
            "run.log_every=2", "data.max_val_series=16",
            f"data.sources=[{{kind: raw, dataset: uci-har, raw: {raw}, name: hapt, max_series: 64}},"
            f" {{prepared: {scored.root}, channels: [x_acc]}}]"]
    summary = run_pretrain(load_config(PretrainEncoderConfig, None, over))
    assert [s["name"] for s in summary["sources"]] == ["hapt", f"{scored.root}:train"]
    assert summary["sources"][0]["series"] == 64 and summary["train_series"] == 64 + scored.manifest[
        "splits"]["train"]["windows"]
    # at learning rate 0 the loss at step 2 is no better than at step 0: patience 1 ends the run there
    assert summary["stopped_by_patience"] and summary["steps"] == 2
    snaps = sorted(p.name for p in (tmp_path / "out" / "snapshots").iterdir())
    assert snaps == [f"step-{s:06d}" for s in range(0, summary["steps"] + 1, 2)]
    meta = json.loads((tmp_path / "out" / "snapshots" / "step-000002" / "config.json").read_text())
    assert meta["sensorllm_pretrain"]["step"] == 2 and meta["sensorllm_pretrain"]["sources"][0]["name"] == "hapt"
    assert meta["sensorllm_pretrain"]["sources"][0]["subjects"] == scored.manifest["splits"]["train"]["subjects"]
    again = run_pretrain(load_config(PretrainEncoderConfig, None, over))  # a rerun does not train on
    assert again["steps"] == summary["steps"] and again["stopped_by_patience"]


def test_the_probe_scores_a_snapshot_on_validation_without_reading_the_test_split(hapt, tmp_path):
    """benchmarks/pretrain_curve.py's probe: chronos-mlp on a snapshot's frozen features, validation only."""
    import shutil
    import sys

    raw, scored = hapt
    over = [f"data.prepared={scored.root}", f"run.out_dir={tmp_path / 'out'}", "model.n_tokens=128",
            "model.prediction_length=8", "optim.batch_size=8", "optim.max_steps=2", "run.snapshot_every=2",
            "run.eval_every=2", "run.save_every=2", "data.max_val_series=8",
            f"data.sources=[{{kind: raw, dataset: uci-har, raw: {raw}, max_series: 32}}]"]
    run_pretrain(load_config(PretrainEncoderConfig, None, over))
    data = tmp_path / "data"
    shutil.copytree(scored.root, data)
    shutil.rmtree(data / "stage2" / "test")  # the probe must not need it
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import pretrain_curve as pc

    snap = tmp_path / "out" / "snapshots" / "step-000002"
    rec = pc.probe(snap, data, tmp_path / "rec" / "step-000002.json", tmp_path / "probe-run", seed=0, threads=1)
    assert rec["step"] == 2 and rec["split"] == "val" and 0 <= rec["val_f1_macro"] <= 1
    assert rec["val_windows"] == scored.manifest["splits"]["val"]["windows"]
    assert rec["pretrain_val_loss"] is not None and "pretrained=" in rec["baseline_command"]
    assert json.loads((tmp_path / "rec" / "step-000002.json").read_text()) == rec
    assert (tmp_path / "probe-run" / "val_history.csv").exists()
