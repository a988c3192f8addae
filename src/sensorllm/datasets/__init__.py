"""Datasets: specs, registry, raw loaders, windowing and prepared-data access."""

from . import builtin  # noqa: F401  (registers the built-in datasets with the registry)
from .prepared import PreparedDataset, open_prepared
from .registry import get_dataset_spec, list_datasets, register_dataset
from .spec import ChannelSpec, ClassSpec, DataError, DatasetSpec, Recording

__all__ = [
    "ChannelSpec",
    "ClassSpec",
    "DataError",
    "DatasetSpec",
    "PreparedDataset",
    "Recording",
    "get_dataset_spec",
    "list_datasets",
    "open_prepared",
    "register_dataset",
]
