"""The built-in dataset specs: the five paper datasets plus two small UEA archives.

Settings follow the paper (arXiv 2410.10624, §4.1 and Appendix) and its reference code; see
``docs/datasets.md`` for sources and ``docs/deviations.md`` for where we differ.
"""

from __future__ import annotations

from .loaders import capture24, mhealth, pamap2, uci_har, uea, usc_had
from .registry import register_dataset
from .spec import ChannelSpec, ClassSpec, DatasetSpec

G = 9.80665  # standard gravity, m/s^2

_AXES = ("x", "y", "z")
_SENSOR_WORD = {"acc": "accelerometer", "gyro": "gyroscope", "mag": "magnetometer"}


def imu_channels(
    sensors: dict[str, str],
    placement: str,
    prefix: str = "",
    ranges: dict[str, float] | None = None,
    label: str = "",
) -> tuple[ChannelSpec, ...]:
    """x/y/z channels for each sensor kind in ``sensors`` (kind → unit), named ``{prefix}{axis}_{kind}``
    and described as ``"{label} {axis}-axis {sensor word}"``.

    Example: ``imu_channels({"acc": "g"}, "wrist")`` → ``x_acc``, ``y_acc``, ``z_acc``.
    """
    ranges = ranges or {}
    where = f"{label} " if label else ""
    out = []
    for kind, unit in sensors.items():
        for ax in _AXES:
            out.append(
                ChannelSpec(
                    name=f"{prefix}{ax}_{kind}",
                    description=f"{where}{ax}-axis {_SENSOR_WORD[kind]}",
                    sensor=kind,  # type: ignore[arg-type]
                    axis=ax,
                    placement=placement,
                    unit=unit,
                    sensor_range=ranges.get(kind),
                )
            )
    return tuple(out)


def classes(names: list[str], ids: list[int] | None = None) -> tuple[ClassSpec, ...]:
    ids = ids if ids is not None else list(range(1, len(names) + 1))
    return tuple(ClassSpec(raw_id=i, name=n) for i, n in zip(ids, names, strict=True))


@register_dataset("usc-had")
def usc_had_spec() -> DatasetSpec:
    return DatasetSpec(
        name="usc-had",
        title="USC-HAD (USC Human Activity Dataset)",
        channels=imu_channels({"acc": "g", "gyro": "deg/s"}, "front right hip", ranges={"acc": 6.0, "gyro": 500.0}),
        rate_hz=100,
        raw_rate_hz=100,
        classes=classes([
            "Walking Forward", "Walking Left", "Walking Right", "Walking Upstairs", "Walking Downstairs",
            "Running Forward", "Jumping Up", "Sitting", "Standing", "Sleeping", "Elevator Up", "Elevator Down",
        ]),
        window=200,
        stride=100,
        stage1_window=(5, 200),
        test_subjects=("13", "14"),
        loader=usc_had.load,
        raw_layout="Subject{1..14}/a{1..12}t{1..5}.mat with `sensor_readings` (N x 6: acc xyz g, gyro xyz dps)",
        download="https://sipi.usc.edu/had/",
        citation="M. Zhang, A. A. Sawchuk. USC-HAD: A Daily Activity Dataset for Ubiquitous Activity "
        "Recognition Using Wearable Sensors. UbiComp 2012.",
    )


@register_dataset("uci-har")
def uci_har_spec() -> DatasetSpec:
    return DatasetSpec(
        name="uci-har",
        title="UCI-HAR (Human Activity Recognition Using Smartphones)",
        channels=imu_channels({"acc": "g", "gyro": "rad/s"}, "waist", ranges={"acc": 2.0}),
        rate_hz=50,
        raw_rate_hz=50,
        classes=classes(["Walking", "Walking upstairs", "Walking downstairs", "Sitting", "Standing", "Laying"]),
        window=128,
        stride=64,
        stage1_window=(5, 200),
        test_subjects=("2", "4", "9", "10", "12", "13", "18", "20", "24"),
        loader=uci_har.load,
        raw_layout="UCI HAPT RawData/acc_expEE_userUU.txt[.gz], gyro_expEE_userUU.txt[.gz], labels.txt; "
        "or the official UCI-HAR dataset folder with train|test/Inertial Signals",
        download="https://archive.ics.uci.edu/dataset/341 (HAPT raw) or https://archive.ics.uci.edu/dataset/240",
        citation="J.L. Reyes-Ortiz et al. Transition-Aware Human Activity Recognition Using Smartphones. "
        "Neurocomputing 171, 2016; D. Anguita et al. ESANN 2013.",
        notes="Labels 1-6 only (postural transitions 7-12 are excluded).",
    )


@register_dataset("mhealth")
def mhealth_spec() -> DatasetSpec:
    chans = (
        imu_channels({"acc": "m/s^2"}, "chest", "chest_", {"acc": 6 * G}, "chest")
        + imu_channels({"acc": "m/s^2", "gyro": "deg/s"}, "left ankle", "la_", {"acc": 6 * G}, "left-ankle")
        + imu_channels(
            {"acc": "m/s^2", "gyro": "deg/s"}, "right lower arm", "rla_", {"acc": 6 * G}, "right-lower-arm"
        )
    )
    return DatasetSpec(
        name="mhealth",
        title="MHEALTH (Mobile Health)",
        channels=chans,
        rate_hz=50,
        raw_rate_hz=50,
        classes=classes([
            "Standing still", "Sitting and relaxing", "Lying down", "Walking", "Climbing stairs",
            "Waist bends forward", "Frontal elevation of arms", "Knees bending (crouching)", "Cycling",
            "Jogging", "Running", "Jump front & back",
        ]),
        window=100,
        stride=50,
        stage1_window=(5, 100),
        test_subjects=("1", "3", "6"),
        loader=mhealth.load,
        raw_layout="mHealth_subject{1..10}.log (24 tab-separated columns, label last; 0 = null class)",
        download="https://archive.ics.uci.edu/dataset/319",
        citation="O. Banos et al. mHealthDroid: a novel framework for agile development of mobile health "
        "applications. IWAAL 2014.",
        tail_window=True,
        stage1_train_passes=2,
    )


@register_dataset("pamap2")
def pamap2_spec() -> DatasetSpec:
    units = {"acc": "m/s^2", "gyro": "rad/s", "mag": "uT"}
    rng = {"acc": 16 * G}
    return DatasetSpec(
        name="pamap2",
        title="PAMAP2 Physical Activity Monitoring",
        channels=imu_channels(units, "hand", "hand_", rng, "hand")
        + imu_channels(units, "chest", "chest_", rng, "chest")
        + imu_channels(units, "ankle", "ankle_", rng, "ankle"),
        rate_hz=50,
        raw_rate_hz=100,
        classes=classes(
            ["Lying", "Sitting", "Standing", "Walking", "Running", "Cycling", "Nordic walking",
             "Ascending stairs", "Descending stairs", "Vacuum cleaning", "Ironing", "Rope jumping"],
            [1, 2, 3, 4, 5, 6, 7, 12, 13, 16, 17, 24],
        ),
        window=100,
        stride=50,
        stage1_window=(5, 100),
        test_subjects=("105", "106"),
        loader=pamap2.load,
        raw_layout="Protocol/subject10{1..9}.dat (54 space-separated columns; activity 0 = transient)",
        download="https://archive.ics.uci.edu/dataset/231",
        citation="A. Reiss, D. Stricker. Introducing a New Benchmarked Dataset for Activity Monitoring. "
        "ISWC 2012.",
        notes="Uses the +-16 g accelerometer; 100 Hz resampled to 50 Hz (polyphase, anti-aliased).",
    )


@register_dataset("capture24")
def capture24_spec() -> DatasetSpec:
    return DatasetSpec(
        name="capture24",
        title="CAPTURE-24 (free-living wrist accelerometry)",
        channels=imu_channels({"acc": "g"}, "wrist", ranges={"acc": 8.0}),
        rate_hz=50,
        raw_rate_hz=100,
        classes=classes(capture24.CLASSES),
        window=500,
        stride=250,
        stage1_window=(10, 500),
        test_subjects=tuple(f"P{i:03d}" for i in range(101, 152)),
        train_subjects=tuple(f"P{i:03d}" for i in range(1, 101)),
        loader=capture24.load,
        raw_layout="P{001..151}.csv.gz (time,x,y,z,annotation) + annotation-label-dictionary.csv "
        "(column label:WillettsSpecific2018)",
        download="https://ora.ox.ac.uk/objects/uuid:99d7c092-d865-4a19-b096-cc16440cd001",
        citation="S. Chan et al. CAPTURE-24: A large dataset of wrist-worn activity tracker data collected "
        "in the wild for human activity recognition. Scientific Data 11, 2024.",
        window_fraction=0.05,
        notes="The paper keeps a random 5 % of windows per participant (seeded here).",
    )


@register_dataset("basicmotions")
def basicmotions_spec() -> DatasetSpec:
    return DatasetSpec(
        name="basicmotions",
        title="UEA BasicMotions (smartwatch)",
        channels=imu_channels({"acc": "a.u.", "gyro": "a.u."}, "wrist"),
        rate_hz=10,
        raw_rate_hz=10,
        classes=classes(["Standing", "Running", "Walking", "Badminton"]),
        window=100,
        stride=100,
        stage1_window=(5, 100),
        test_subjects=(),
        loader=uea.load,
        raw_layout="BasicMotions_TRAIN.ts, BasicMotions_TEST.ts (sktime/aeon .ts format)",
        download="https://www.timeseriesclassification.com/description.php?Dataset=BasicMotions",
        citation="A. Bagnall et al. The UEA multivariate time series classification archive, 2018. "
        "arXiv:1811.00075.",
        notes="No subject ids: the archive's TRAIN/TEST files fix the split; validation cases are drawn "
        "from TRAIN.",
    )


@register_dataset("epilepsy")
def epilepsy_spec() -> DatasetSpec:
    return DatasetSpec(
        name="epilepsy",
        title="UEA Epilepsy (wrist accelerometer)",
        channels=imu_channels({"acc": "a.u."}, "dominant wrist"),
        rate_hz=16,
        raw_rate_hz=16,
        classes=classes(["Epilepsy", "Walking", "Running", "Sawing"]),
        window=206,
        stride=206,
        stage1_window=(5, 206),
        test_subjects=(),
        loader=uea.load,
        raw_layout="Epilepsy_TRAIN.ts, Epilepsy_TEST.ts (sktime/aeon .ts format)",
        download="https://www.timeseriesclassification.com/description.php?Dataset=Epilepsy",
        citation="J.R. Villar et al. Int J Neural Syst 26(6), 2016; Bagnall et al. 2018, arXiv:1811.00075.",
        notes="No subject ids: the archive's TRAIN/TEST files fix the split.",
    )
