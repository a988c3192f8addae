"""The package's floors: no import cycle between its top-level parts (subpackages and top-level modules),
counting every import, including those inside functions."""

import ast
from collections import defaultdict
from pathlib import Path

import sensorllm
from _imports import from_target

SRC = Path(sensorllm.__file__).resolve().parent


def _unit(module: str) -> str | None:
    """``sensorllm.eval.metrics`` → ``eval``; a module outside the package → ``None``."""
    parts = module.split(".")
    if parts[0] != "sensorllm" or len(parts) < 2:
        return None
    return parts[1]


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def import_edges() -> dict[tuple[str, str], list[str]]:
    """(importing part, imported part) → the places (``file:line``) where it happens."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(SRC.rglob("*.py")):
        name = _module_name(path)
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        here = _unit(name)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                targets = [from_target(node, package)]
            for t in targets:
                there = _unit(t)
                if here and there and there != here:
                    edges[(here, there)].append(f"{path.relative_to(SRC.parent)}:{node.lineno}")
    return edges


def find_cycle(edges) -> list[str] | None:
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(u: str) -> list[str] | None:
        state[u] = 1
        stack.append(u)
        for v in sorted(graph[u]):
            if state.get(v) == 1:
                return stack[stack.index(v):] + [v]
            if v not in state:
                found = visit(v)
                if found:
                    return found
        stack.pop()
        state[u] = 2
        return None

    for u in sorted(graph):
        if u not in state:
            found = visit(u)
            if found:
                return found
    return None


def test_no_import_cycle_between_top_level_parts():
    edges = import_edges()
    assert ("train", "eval") in edges  # the graph is read at all (training validates with eval's scorers)
    cycle = find_cycle(edges)
    if cycle:
        where = "; ".join(f"{a} -> {b}: {', '.join(edges[(a, b)][:3])}" for a, b in zip(cycle, cycle[1:]))
        raise AssertionError(f"import cycle {' -> '.join(cycle)} ({where})")


def test_the_cycle_finder_finds_a_function_level_cycle():
    edges = {("eval", "train"): ["x.py:3"], ("train", "eval"): ["y.py:9"], ("cli", "train"): ["z.py:1"]}
    assert find_cycle(edges) in (["eval", "train", "eval"], ["train", "eval", "train"])
    assert find_cycle({("cli", "train"): [], ("train", "eval"): []}) is None


# ---- module level -----------------------------------------------------------------------------------

# The one place a module is imported by a name computed at run time: a baseline's model class, named
# "module:Class" in the registry so that listing baselines stays cheap (sensorllm.baselines.BaselineSpec).
IMPORT_BY_NAME_ALLOWED = {"sensorllm/baselines/__init__.py"}


def module_edges() -> dict[tuple[str, str], list[str]]:
    """(importing module, imported module) → places, for every import between modules of the package (also
    inside functions). ``from package import module`` is an edge to that module; ``from package import
    name`` an edge to the package (its ``__init__``)."""
    modules = {_module_name(p): p for p in SRC.rglob("*.py")}
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for name, path in sorted(modules.items()):
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                target = from_target(node, package)
                submodules = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in modules]
                targets = submodules + ([target] if len(submodules) < len(node.names) else [])
            for t in targets:
                if t in modules and t != name:
                    edges[(name, t)].append(f"{path.relative_to(SRC.parent)}:{node.lineno}")
    return edges


def test_no_import_cycle_between_modules():
    """Also inside a package: a module that needs another's names does not (even lazily) hold a name of its
    own that the other imports."""
    edges = module_edges()
    assert ("sensorllm.model.encoder_conv", "sensorllm.model.encoder") in edges  # the graph is read at all
    cycle = find_cycle(edges)
    if cycle:
        where = "; ".join(f"{a} -> {b}: {', '.join(edges[(a, b)][:3])}" for a, b in zip(cycle, cycle[1:]))
        raise AssertionError(f"import cycle {' -> '.join(cycle)} ({where})")


def test_no_module_is_imported_by_a_name_made_at_run_time():
    """``importlib.import_module`` hides an import from the graph above (and so a cycle): registries are
    filled by plain imports (sensorllm.model.encoders, sensorllm.cli.main's command table)."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).as_posix()
        if rel in IMPORT_BY_NAME_ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name)):
                called = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
                if called in ("import_module", "__import__"):
                    found.append(f"{rel}:{node.lineno}")
    assert not found, f"run-time imports: {', '.join(found)}"


def test_the_encoder_kinds_are_registered_by_importing_the_base_module_alone():
    """Python runs sensorllm.model's __init__ (which imports sensorllm.model.encoders) before the base module,
    so a program that only imports the base module sees every built-in kind."""
    import subprocess
    import sys

    code = ("from sensorllm.model.encoder import EncoderConfig, list_encoders; "
            "from sensorllm.model.encoders import BUILTIN_ENCODERS; "
            "assert set(BUILTIN_ENCODERS) <= set(list_encoders()), list_encoders(); "
            "EncoderConfig(kind='conv', trainable=True); print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr


def test_telling_a_model_directory_apart_imports_no_torch():
    """``sensorllm.infer.artifact`` checks ``--model`` from JSON before any weights load; it takes the
    checkpoint format's names from ``sensorllm.checkpoint_format`` (the one definition ``sensorllm.model``
    writes with), not from the torch-importing ``sensorllm.model.checkpoint``."""
    import subprocess
    import sys

    code = ("import sys, sensorllm.infer.artifact as m, sensorllm.checkpoint_format as f; "
            "assert m.CHECKPOINT_FORMAT is f.CHECKPOINT_FORMAT; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr
    from sensorllm.model import checkpoint

    assert checkpoint.CHECKPOINT_FORMAT == "sensorllm-delta" and checkpoint.WEIGHTS_FILE == "weights.safetensors"
