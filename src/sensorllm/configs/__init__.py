"""Training configurations shipped inside the package, found wherever it is installed (importlib.resources)::

    recommended/  stage1.yaml  stage2.yaml  stage1-describe.yaml   the recommended CPU configuration
    demo/         stage1.yaml  stage2.yaml                         sensorllm demo: the same, minutes long

They name no dataset: the channels, rate, window and classes come from the prepared dataset, and the keys that
are paths (:data:`PATH_KEYS`: ``data.prepared``, ``run.out_dir``, ``init_from``) from the command that runs
them (``--data``, ``--out``, ``--init-from``; ``sensorllm compare`` and ``sensorllm demo`` set them itself).

``--config`` of ``sensorllm align`` / ``tune`` takes a YAML file, a folder with ``stage1.yaml`` and
``stage2.yaml``, or a packaged name (:func:`stage_config`); ``--sensorllm-config`` of ``sensorllm compare`` a
folder or a packaged name (:func:`config_folder`). A path that exists wins over a packaged name.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import yaml

__all__ = ["DEFAULT", "PATH_KEYS", "packaged_names", "packaged_dir", "config_folder", "stage_config",
           "sets_key"]

DEFAULT = "recommended"  # what align, tune and compare use when no configuration is given
PATH_KEYS = ("data.prepared", "run.out_dir", "init_from")  # what a packaged configuration leaves to the command


def _root() -> Path:
    root = files(__name__)
    if not isinstance(root, Path):  # e.g. imported from a zip archive: the YAML files are not on disk
        raise FileNotFoundError(f"the packaged configurations are not files on disk ({root}); install sensorllm "
                                "into a folder (pip install) to use them")
    return root


def packaged_names() -> list[str]:
    """Every packaged name: the folders (``recommended``, ``demo``) and their extra files
    (``recommended/stage1-describe``)."""
    names = []
    for d in sorted(p for p in _root().iterdir() if p.is_dir() and (p / "stage1.yaml").is_file()):
        names.append(d.name)
        names += [f"{d.name}/{f.stem}" for f in sorted(d.glob("*.yaml")) if f.stem not in ("stage1", "stage2")]
    return names


def packaged_dir(name: str) -> Path:
    """The folder of the packaged configuration ``name`` (``recommended``, ``demo``)."""
    d = _root() / name
    if "/" in name or not (d / "stage1.yaml").is_file():
        raise FileNotFoundError(f"no packaged configuration {name!r}; packaged: "
                                f"{', '.join(n for n in packaged_names() if '/' not in n)}")
    return d


def config_folder(spec: str | Path) -> Path:
    """A folder with ``stage1.yaml`` and ``stage2.yaml``: ``spec`` itself when it is a folder, else the packaged
    configuration of that name."""
    p = Path(spec)
    if p.is_dir():
        return p
    if p.exists():
        raise FileNotFoundError(f"{p} is a file; give a folder with stage1.yaml and stage2.yaml or a packaged "
                                f"name ({', '.join(n for n in packaged_names() if '/' not in n)})")
    if str(spec) not in packaged_names():
        raise FileNotFoundError(f"{spec} is neither a folder nor a packaged configuration (packaged: "
                                f"{', '.join(n for n in packaged_names() if '/' not in n)})")
    return packaged_dir(str(spec))


def stage_config(spec: str | Path | None, stage: int) -> Path:
    """The YAML file of Stage ``stage`` (1 or 2) that ``--config spec`` names: a file; a folder (its
    ``stage<N>.yaml``); a packaged folder name (``recommended``: its ``stage<N>.yaml``) or packaged file
    (``recommended/stage1-describe``); None: :data:`DEFAULT`."""
    p = Path(spec if spec is not None else DEFAULT)
    if p.is_file():
        return p
    if p.is_dir():
        f = p / f"stage{stage}.yaml"
        if not f.is_file():
            raise FileNotFoundError(f"{p} has no stage{stage}.yaml")
        return f
    name = str(spec if spec is not None else DEFAULT)
    if name not in packaged_names():
        raise FileNotFoundError(f"config {name} not found: give a YAML file, a folder with stage{stage}.yaml or "
                                f"a packaged name ({', '.join(packaged_names())})")
    folder, _, file = name.partition("/")
    return packaged_dir(folder) / f"{file or f'stage{stage}'}.yaml"


def sets_key(path: str | Path, key: str) -> bool:
    """Whether the YAML file ``path`` sets the dotted ``key`` (to anything but null)."""
    node = yaml.safe_load(Path(path).read_text()) or {}
    for part in key.split("."):
        if not isinstance(node, dict) or node.get(part) is None:
            return False
        node = node[part]
    return True
