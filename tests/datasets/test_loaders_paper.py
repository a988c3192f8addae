"""Raw-file loaders of the four paper datasets read from the official layouts (USC-HAD, mHealth,
PAMAP2, CAPTURE-24): channel order and units, labels, subjects, NaN handling, errors."""

from __future__ import annotations

import gzip
import types
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from sensorllm.datasets import DataError, get_dataset_spec
from sensorllm.datasets.loaders import capture24

from fakes import (
    CAPTURE24_DICTIONARY,
    write_fake_capture24,
    write_fake_mhealth,
    write_fake_pamap2,
    write_fake_usc_had,
)


def load_all(name: str, raw: Path) -> list:
    spec = get_dataset_spec(name)
    it = spec.loader(spec, raw)
    assert isinstance(it, types.GeneratorType) or iter(it) is it, "loader must return a lazy iterator"
    return list(it)


def check_arrays(recs: list, n_channels: int) -> None:
    for r in recs:
        assert r.data.dtype == np.float64 and r.data.ndim == 2 and r.data.shape[1] == n_channels
        assert r.labels.dtype == np.int64 and r.labels.shape == (len(r.data),)
        assert r.data.flags.c_contiguous
        assert isinstance(r.subject, str) and isinstance(r.source, str)
        assert r.fixed_split is None


def raw_column_of(data: np.ndarray) -> np.ndarray:
    """For tagged fakes: which raw column each output channel came from (NaN-safe, per channel)."""
    return np.array([int(np.rint(np.nanmedian(data[:, j]) / 1000.0)) for j in range(data.shape[1])])


def read_whitespace_table(path: Path) -> np.ndarray:
    """An independent reader of the text files (numpy, no pandas)."""
    return np.genfromtxt(path, dtype=np.float64, missing_values="NaN", filling_values=np.nan)


def rewrite_line(path: Path, lineno: int, fn) -> None:
    lines = path.read_text().splitlines(keepends=True)
    lines[lineno - 1] = fn(lines[lineno - 1])
    path.write_text("".join(lines))


# ---- generic: every paper dataset --------------------------------------------------------------------------

PAPER = ["usc-had", "mhealth", "pamap2", "capture24"]


@pytest.mark.parametrize("name", PAPER)
def test_missing_raw_dir_is_a_data_error(tmp_path: Path, name: str) -> None:
    with pytest.raises(DataError) as err:
        load_all(name, tmp_path / "nope")
    msg = str(err.value)
    assert "nope" in msg and "does not exist" in msg
    assert get_dataset_spec(name).raw_layout in msg


@pytest.mark.parametrize("name", PAPER)
def test_missing_raw_dir_fails_at_call_time(tmp_path: Path, name: str) -> None:
    spec = get_dataset_spec(name)
    with pytest.raises(DataError):
        spec.loader(spec, tmp_path / "nope")  # no iteration needed


@pytest.mark.parametrize("name", PAPER)
def test_no_matching_files_names_the_layout(tmp_path: Path, name: str) -> None:
    (tmp_path / "README.txt").write_text("not data\n")
    (tmp_path / "Subject1").mkdir()
    (tmp_path / "Subject1" / "notes.mat").write_bytes(b"")
    with pytest.raises(DataError) as err:
        load_all(name, tmp_path)
    msg = str(err.value)
    assert "no" in msg and get_dataset_spec(name).raw_layout in msg
    assert str(tmp_path) in msg


# ---- USC-HAD -----------------------------------------------------------------------------------------------


def test_usc_had_recordings_labels_subjects_and_order(tmp_path: Path) -> None:
    raw = write_fake_usc_had(tmp_path, subjects=(10, 2), activities=(12, 1, 2), trials=(2, 1), n=80)
    recs = load_all("usc-had", raw)
    check_arrays(recs, 6)
    assert len(recs) == 2 * 3 * 2
    keys = [(r.subject, Path(r.source).parent.name, Path(r.source).name) for r in recs]
    expected = [
        (str(s), f"Subject{s}", f"a{a}t{t}.mat") for s in (2, 10) for a in (1, 2, 12) for t in (1, 2)
    ]
    assert keys == expected  # natural order: Subject2 < Subject10, a2 < a12
    for r in recs:
        act = int(Path(r.source).stem[1:].split("t")[0])
        assert (r.labels == act).all()
        stored = scipy.io.loadmat(r.source)["sensor_readings"]
        np.testing.assert_array_equal(r.data, stored)  # x,y,z acc (g) then x,y,z gyro (dps), unchanged
        assert len(r.data) == 80


def test_usc_had_channel_order_and_units(tmp_path: Path) -> None:
    spec = get_dataset_spec("usc-had")
    assert spec.channel_names == ["x_acc", "y_acc", "z_acc", "x_gyro", "y_gyro", "z_gyro"]
    assert [c.unit for c in spec.channels] == ["g"] * 3 + ["deg/s"] * 3
    assert spec.raw_rate_hz == 100
    raw = write_fake_usc_had(tmp_path, subjects=(1,), activities=(5,), trials=(1,), tag_columns=True)
    (rec,) = load_all("usc-had", raw)
    assert raw_column_of(rec.data).tolist() == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize("form", ["number", "numbr", "none"])
def test_usc_had_activity_number_variants(tmp_path: Path, form: str) -> None:
    raw = write_fake_usc_had(tmp_path, subjects=(3,), activities=(7,), trials=(4,), activity_number_as=form)
    (rec,) = load_all("usc-had", raw)
    assert rec.subject == "3" and (rec.labels == 7).all()


def test_usc_had_lowercase_layout_and_extracted_folder(tmp_path: Path) -> None:
    write_fake_usc_had(tmp_path / "USC-HAD", subjects=(4,), activities=(2,), trials=(1,))
    (tmp_path / "USC-HAD" / "Subject4").rename(tmp_path / "USC-HAD" / "subject4")
    (tmp_path / "USC-HAD" / "subject4" / "a2t1.mat").rename(tmp_path / "USC-HAD" / "subject4" / "A2T1.mat")
    (rec,) = load_all("usc-had", tmp_path)
    assert rec.subject == "4" and (rec.labels == 2).all()


def test_usc_had_activity_number_mismatch(tmp_path: Path) -> None:
    raw = write_fake_usc_had(tmp_path, subjects=(1,), activities=(3,), trials=(1,))
    path = raw / "Subject1" / "a3t1.mat"
    mat = scipy.io.loadmat(path)
    mat["activity_number"] = "4"
    scipy.io.savemat(path, {k: v for k, v in mat.items() if not k.startswith("__")})
    with pytest.raises(DataError, match=r"a3t1\.mat.*activity_number is 4.*activity 3"):
        load_all("usc-had", raw)


def test_usc_had_wrong_shape_and_missing_variable(tmp_path: Path) -> None:
    raw = write_fake_usc_had(tmp_path, subjects=(1,), activities=(1, 2), trials=(1,))
    first = raw / "Subject1" / "a1t1.mat"
    scipy.io.savemat(first, {"sensor_readings": np.zeros((10, 5)), "activity_number": "1"})
    scipy.io.savemat(raw / "Subject1" / "a2t1.mat", {"readings": np.zeros((10, 6))})
    spec = get_dataset_spec("usc-had")
    it = spec.loader(spec, raw)
    with pytest.raises(DataError, match=r"a1t1\.mat.*\(10, 5\).*N x 6"):
        next(it)
    # fix the first: now only the second is bad
    scipy.io.savemat(first, {"sensor_readings": np.ones((10, 6)), "activity_number": "1"})
    it = spec.loader(spec, raw)
    assert next(it).data.shape == (10, 6)
    with pytest.raises(DataError, match=r"a2t1\.mat.*no variable 'sensor_readings'"):
        next(it)


def test_usc_had_corrupt_file_and_laziness(tmp_path: Path) -> None:
    raw = write_fake_usc_had(tmp_path, subjects=(1,), activities=(1, 2), trials=(1,))
    (raw / "Subject1" / "a2t1.mat").write_bytes(b"this is not a MAT file at all" * 10)
    spec = get_dataset_spec("usc-had")
    it = spec.loader(spec, raw)
    first = next(it)  # the good file is produced before the bad one is opened
    assert (first.labels == 1).all()
    with pytest.raises(DataError, match=r"a2t1\.mat"):
        next(it)


# ---- mHealth -----------------------------------------------------------------------------------------------

MHEALTH_KEPT = [0, 1, 2, 5, 6, 7, 8, 9, 10, 14, 15, 16, 17, 18, 19]
MHEALTH_DROPPED = [3, 4, 11, 12, 13, 20, 21, 22]


def test_mhealth_spec_channels_and_units() -> None:
    spec = get_dataset_spec("mhealth")
    names = [f"chest_{a}_acc" for a in "xyz"]
    names += [f"{p}_{a}_{s}" for p in ("la", "rla") for s in ("acc", "gyro") for a in "xyz"]
    assert spec.channel_names == names
    assert [c.unit for c in spec.channels] == ["m/s^2"] * 6 + ["deg/s"] * 3 + ["m/s^2"] * 3 + ["deg/s"] * 3
    assert spec.raw_rate_hz == 50


def test_mhealth_recordings_match_independent_reader(tmp_path: Path) -> None:
    raw = write_fake_mhealth(tmp_path, subjects=(10, 1, 3), run_length=40)
    recs = load_all("mhealth", raw)
    check_arrays(recs, 15)
    assert [r.subject for r in recs] == ["1", "3", "10"]
    for r in recs:
        assert Path(r.source).name == f"mHealth_subject{r.subject}.log"
        table = read_whitespace_table(Path(r.source))
        assert table.shape == (13 * 40, 24)
        np.testing.assert_array_equal(r.data, table[:, MHEALTH_KEPT])
        np.testing.assert_array_equal(r.labels, table[:, 23].astype(np.int64))
        assert set(r.labels.tolist()) == set(range(13))  # null class 0 passed through
        assert not np.isnan(r.data).any()


def test_mhealth_column_mapping_with_tags(tmp_path: Path) -> None:
    raw = write_fake_mhealth(tmp_path, subjects=(2,), run_length=20, tag_columns=True)
    (rec,) = load_all("mhealth", raw)
    cols = raw_column_of(rec.data).tolist()
    assert cols == MHEALTH_KEPT
    assert not set(cols) & set(MHEALTH_DROPPED)  # ECG and magnetometers are gone


def test_mhealth_extracted_folder_and_crlf(tmp_path: Path) -> None:
    raw = write_fake_mhealth(tmp_path / "MHEALTHDATASET", subjects=(5,), run_length=10)
    path = raw / "mHealth_subject5.log"
    text = path.read_text().replace("\n", "\r\n") + "\r\n"  # Windows line ends and a trailing blank line
    path.write_bytes(text.encode())
    (rec,) = load_all("mhealth", tmp_path)
    assert rec.subject == "5" and rec.data.shape == (130, 15)


@pytest.mark.parametrize("lineno", [1, 5])
@pytest.mark.parametrize("delta", [-1, +1])
def test_mhealth_wrong_column_count_names_file_and_line(tmp_path: Path, lineno: int, delta: int) -> None:
    raw = write_fake_mhealth(tmp_path, subjects=(1, 2), run_length=5)
    path = raw / "mHealth_subject2.log"
    if delta < 0:
        rewrite_line(path, lineno, lambda s: s.split("\t", 1)[1])
    else:
        rewrite_line(path, lineno, lambda s: "0.5\t" + s)
    with pytest.raises(DataError) as err:
        load_all("mhealth", raw)
    msg = str(err.value)
    assert "mHealth_subject2.log" in msg and f"line {lineno}:" in msg
    assert f"found {24 + delta} columns, expected 24" in msg


def test_mhealth_non_numeric_cell(tmp_path: Path) -> None:
    raw = write_fake_mhealth(tmp_path, subjects=(1,), run_length=5)
    path = raw / "mHealth_subject1.log"
    rewrite_line(path, 4, lambda s: "\t".join(["abc" if i == 6 else c for i, c in enumerate(s.split("\t"))]))
    with pytest.raises(DataError, match=r"mHealth_subject1\.log: line 4, column 7 .*non-numeric cell 'abc'"):
        load_all("mhealth", raw)


def test_mhealth_nan_and_bad_label_are_errors(tmp_path: Path) -> None:
    raw = write_fake_mhealth(tmp_path, subjects=(1,), run_length=5)
    path = raw / "mHealth_subject1.log"
    rewrite_line(path, 3, lambda s: "NaN\t" + s.split("\t", 1)[1])
    with pytest.raises(DataError, match=r"line 3, column 1 .*missing value"):
        load_all("mhealth", raw)
    raw = write_fake_mhealth(tmp_path / "b", subjects=(1,), run_length=5)
    path = raw / "mHealth_subject1.log"
    rewrite_line(path, 9, lambda s: s.rsplit("\t", 1)[0] + "\t2.5\n")
    with pytest.raises(DataError, match=r"mHealth_subject1\.log: line 9, column 24 .*2\.5"):
        load_all("mhealth", raw)


def test_mhealth_empty_file(tmp_path: Path) -> None:
    (tmp_path / "mHealth_subject1.log").write_text("")
    with pytest.raises(DataError, match=r"mHealth_subject1\.log.*empty"):
        load_all("mhealth", tmp_path)


# ---- PAMAP2 ------------------------------------------------------------------------------------------------


def pamap2_kept() -> list[int]:
    out = []
    for start in (3, 20, 37):  # hand, chest, ankle
        out += [start + 1, start + 2, start + 3]  # acc ±16 g
        out += [start + 7, start + 8, start + 9]  # gyro
        out += [start + 10, start + 11, start + 12]  # magnetometer
    return out


def test_pamap2_spec_channels_and_units() -> None:
    spec = get_dataset_spec("pamap2")
    names = [
        f"{p}_{a}_{s}" for p in ("hand", "chest", "ankle") for s in ("acc", "gyro", "mag") for a in "xyz"
    ]
    assert spec.channel_names == names
    assert [c.unit for c in spec.channels] == (["m/s^2"] * 3 + ["rad/s"] * 3 + ["uT"] * 3) * 3
    assert spec.raw_rate_hz == 100


def test_pamap2_recordings_match_independent_reader_with_nans(tmp_path: Path) -> None:
    raw = write_fake_pamap2(tmp_path, subjects=(102, 101), run_length=30, nan_fraction=0.05)
    (raw / "Optional").mkdir()
    write_fake_pamap2(tmp_path, subjects=(101,), run_length=5, subdir="Optional", activities=(9, 10))
    recs = load_all("pamap2", raw)
    check_arrays(recs, 27)
    assert [r.subject for r in recs] == ["101", "102"]  # Optional/ is not read
    for r in recs:
        assert Path(r.source).parent.name == "Protocol"
        table = read_whitespace_table(Path(r.source))
        assert table.shape == (13 * 30, 54)
        expected = table[:, pamap2_kept()]
        assert np.isnan(expected).any()  # the fake has dropped packets ...
        np.testing.assert_array_equal(np.isnan(r.data), np.isnan(expected))  # ... kept as NaN
        np.testing.assert_array_equal(r.data, expected)
        np.testing.assert_array_equal(r.labels, table[:, 1].astype(np.int64))
        assert 0 in r.labels and 24 in r.labels


def test_pamap2_column_mapping_with_tags(tmp_path: Path) -> None:
    raw = write_fake_pamap2(tmp_path, subjects=(105,), run_length=10, tag_columns=True)
    (rec,) = load_all("pamap2", raw)
    cols = raw_column_of(rec.data).tolist()
    assert cols == pamap2_kept()
    dropped = {0, 1, 2} | {s + k for s in (3, 20, 37) for k in (0, 4, 5, 6, 13, 14, 15, 16)}
    assert not set(cols) & dropped  # timestamp, label, heart rate, temperature, ±6 g acc, orientation


def test_pamap2_files_directly_in_raw_and_lowercase_nan(tmp_path: Path) -> None:
    raw = write_fake_pamap2(tmp_path, subjects=(109,), run_length=5, subdir="")
    path = raw / "subject109.dat"
    path.write_text(path.read_text().replace("NaN", "nan"))
    (rec,) = load_all("pamap2", raw)
    assert rec.subject == "109" and np.isnan(rec.data).any()


def test_pamap2_timestamp_gap_is_filled_with_nan_rows(tmp_path: Path) -> None:
    raw = write_fake_pamap2(tmp_path, subjects=(101,), run_length=10, nan_fraction=0.0)
    path = raw / "Protocol" / "subject101.dat"
    full = read_whitespace_table(path)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:20] + lines[25:]))  # drop 5 rows (50 ms)
    (rec,) = load_all("pamap2", raw)
    assert len(rec.data) == len(full)
    assert np.isnan(rec.data[20:25]).all() and (rec.labels[20:25] == 0).all()
    np.testing.assert_array_equal(rec.data[25:], full[25:, pamap2_kept()])
    np.testing.assert_array_equal(rec.labels[:20], full[:20, 1].astype(np.int64))


def test_pamap2_timestamp_not_increasing(tmp_path: Path) -> None:
    raw = write_fake_pamap2(tmp_path, subjects=(101,), run_length=5)
    path = raw / "Protocol" / "subject101.dat"
    lines = path.read_text().splitlines(keepends=True)
    lines[7], lines[8] = lines[8], lines[7]
    path.write_text("".join(lines))
    with pytest.raises(DataError, match=r"subject101\.dat: line 9: timestamp .* does not increase"):
        load_all("pamap2", raw)


@pytest.mark.parametrize("lineno", [1, 30])
def test_pamap2_wrong_column_count(tmp_path: Path, lineno: int) -> None:
    raw = write_fake_pamap2(tmp_path, subjects=(101, 104), run_length=5)
    path = raw / "Protocol" / "subject104.dat"
    rewrite_line(path, lineno, lambda s: s.rsplit(" ", 1)[0] + "\n")
    with pytest.raises(DataError) as err:
        load_all("pamap2", raw)
    msg = str(err.value)
    assert "subject104.dat" in msg and f"line {lineno}:" in msg and "found 53 columns, expected 54" in msg


def test_pamap2_non_numeric_cell_and_bad_label(tmp_path: Path) -> None:
    raw = write_fake_pamap2(tmp_path, subjects=(101,), run_length=5)
    path = raw / "Protocol" / "subject101.dat"
    rewrite_line(path, 12, lambda s: s.replace(" ", " 1.2.3 ", 1).rsplit(" ", 1)[0] + "\n")
    with pytest.raises(DataError, match=r"subject101\.dat: line 12, column 2 .*non-numeric cell '1\.2\.3'"):
        load_all("pamap2", raw)
    raw = write_fake_pamap2(tmp_path / "b", subjects=(101,), run_length=5)
    path = raw / "Protocol" / "subject101.dat"
    rewrite_line(path, 6, lambda s: " ".join([c if i != 1 else "NaN" for i, c in enumerate(s.split(" "))]))
    with pytest.raises(DataError, match=r"line 6, column 2 .*activityID nan"):
        load_all("pamap2", raw)


# ---- CAPTURE-24 --------------------------------------------------------------------------------------------


def expected_capture24(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Independent reader: csv module + the fake dictionary."""
    import csv

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as fh:
        rows = list(csv.DictReader(fh))
    xyz = np.array([[float(r["x"]), float(r["y"]), float(r["z"])] for r in rows])
    classes = capture24.CLASSES
    names = [CAPTURE24_DICTIONARY.get(r["annotation"]) for r in rows]
    labels = np.array([-1 if n is None else 1 + classes.index(n) for n in names])
    return xyz, labels


def test_capture24_spec_classes_and_channels() -> None:
    spec = get_dataset_spec("capture24")
    assert spec.class_names == capture24.CLASSES
    assert [c.raw_id for c in spec.classes] == list(range(1, 11))
    assert spec.channel_names == ["x_acc", "y_acc", "z_acc"] and {c.unit for c in spec.channels} == {"g"}
    assert spec.raw_rate_hz == 100


def test_capture24_recordings_labels_and_subjects(tmp_path: Path) -> None:
    raw = write_fake_capture24(tmp_path, participants=(12, 3), run_length=50)
    write_fake_capture24(tmp_path, participants=(101,), run_length=50, compress=False)  # plain .csv too
    recs = load_all("capture24", raw)
    check_arrays(recs, 3)
    assert [r.subject for r in recs] == ["P003", "P012", "P101"]
    assert recs[2].source.endswith("P101.csv")
    for r in recs:
        xyz, labels = expected_capture24(Path(r.source))
        np.testing.assert_allclose(r.data, xyz, rtol=0, atol=0)
        np.testing.assert_array_equal(r.labels, labels)
        assert (r.labels == -1).any() and (r.labels >= 1).any()
        assert set(r.labels.tolist()) <= {-1, *range(1, 11)}


def test_capture24_chunked_read_is_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = write_fake_capture24(tmp_path, participants=(1,), run_length=30)
    (whole,) = load_all("capture24", raw)
    monkeypatch.setattr(capture24, "CHUNK_ROWS", 7)
    (chunked,) = load_all("capture24", raw)
    np.testing.assert_array_equal(whole.data, chunked.data)
    np.testing.assert_array_equal(whole.labels, chunked.labels)


def test_capture24_nan_cells_pass_through(tmp_path: Path) -> None:
    path = tmp_path / "P001.csv"
    write_fake_capture24(tmp_path, participants=(), run_length=5)
    path.write_text(
        "time,x,y,z,annotation\n"
        't0,0.1,0.2,0.3,"7030 sleeping;MET 0.95"\n'
        "t1,,,,\n"
        "t2,NaN,0.5,0.6,\n"
    )
    (rec,) = load_all("capture24", tmp_path)
    assert np.isnan(rec.data[1]).all() and np.isnan(rec.data[2, 0]) and rec.data[2, 2] == 0.6
    assert rec.labels.tolist() == [1, -1, -1]


@pytest.mark.parametrize("chunk", [1_000_000, 8])
def test_capture24_unknown_annotation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    monkeypatch.setattr(capture24, "CHUNK_ROWS", chunk)
    raw = write_fake_capture24(tmp_path, participants=(1, 2), run_length=10, unlabelled_every=0)
    path = raw / "P002.csv.gz"
    with gzip.open(path, "rt") as fh:
        lines = fh.readlines()
    parts = lines[37].rsplit(",", 1)
    lines[37] = parts[0] + ',"9999 juggling chainsaws;MET 9.9"\n'
    with gzip.open(path, "wt") as fh:
        fh.writelines(lines)
    spec = get_dataset_spec("capture24")
    it = spec.loader(spec, raw)
    assert next(it).subject == "P001"
    with pytest.raises(DataError) as err:
        next(it)
    msg = str(err.value)
    assert "P002.csv.gz" in msg and "line 38" in msg and "9999 juggling chainsaws" in msg
    assert "annotation-label-dictionary.csv" in msg


def test_capture24_dictionary_problems(tmp_path: Path) -> None:
    raw = write_fake_capture24(tmp_path, participants=(1,), run_length=5)
    dict_path = raw / "annotation-label-dictionary.csv"
    text = dict_path.read_text()
    dict_path.unlink()
    with pytest.raises(DataError, match="annotation-label-dictionary.csv.*not found"):
        load_all("capture24", raw)
    dict_path.write_text(text.replace("label:WillettsSpecific2018", "label:Other"))
    with pytest.raises(DataError, match=r"no column 'label:WillettsSpecific2018'"):
        load_all("capture24", raw)
    dict_path.write_text(text.replace(",walking,", ",strolling,"))
    with pytest.raises(DataError, match=r"line \d+: .*'strolling'"):
        load_all("capture24", raw)


def test_capture24_bad_header_bad_cell_and_extra_column(tmp_path: Path) -> None:
    raw = write_fake_capture24(tmp_path, participants=(1,), run_length=5, compress=False)
    path = raw / "P001.csv"
    good = path.read_text()
    path.write_text(good.replace("time,x,y,z,annotation", "time,x,y,annotation", 1))
    with pytest.raises(DataError, match=r"P001\.csv: header has columns .*expected at least"):
        load_all("capture24", raw)
    lines = good.splitlines(keepends=True)
    cells = lines[9].split(",")
    cells[2] = "0.1x"
    path.write_text("".join(lines[:9] + [",".join(cells)] + lines[10:]))
    with pytest.raises(DataError, match=r"P001\.csv: line 10, column 'y': non-numeric cell '0\.1x'"):
        load_all("capture24", raw)
    path.write_text("".join(lines[:20] + [lines[20].rstrip("\n") + ",7\n"] + lines[21:]))
    with pytest.raises(DataError, match=r"P001\.csv: line 21: found 6 columns, expected 5"):
        load_all("capture24", raw)


def test_capture24_corrupt_gzip(tmp_path: Path) -> None:
    raw = write_fake_capture24(tmp_path, participants=(1,), run_length=50)
    path = raw / "P001.csv.gz"
    path.write_bytes(path.read_bytes()[:200])  # truncated archive
    with pytest.raises(DataError, match=r"P001\.csv\.gz"):
        load_all("capture24", raw)
