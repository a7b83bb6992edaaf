"""The model's value space: what its [0, 1] values mean, recorded with every checkpoint.

Rain models work in rain rate (mm/h) on one log scale, whatever each radar stores (mm per
cadence, mm/h, dBZ), so pipelines train together and a checkpoint forecasts for any of them.
Other models (brightness temperature) work on a transform of the stored values themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nowcast.core import ConfigError
from nowcast.store import (
    CADENCE,
    RAIN_RATE_SCALE,
    RAIN_RATE_UNITS,
    Archive,
    Transform,
    from_attrs,
    from_rain_rate,
    is_rain,
    to_rain_rate,
)


@dataclass(frozen=True)
class StoredValues:
    """What an archive group's values are: their transform, units and cadence (the period
    an accumulation in mm covers)."""

    transform: Transform
    units: str
    cadence: pd.Timedelta


@dataclass(frozen=True)
class ModelSpace:
    """`transform` of rain rate (`units` = mm/h), or of the stored values as they are (None)."""

    transform: Transform
    units: str | None = None

    def to_model(self, values: np.ndarray, stored: StoredValues) -> np.ndarray:
        """Stored values -> model scale (NaN kept)."""
        if self.units is not None:
            values = to_rain_rate(values, stored.units, stored.cadence)
        return self.transform.to_model(values)

    def to_stored(self, model: np.ndarray, stored: StoredValues) -> np.ndarray:
        """Model-scale values -> the stored units, within the stored transform's range."""
        values = self.transform.to_physical(model)
        if self.units is not None:
            values = from_rain_rate(values, stored.units, stored.cadence)
        return stored.transform.clip(values)

    def reader(self, stored: StoredValues) -> Callable[[np.ndarray], np.ndarray]:
        """`to_model` for one group's values."""
        return lambda values: self.to_model(values, stored)

    def record(self) -> dict[str, Any]:
        """The checkpoint's `normalisation` entry."""
        record: dict[str, Any] = {"transform": self.transform.model_dump()}
        if self.units is not None:
            record["units"] = self.units
        return record


def stored_values(archive: Archive, group: str) -> StoredValues:
    """What the values of an archive group are, from its attributes and cadence."""
    return described_values(archive.frame_rows(group).attrs, archive.cadence(group))


def described_values(attrs: Mapping[str, Any], cadence: pd.Timedelta) -> StoredValues:
    """What frames with these attributes hold; `cadence` unless the attributes record one."""
    if CADENCE in attrs:
        cadence = pd.Timedelta(seconds=float(attrs[CADENCE]))
    return StoredValues(from_attrs(attrs), str(attrs.get("units", "")), cadence)


RAIN_SPACE = ModelSpace(RAIN_RATE_SCALE, RAIN_RATE_UNITS)


def recorded_space(normalisation: dict[str, Any]) -> ModelSpace | None:
    """The space a checkpoint recorded (None when it recorded none: use the archive's own)."""
    if "transform" not in normalisation:
        return None
    return ModelSpace(
        Transform.model_validate(normalisation["transform"]), normalisation.get("units")
    )


def training_space(groups: Sequence[str], stored: Sequence[StoredValues]) -> ModelSpace:
    """Rain rate when every group holds rain; else the one transform all groups share."""
    if all(is_rain(values.units) for values in stored):
        return RAIN_SPACE
    first = stored[0]
    for group, values in zip(groups, stored, strict=True):
        if (values.units, values.transform) != (first.units, first.transform):
            raise ConfigError(
                f"pipelines to train together must hold rain (mm, mm/h or dBZ) or the same "
                f"variable on the same [transform]: {groups[0]} holds {first.units!r}, "
                f"{group} {values.units!r}"
            )
    return ModelSpace(first.transform)


def check_space(space: ModelSpace, groups: Sequence[str], stored: Sequence[StoredValues]) -> None:
    """Refuse groups a (fine-tuned parent's) space cannot read as one quantity."""
    if space.units is not None:
        for group, values in zip(groups, stored, strict=True):
            if not is_rain(values.units):
                raise ConfigError(
                    f"the model works in rain rate but {group} holds {values.units!r}"
                )
        return
    meanings = {(values.units, values.cadence) for values in stored}
    if len(meanings) > 1:
        raise ConfigError(
            f"the model reads stored values as they are, but {', '.join(groups)} store "
            "different units or accumulation periods; train a new model to mix them"
        )
