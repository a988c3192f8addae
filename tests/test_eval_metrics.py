import json

import numpy as np

from sensorllm.eval.metrics import classification_metrics, write_classification_report


def test_metrics_match_hand_computation_and_count_absent_classes(tmp_path):
    y_true = [0, 0, 1, 1, 1, 2]
    y_pred = [0, 1, 1, 1, 0, 2]
    m = classification_metrics(y_true, y_pred, ["a", "b", "c", "d"])
    assert m["accuracy"] == 4 / 6
    f1_a = 2 * (1 / 2 * 1 / 2) / (1 / 2 + 1 / 2)          # P = 1/2, R = 1/2
    f1_b = 2 * (2 / 3 * 2 / 3) / (2 / 3 + 2 / 3)          # P = 2/3, R = 2/3
    assert np.isclose(m["f1_macro"], (f1_a + f1_b + 1.0 + 0.0) / 4)  # class d absent: F1 0
    assert m["per_class"]["d"]["support"] == 0
    assert m["confusion_matrix"][1] == [1, 2, 0, 0]
    report = write_classification_report(m, tmp_path, "test")
    assert "| b | 0.667 | 0.667 | 0.667 | 3 |" in report.read_text()
    assert json.loads((tmp_path / "metrics.json").read_text())["f1_macro"] == m["f1_macro"]
    assert (tmp_path / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"


def test_training_precision_and_cpu_bf16_autocast():
    import pytest
    import torch

    from sensorllm.infer.stage2 import autocast_like_training, training_precision

    extra = {"run_config": {"run": {"mixed_precision": "bf16"}}}
    assert training_precision(extra) == "bf16" and training_precision(extra, "auto") == "bf16"
    assert training_precision(extra, "fp32") == "no" and training_precision({}, "bf16") == "bf16"
    assert training_precision({}) is None
    with pytest.raises(ValueError, match="precision='fp16'"):
        training_precision(extra, "fp16")

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.projector = torch.nn.Linear(3, 3)

    m = M()
    with autocast_like_training(m, "bf16"):
        assert m.projector(torch.randn(2, 3)).dtype == torch.bfloat16  # bf16 autocast on the CPU too
    with autocast_like_training(m, "fp16"):  # fp16 autocast only on a GPU
        assert m.projector(torch.randn(2, 3)).dtype == torch.float32
    with autocast_like_training(m, "no"):
        assert m.projector(torch.randn(2, 3)).dtype == torch.float32
