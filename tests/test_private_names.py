"""No module of the package uses a ``_private`` name of another of its modules: what one module needs from
another is public there (in its ``__all__``, with a docstring) or lives where it is used. Checked on the source
with ``ast``: ``from X import _name``, relative or absolute, and ``X._name`` where ``X`` is a module of the
package bound by an import."""

from __future__ import annotations

import ast
from pathlib import Path

import sensorllm
from _imports import from_target

SRC = Path(sensorllm.__file__).resolve().parent


def _module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_uses(source: str, module: str, is_package: bool, root: str = "sensorllm") -> list[str]:
    """``"line: what"`` for each use of another package module's private name in ``source``, the text of
    ``module`` (``is_package``: it is an ``__init__.py``)."""
    package = module if is_package else module.rsplit(".", 1)[0]
    tree = ast.parse(source)
    modules: dict[str, str] = {}  # local name -> package module it is bound to
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            target = from_target(node, package)
            if target.split(".")[0] != root:
                continue
            for alias in node.names:
                if _private(alias.name) and target != module:
                    found.append(f"{node.lineno}: from {target} import {alias.name}")
                modules[alias.asname or alias.name] = f"{target}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] != root:
                    continue
                if any(_private(p) for p in alias.name.split(".")):
                    found.append(f"{node.lineno}: import {alias.name}")
                modules[alias.asname or alias.name.split(".")[0]] = alias.asname and alias.name or root
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            chain = []
            v = node.value
            while isinstance(v, ast.Attribute):
                chain.append(v.attr)
                v = v.value
            if isinstance(v, ast.Name) and v.id in modules:
                owner = ".".join([modules[v.id], *reversed(chain)])
                if owner != module:
                    found.append(f"{node.lineno}: {owner}.{node.attr}")
    return found


def test_no_module_uses_another_modules_private_names():
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        name = _module_name(path, SRC)
        for use in private_uses(path.read_text(), name, path.name == "__init__.py"):
            bad.append(f"{path.relative_to(SRC.parent)}:{use}")
    assert not bad, "private names used across modules (make them public or move them):\n" + "\n".join(bad)


def test_the_checker_sees_each_form():
    src = (
        "from sensorllm.train.state import _flat, save\n"
        "from .stage1 import _pick\n"
        "from . import stage1\n"
        "import sensorllm.eval.textscore as ts\n"
        "import numpy as np\n"
        "x = stage1._pick(1) + ts._default() + np._internal + stage1.__name__\n"
        "y = sensorllm_local._x\n"
    )
    uses = private_uses(src, "sensorllm.text.stage2", is_package=False)
    assert sorted(uses) == [
        "1: from sensorllm.train.state import _flat",
        "2: from sensorllm.text.stage1 import _pick",
        "6: sensorllm.eval.textscore._default",
        "6: sensorllm.text.stage1._pick",
    ]
    assert private_uses("from .. import _helper\n", "sensorllm.model.head", is_package=False) == [
        "1: from sensorllm import _helper"
    ]
    assert private_uses("def _f():\n    return 1\nx = _f()\n", "sensorllm.a", is_package=False) == []
