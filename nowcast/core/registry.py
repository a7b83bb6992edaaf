"""Named plug-ins of one kind. Readers, sources, baselines, architectures and training budgets
are each one `Registry`: registered by name, looked up with `get`, and an unknown name is one
error listing the valid ones (pysteps' `get_method` is the model)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Generic, TypeVar

from nowcast.core.errors import ConfigError

T = TypeVar("T")


class UnknownNameError(ConfigError):
    """A name no plug-in of the kind has; the message lists the valid names (exit 2)."""


class Registry(Generic[T]):
    """The plug-ins of one `kind` by name. An entry given as `"module:attribute"` is imported
    on first use, so a heavy library loads only when its plug-in is asked for."""

    def __init__(self, kind: str, entries: dict[str, T | str] | None = None) -> None:
        self.kind = kind
        self._entries: dict[str, T | str] = dict(entries or {})

    def register(self, name: str, entry: T | str) -> None:
        """Make `name` usable (a later registration under the same name replaces it)."""
        self._entries[name] = entry

    def unregister(self, name: str) -> None:
        """Remove `name` (a plug-in that is no longer wanted); UnknownNameError if absent."""
        self._require(name)
        del self._entries[name]

    def get(self, name: str) -> T:
        """The plug-in called `name`; UnknownNameError listing the valid names otherwise."""
        self._require(name)
        entry = self._entries[name]
        if isinstance(entry, str):
            module, _, attribute = entry.partition(":")
            entry = getattr(importlib.import_module(module), attribute)
            self._entries[name] = entry
        return entry

    def _require(self, name: str) -> None:
        """UnknownNameError, listing the valid names, unless `name` is registered."""
        if name not in self._entries:
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; valid: {', '.join(self.names())}"
            )

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        return sorted(self._entries)

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
