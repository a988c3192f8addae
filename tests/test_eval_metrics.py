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
