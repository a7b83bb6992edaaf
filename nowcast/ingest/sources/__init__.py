"""Sources: where a pipeline's bytes come from. `get_source(kind)` picks one by name.

Adding a source is one module with a class that follows `base.Source` (constructed as
`cls(options, cadence, start)`, with an `options_model` class attribute), plus one line below.
"""

from __future__ import annotations

import importlib

from nowcast.core import ConfigError
from nowcast.ingest.sources.base import (
    BadInput,
    Candidate,
    Fetched,
    NotPublished,
    Source,
    SourceOptions,
    SourceUnavailable,
)

# source kind -> "module:class"
_SOURCES: dict[str, str] = {
    "directory": "nowcast.ingest.sources.directory:DirectorySource",
    "himawari": "nowcast.ingest.sources.himawari:HimawariSource",
    "http": "nowcast.ingest.sources.http:HttpSource",
    "synthetic": "nowcast.ingest.sources.synthetic:SyntheticSource",
}


def source_kinds() -> list[str]:
    """Every source kind a pipeline may use."""
    return sorted(_SOURCES)


def get_source(kind: str) -> type:
    """The source class for `kind`; ConfigError listing the valid kinds when it is unknown."""
    target = _SOURCES.get(kind)
    if target is None:
        raise ConfigError(f"unknown source kind {kind!r}; valid: {', '.join(source_kinds())}")
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)


__all__ = [
    "BadInput",
    "Candidate",
    "Fetched",
    "NotPublished",
    "Source",
    "SourceOptions",
    "SourceUnavailable",
    "get_source",
    "source_kinds",
]
