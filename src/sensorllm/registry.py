"""One name-keyed registry type for everything that varies (datasets, encoders, series tokenisers, LLM
aliases, baselines): duplicates are refused and unknown names raise with the list of known ones."""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """``kind`` names what is registered (used in messages); ``error`` is raised for unknown names.

    Names are normalised with ``normalise`` (default: unchanged) on registration and lookup.
    """

    def __init__(self, kind: str, error: type[Exception] = KeyError,
                 normalise: Callable[[str], str] = lambda s: s) -> None:
        self.kind, self.error, self.normalise = kind, error, normalise
        self._items: dict[str, T] = {}

    def add(self, name: str, obj: T) -> T:
        key = self.normalise(name)
        if key in self._items:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._items[key] = obj
        return obj

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""
        return lambda obj: self.add(name, obj)

    def get(self, name: str) -> T:
        key = self.normalise(name)
        if key not in self._items:
            raise self.error(f"Unknown {self.kind} {name!r}. Known: {', '.join(self.names())}")
        return self._items[key]

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.normalise(name) in self._items
