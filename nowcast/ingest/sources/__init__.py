"""Sources: where a pipeline's bytes come from. `get_source(kind)` picks one by name.

Adding a source is one module with a class that follows `base.Source` (constructed as
`cls(options, cadence, start)`, with an `options_model` class attribute), plus one line below.
"""

from __future__ import annotations

from nowcast.core import Registry
from nowcast.ingest.sources.base import (
    BadInput,
    Candidate,
    Fetched,
    NotPublished,
    Source,
    SourceOptions,
    SourceUnavailable,
)

# source kind -> "module:class" (imported on first use)
SOURCES: Registry[type] = Registry(
    "source kind",
    {
        "directory": "nowcast.ingest.sources.directory:DirectorySource",
        "himawari": "nowcast.ingest.sources.himawari:HimawariSource",
        "http": "nowcast.ingest.sources.http:HttpSource",
        "synthetic": "nowcast.ingest.sources.synthetic:SyntheticSource",
    },
)


def source_kinds() -> list[str]:
    """Every source kind a pipeline may use."""
    return SOURCES.names()


def get_source(kind: str) -> type:
    """The source class for `kind`; UnknownNameError listing the valid kinds when unknown."""
    return SOURCES.get(kind)


__all__ = [
    "SOURCES",
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
