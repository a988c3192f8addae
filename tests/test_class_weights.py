"""The one class-weight function (sensorllm.utils.class_weights_from_labels) and its two schemes: SensorLLM's
Stage-2 loss (``reference``) and the baselines' ``--class-weights`` (``balanced``)."""

import warnings

import numpy as np
import pytest
import torch

from sensorllm.utils import class_weights_from_labels


def test_balanced_is_n_over_k_times_n_c_and_one_for_an_absent_class():
    y = np.array([0, 0, 0, 1, 3, 3], dtype=np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the balanced scheme does not warn about the absent class 2
        w = class_weights_from_labels(y, 4, scheme="balanced")
    assert w.dtype == torch.float32
    expected = np.array([6 / (4 * 3), 6 / (4 * 1), 1.0, 6 / (4 * 2)], dtype=np.float32)
    assert np.array_equal(w.numpy(), expected)


def test_reference_sums_to_one_and_gives_an_absent_class_the_largest_weight():
    with pytest.warns(UserWarning, match=r"classes \[2\]"):
        w = class_weights_from_labels([0, 0, 0, 1, 3, 3], 4)
    assert w[[0, 1, 3]].sum().item() == pytest.approx(1.0)
    assert w[2] == w.max() == w[1]


def test_both_schemes_give_the_same_mean_weighted_loss_on_present_classes():
    rng = np.random.default_rng(0)
    y = rng.choice(5, size=200, p=[0.5, 0.2, 0.15, 0.1, 0.05])
    logits = torch.from_numpy(rng.normal(size=(200, 5))).float()
    target = torch.from_numpy(y)
    losses = [torch.nn.functional.cross_entropy(logits, target, weight=class_weights_from_labels(y, 5, scheme=s))
              for s in ("reference", "balanced")]
    assert losses[0].item() == pytest.approx(losses[1].item(), rel=1e-5)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="scheme"):
        class_weights_from_labels([0, 1], 2, scheme="inverse")
    with pytest.raises(ValueError, match="no labels"):
        class_weights_from_labels([], 2, scheme="balanced")
    with pytest.raises(ValueError, match="must lie in"):
        class_weights_from_labels([0, 2], 2, scheme="balanced")


def test_the_model_package_exports_the_same_function():
    from sensorllm.model import class_weights_from_labels as exported
    from sensorllm.model.head import class_weights_from_labels as from_head

    assert exported is from_head is class_weights_from_labels
