"""What the import-structure tests share: the module a ``from ... import`` statement reads from."""

from __future__ import annotations

import ast


def from_target(node: ast.ImportFrom, package: str) -> str:
    """The absolute module name of ``from <module> import ...`` written in a module of ``package`` (relative
    imports resolved: one dot is ``package`` itself)."""
    if node.level:
        base = package.split(".")
        base = base[: len(base) - (node.level - 1)]
        return ".".join(base + ([node.module] if node.module else []))
    return node.module or ""
