"""train_log.csv / val_log.csv: a resumed run appends under the same header; a log with other columns is
refused, not rewritten."""

import pytest

from sensorllm.train.loop import CsvLogger


def test_a_new_log_gets_its_header_and_a_resumed_one_appends(tmp_path):
    path = tmp_path / "train_log.csv"
    log = CsvLogger(path, ["step", "loss"])
    log.log({"step": 1, "loss": 0.5, "other": 3})
    log.close()
    log = CsvLogger(path, ["step", "loss"])
    log.log({"step": 2})
    log.close()
    assert path.read_text().splitlines() == ["step,loss", "1,0.5", "2,"]


def test_a_log_with_other_columns_is_refused_and_left_as_it_is(tmp_path):
    path = tmp_path / "train_log.csv"
    path.write_text("step,loss\n1,0.5\n")
    with pytest.raises(ValueError, match="has the columns step, loss; this run writes step, loss, lr"):
        CsvLogger(path, ["step", "loss", "lr"])
    assert path.read_text() == "step,loss\n1,0.5\n"
