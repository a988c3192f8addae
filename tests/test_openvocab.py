"""Open-vocabulary recognition: label parsing/matching, zero-shot label scoring (checked against the Stage-1
loss), few-shot heads, and `sensorllm evaluate --labels` end to end on a tiny model and the demo HAPT slice."""

import json
from importlib.resources import files

import numpy as np
import pytest
import torch

from sensorllm.cli.main import main
from sensorllm.data import collate
from sensorllm.infer.openvocab import (
    FewShotHead,
    calibrated,
    noise_windows,
    LabelScorer,
    LabelText,
    label_question,
    match_labels,
    parse_labels,
    support_indices,
    window_features,
)
from sensorllm.model import EncoderConfig, LLMConfig, ProjectorConfig, SensorLLMConfig, build_sensor_llm
from sensorllm.model.checkpoint import save_checkpoint

HAR6 = ("x_acc", "y_acc", "z_acc", "x_gyro", "y_gyro", "z_gyro")
DEMO_RAW = files("sensorllm") / "demo_data" / "uci-hapt-subset"


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    cfg = SensorLLMConfig(channels=HAR6, llm=LLMConfig(name="tiny-random-llama", seed=0),
                          encoder=EncoderConfig(size="tiny", seed=0),
                          projector=ProjectorConfig(preset="custom", hidden=(32,), pool=8), labels=None)
    return build_sensor_llm(cfg)


def _window(seed, n=64, channels=HAR6):
    rng = np.random.default_rng(seed)
    return {c: np.cumsum(rng.normal(size=n)) for c in channels}


def test_parse_labels_forms(tmp_path):
    labs = parse_labels("walking, running: moving fast ,sitting")
    assert [lab.name for lab in labs] == ["walking", "running", "sitting"]
    assert labs[1].description == "moving fast"
    (tmp_path / "l.json").write_text(json.dumps({"walking": "on foot", "lying": ""}))
    assert parse_labels(f"@{tmp_path / 'l.json'}") == [LabelText("walking", "on foot"), LabelText("lying")]
    (tmp_path / "l.txt").write_text("walking: on foot\n\nstanding\n")
    assert [lab.name for lab in parse_labels(f"@{tmp_path / 'l.txt'}")] == ["walking", "standing"]
    with pytest.raises(ValueError, match="twice"):
        parse_labels("walking, Walking")
    with pytest.raises(ValueError, match="empty name"):
        parse_labels("walking, : no name")
    with pytest.raises(FileNotFoundError, match="nope.json"):
        parse_labels(f"@{tmp_path / 'nope.json'}")


def test_match_labels_allows_distractors_and_names_missing_classes():
    labs = parse_labels("swimming, walking_upstairs, Laying")
    assert match_labels(labs, ["Walking upstairs", "laying"], "d") == [1, 2]
    with pytest.raises(ValueError, match=r"\['Sitting'\]"):
        match_labels(labs, ["Sitting", "Laying"], "d")


def test_label_scores_equal_minus_stage1_loss(model):
    """The zero-shot score of a label is exactly minus the Stage-1 loss of that label as the answer."""
    labs = [LabelText("walking"), LabelText("walking upstairs", "climbing stairs"), LabelText("lying down")]
    scorer = LabelScorer(model, labs, rate_hz=50.0, batch_size=2)  # batches mix labels of two windows
    wins = [_window(0), _window(1, n=40, channels=HAR6[:3])]
    scores = scorer.score(wins)
    assert scores.shape == (2, 3) and np.isfinite(scores).all()
    for i, w in enumerate(wins):
        for k, ex in enumerate(scorer._examples(w)):
            with torch.inference_mode():
                loss = model.forward_stage1(collate(model.prompts, [ex])).loss
            assert scores[i, k] == pytest.approx(-float(loss), abs=1e-4)
    summed = LabelScorer(model, labs, 50.0, normalize="sum").score(wins[:1])
    n_tok = [sum(t != -100 for t in ex.labels) for ex in scorer._examples(wins[0])]
    assert np.allclose(summed[0], scores[0] * np.array(n_tok), atol=1e-3)
    assert "walking upstairs (climbing stairs)" in label_question(labs)


def test_window_features_do_not_depend_on_batching(model):
    wins = [_window(s, n=32 + 8 * s) for s in range(3)]
    a = window_features(model, wins, 50.0, batch_size=3)
    b = np.concatenate([window_features(model, [w], 50.0) for w in wins])
    assert a.shape == (3, model.hidden_size)
    assert np.allclose(a, b, atol=1e-4)


@pytest.mark.parametrize("kind", ["ncm", "logreg"])
def test_few_shot_heads_separate_clusters(kind):
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 16)) * 3
    y = np.repeat(np.arange(3), 5)
    x = centers[y] + rng.normal(size=(15, 16))
    yq = np.repeat(np.arange(3), 20)
    xq = centers[yq] + rng.normal(size=(60, 16))
    head = FewShotHead(kind).fit(x, y, 3)
    assert (head.scores(xq).argmax(1) == yq).mean() > 0.95
    with pytest.raises(ValueError, match=r"no example of classes \[2\]"):
        FewShotHead(kind).fit(x[y < 2], y[y < 2], 3)


def test_support_indices_are_seeded_and_per_class():
    y = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    a = support_indices(y, 2, 3, seed=1)
    assert np.array_equal(a, support_indices(y, 2, 3, seed=1))
    assert np.bincount(y[a], minlength=3).tolist() == [2, 2, 2]
    with pytest.raises(ValueError, match="class 3"):
        support_indices(y, 2, 4, seed=0)


def test_evaluate_labels_cli(model, tmp_path, capsys):
    data = tmp_path / "data"
    assert main(["prepare", "uci-har", "--raw", str(DEMO_RAW), "--out", str(data), "-q"]) == 0
    ckpt = save_checkpoint(model, tmp_path / "s1", extra={"stage": 1})
    labels = "walking, walking upstairs, walking downstairs, sitting, standing, laying: lying down, swimming"
    out = tmp_path / "zs"
    assert main(["evaluate", "--model", str(ckpt), "--data", str(data), "--labels", labels, "--limit", "6",
                 "--out", str(out)]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["n"] == 6 and m["shots"] == 0 and 0 <= m["f1_macro"] <= 1 and len(m["labels"]) == 7
    assert "calibrated" in m["mode"] and 0 <= m["uncalibrated"]["f1_macro"] <= 1
    raw, cal = np.load(out / "scores_uncalibrated.npy"), np.load(out / "scores.npy")
    shift = raw - cal  # one constant per label: the calibration does not depend on the window
    assert np.allclose(shift, shift[:1], atol=1e-4) and not np.allclose(shift[0], 0)
    assert np.load(out / "scores.npy").shape == (6, 7)
    assert "RANDOM-INIT" in (out / "report.md").read_text()

    out = tmp_path / "fs"
    assert main(["evaluate", "--model", str(ckpt), "--data", str(data), "--labels", labels, "--limit", "6",
                 "--shots", "2", "--few-shot-head", "logreg", "--out", str(out)]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["shots"] == 2 and "12 support windows from 'train'" in m["mode"]

    capsys.readouterr()
    assert main(["evaluate", "--model", str(ckpt), "--data", str(data), "--labels", "walking, sitting"]) == 1
    assert "have no label" in capsys.readouterr().err
    assert main(["evaluate", "--model", str(ckpt), "--data", str(data), "--labels", labels, "--shots", "2",
                 "--support-split", "test"]) == 1
    assert "another split" in capsys.readouterr().err


def test_channels_the_model_lacks_are_an_error(tmp_path, capsys):
    cfg = SensorLLMConfig(channels=("x_acc",), llm=LLMConfig(name="tiny-random-llama", seed=0),
                          encoder=EncoderConfig(size="tiny", seed=0),
                          projector=ProjectorConfig(preset="linear", pool=8), labels=None)
    ckpt = save_checkpoint(build_sensor_llm(cfg), tmp_path / "m")
    data = tmp_path / "data"
    assert main(["prepare", "uci-har", "--raw", str(DEMO_RAW), "--out", str(data), "-q"]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--model", str(ckpt), "--data", str(data), "--labels", "a, b"]) == 1
    assert "no tokens for channels ['y_acc'" in capsys.readouterr().err


def test_calibration_removes_a_label_prior():
    rng = np.random.default_rng(0)
    evidence = rng.normal(size=(50, 3))
    truth = evidence.argmax(1)
    prior_bias = np.array([0.0, 5.0, 0.0])  # the model prefers label 1 whatever the input
    scores = evidence + prior_bias
    content_free = rng.normal(scale=0.01, size=(4, 3)) + prior_bias
    assert (scores.argmax(1) == 1).all()
    assert (calibrated(scores, content_free).argmax(1) == truth).mean() > 0.95
    w = noise_windows({"x_acc": np.zeros(30), "y_acc": np.zeros(30)}, n=3, seed=2)
    assert len(w) == 3 and w[0]["x_acc"].shape == (30,) and not np.allclose(w[0]["x_acc"], w[1]["x_acc"])
    assert np.array_equal(w[2]["y_acc"], noise_windows({"x_acc": np.zeros(30), "y_acc": np.zeros(30)}, 3, 2)[2]["y_acc"])
