"""Name-keyed registry of dataset specs (``register_dataset`` / ``get_dataset_spec`` / ``list_datasets``)."""

from __future__ import annotations

from typing import Callable

from .spec import DatasetSpec

__all__ = ["register_dataset", "get_dataset_spec", "list_datasets", "UnknownDatasetError"]

_REGISTRY: dict[str, Callable[[], DatasetSpec]] = {}


class UnknownDatasetError(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0])


def register_dataset(name: str) -> Callable[[Callable[[], DatasetSpec]], Callable[[], DatasetSpec]]:
    """Decorator registering a zero-argument factory that builds the spec. Duplicate names are refused."""

    def deco(factory: Callable[[], DatasetSpec]) -> Callable[[], DatasetSpec]:
        if name in _REGISTRY:
            raise ValueError(f"dataset {name!r} is already registered")
        _REGISTRY[name] = factory
        return factory

    return deco


def _ensure_builtin() -> None:
    from . import builtin  # noqa: F401  (registers the built-in datasets on import)


def list_datasets() -> list[str]:
    """Names of all registered datasets, sorted."""
    _ensure_builtin()
    return sorted(_REGISTRY)


def get_dataset_spec(name: str) -> DatasetSpec:
    """The spec registered under ``name`` (``_`` and ``-`` are interchangeable, case-insensitive)."""
    _ensure_builtin()
    key = name.strip().lower().replace("_", "-")
    if key not in _REGISTRY:
        raise UnknownDatasetError(f"Unknown dataset {name!r}. Known: {', '.join(sorted(_REGISTRY))}")
    spec = _REGISTRY[key]()
    if spec.name != key:
        raise ValueError(f"registered factory {key!r} built a spec named {spec.name!r}")
    return spec
