"""Name-keyed registry of dataset specs (``register_dataset`` / ``get_dataset_spec`` / ``list_datasets``)."""

from __future__ import annotations

from typing import Callable

from sensorllm.registry import Registry

from .spec import DatasetSpec

__all__ = ["register_dataset", "get_dataset_spec", "list_datasets", "UnknownDatasetError"]


class UnknownDatasetError(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0])


def _key(name: str) -> str:
    return name.strip().lower().replace("_", "-")


_DATASETS: Registry[Callable[[], DatasetSpec]] = Registry("dataset", UnknownDatasetError, _key)


def register_dataset(name: str) -> Callable[[Callable[[], DatasetSpec]], Callable[[], DatasetSpec]]:
    """Decorator registering a zero-argument factory that builds the spec. Duplicate names are refused."""
    return _DATASETS.register(name)


def list_datasets() -> list[str]:
    """Names of all registered datasets, sorted."""
    return _DATASETS.names()


def get_dataset_spec(name: str) -> DatasetSpec:
    """The spec registered under ``name`` (``_`` and ``-`` are interchangeable, case-insensitive)."""
    spec = _DATASETS.get(name)()
    if spec.name != _key(name):
        raise ValueError(f"registered factory {_key(name)!r} built a spec named {spec.name!r}")
    return spec
