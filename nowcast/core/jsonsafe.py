"""One converter to plain JSON types, for Zarr attributes and the files nowcast writes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

JSON_SCALARS = (str, int, float, bool, type(None))


def json_safe(value: Any) -> Any:
    """`value` as JSON types: numpy scalars and arrays as Python, tuples as lists, keys as
    strings, anything else JSON lacks (paths, times) as its `str`."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return json_safe(value.item())
    return value if isinstance(value, JSON_SCALARS) else str(value)
