"""Value transforms between a physical variable and the model's [0, 1] scale, and back.

The archive stores physical values; the transform is metadata recorded with every group
(attribute `transform`, a JSON string) and applied on the way into the model (training,
forecasting) and back out: `from_attrs(attrs).to_physical(values)`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, model_validator

ATTR = "transform"


class Transform(BaseModel):
    """Physical -> model scale: `linear` (optionally inverted), `log10` or `identity`.

    - linear: m = (v - vmin) / (vmax - vmin), or (vmax - v) / (vmax - vmin) when `invert`;
      e.g. brightness temperature 170-300 K -> [0, 1] with cold cloud tops near 1.
    - log10: m = log10(v / vmin) / log10(vmax / vmin); values below `vmin` (no rain) map to 0
      and back to `zero`; e.g. rain rate 0.1-100 mm/h.
    - identity: values are stored as they are.
    Model values are clipped to [0, 1] except for `identity`, so `to_physical` never leaves
    `physical_range`. Missing physical values stay NaN (no-data, masked out of losses and
    scores) unless `fill` is set: an explicit choice to treat them as that physical value
    when they enter the model (the archive keeps them NaN either way).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["linear", "log10", "identity"] = "linear"
    vmin: float = 0.0
    vmax: float = 1.0
    invert: bool = False
    zero: float = 0.0
    fill: float | None = None

    @model_validator(mode="after")
    def _check_range(self) -> Transform:
        """Reject empty ranges and log scales that start at or below zero."""
        if self.kind != "identity" and not self.vmax > self.vmin:
            raise ValueError(f"vmax ({self.vmax}) must be greater than vmin ({self.vmin})")
        if self.kind == "log10" and self.vmin <= 0:
            raise ValueError(f"log10 needs vmin > 0, got {self.vmin}")
        return self

    def to_model(self, physical: np.ndarray) -> np.ndarray:
        """Physical values -> float32 model scale (NaN kept unless `fill` is set)."""
        values = np.asarray(physical, dtype=np.float32)
        if self.fill is not None:
            values = np.where(np.isnan(values), np.float32(self.fill), values)
        if self.kind == "identity":
            return values
        if self.kind == "linear":
            span = np.float32(self.vmax - self.vmin)
            scaled = (self.vmax - values) / span if self.invert else (values - self.vmin) / span
        else:
            ratio = np.maximum(values, np.float32(self.vmin)) / np.float32(self.vmin)
            scaled = np.log10(ratio) / np.float32(np.log10(self.vmax / self.vmin))
        return np.clip(scaled, 0.0, 1.0).astype(np.float32, copy=False)

    @property
    def physical_range(self) -> tuple[float, float] | None:
        """The physical values the model scale can express (None for `identity`)."""
        if self.kind == "identity":
            return None
        if self.kind == "log10":
            return (min(self.zero, self.vmin), self.vmax)
        return (self.vmin, self.vmax)

    def clip(self, physical: np.ndarray) -> np.ndarray:
        """Physical values clipped to `physical_range` (NaN kept), float32."""
        values = np.asarray(physical, dtype=np.float32)
        bounds = self.physical_range
        if bounds is None:
            return values
        return np.clip(values, np.float32(bounds[0]), np.float32(bounds[1]))

    def to_physical(self, model: np.ndarray) -> np.ndarray:
        """Model-scale values (clipped to [0, 1] first) -> physical units (float32)."""
        values = np.asarray(model, dtype=np.float32)
        if self.kind == "identity":
            return values
        values = np.clip(values, np.float32(0), np.float32(1))
        if self.kind == "linear":
            span = np.float32(self.vmax - self.vmin)
            out = self.vmax - values * span if self.invert else self.vmin + values * span
            return out.astype(np.float32, copy=False)
        out = self.vmin * np.power(np.float32(self.vmax / self.vmin), values)
        return np.where(values <= 0, np.float32(self.zero), out).astype(np.float32, copy=False)

    def to_attrs(self) -> dict[str, str]:
        """The attribute that records this transform on a DataArray or Zarr variable."""
        return {ATTR: json.dumps(self.model_dump(), sort_keys=True)}


def from_attrs(attrs: Mapping[str, Any]) -> Transform:
    """The transform recorded in `attrs` (identity when the frame carries none)."""
    raw = attrs.get(ATTR)
    if raw is None:
        return Transform(kind="identity")
    return Transform.model_validate(json.loads(raw) if isinstance(raw, str) else raw)
