"""Every name a benchmark script imports still exists, so that a refactor of the package (or of a helper
script beside them) cannot silently break a benchmark that no test runs.

The scripts are read with ``ast``, not run: every ``from sensorllm.X import a, b`` and ``import sensorllm.X``
(at the top or inside a function) must import and have each name; ``from _common import a`` and
``results.name`` (a sibling script imported as a module) must name something the sibling defines at its top
level; and ``<model>.prompts.<name>`` must be a method of ``PromptBuilder``.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(BENCHMARKS.glob("*.py"))
SIBLINGS = {p.stem for p in SCRIPTS}


def _package_imports(tree: ast.AST) -> list[tuple[int, str, list[str]]]:
    """``(line, module, names)`` of every import of the package in ``tree`` (``names`` empty for
    ``import M``)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.split(".")[0] == "sensorllm":
            found.append((node.lineno, node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name, []) for a in node.names if a.name.split(".")[0] == "sensorllm"]
    return found


def _has(module, module_name: str, name: str) -> bool:
    """``from module_name import name`` works: an attribute, or a submodule not imported yet."""
    if name == "*" or hasattr(module, name):
        return True
    try:
        importlib.import_module(f"{module_name}.{name}")
    except ModuleNotFoundError:
        return False
    return True


def _top_level_names(path: Path) -> set[str]:
    """What a script defines at its top level (functions, classes, assignments, imports)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def _sibling_uses(tree: ast.AST) -> list[tuple[int, str, str]]:
    """``(line, sibling, name)``: ``from sibling import name``; ``sibling.name`` after ``import sibling``."""
    aliases: dict[str, str] = {}
    uses = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in SIBLINGS:
            uses += [(node.lineno, node.module, a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            aliases |= {a.asname or a.name: a.name for a in node.names if a.name in SIBLINGS}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            uses.append((node.lineno, aliases[node.value.id], node.attr))
    return uses


def test_every_benchmark_script_is_checked():
    assert len(SCRIPTS) > 10 and any(_package_imports(ast.parse(p.read_text())) for p in SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_benchmark_package_imports_resolve(script: Path):
    missing = []
    for line, module_name, names in _package_imports(ast.parse(script.read_text())):
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            missing.append(f"{script.name}:{line}: {module_name} ({exc})")
            continue
        missing += [f"{script.name}:{line}: {module_name}.{n}" for n in names
                    if not _has(module, module_name, n)]
    assert not missing, "benchmark imports that no longer resolve:\n" + "\n".join(missing)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_benchmark_sibling_names_exist(script: Path):
    defined = {name: _top_level_names(BENCHMARKS / f"{name}.py") for name in SIBLINGS}
    missing = [f"{script.name}:{line}: {sibling}.{name}"
               for line, sibling, name in _sibling_uses(ast.parse(script.read_text()))
               if name not in defined[sibling]]
    assert not missing, "names of sibling scripts that no longer exist:\n" + "\n".join(missing)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_benchmark_prompt_builder_calls_exist(script: Path):
    """``<model>.prompts.<name>``: a method of the model's PromptBuilder (the collator, for one, is
    ``sensorllm.data.collate``, not ``model.prompts.collate``)."""
    from sensorllm.model.prompts import PromptBuilder

    missing = [f"{script.name}:{node.lineno}: .prompts.{node.attr}"
               for node in ast.walk(ast.parse(script.read_text()))
               if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
               and node.value.attr == "prompts" and not hasattr(PromptBuilder, node.attr)]
    assert not missing, "PromptBuilder has no:\n" + "\n".join(missing)
