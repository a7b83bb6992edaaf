"""The model's value space (rain in mm, mm/h or dBZ read as one rain rate, and back) and steps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nowcast.core.errors import ConfigError
from nowcast.core.timeutil import whole_steps
from nowcast.models.space import (
    RAIN_SPACE,
    ModelSpace,
    StoredValues,
    check_space,
    described_values,
    recorded_space,
    training_space,
)
from nowcast.store.rain import RAIN_RATE_SCALE, from_rain_rate, is_rain, to_rain_rate
from nowcast.store.transform import Transform

FIVE = pd.Timedelta("5min")
TEN = pd.Timedelta("10min")
KELVIN = StoredValues(Transform(kind="linear", vmin=170, vmax=300, invert=True), "K", TEN)


def test_accumulation_and_reflectivity_become_rain_rate() -> None:
    assert to_rain_rate(np.array([0.5]), "mm", FIVE)[0] == pytest.approx(6.0)
    assert to_rain_rate(np.array([0.5]), "kg m-2", TEN)[0] == pytest.approx(3.0)
    assert to_rain_rate(np.array([4.0]), "mm h-1", FIVE)[0] == pytest.approx(4.0)
    # Marshall-Palmer: 23 dBZ is about 1 mm/h (Z = 200 R^1.6)
    assert to_rain_rate(np.array([23.0]), "dBZ", FIVE)[0] == pytest.approx(1.0, rel=0.01)
    assert not is_rain("K") and is_rain("DBZ")


@pytest.mark.parametrize(
    ("units", "values"),
    [("mm", [0.0, 0.01, 0.5, 8.0]), ("mm/h", [0.0, 0.3, 12.0]), ("dBZ", [10.0, 23.0, 45.0])],
)
def test_rain_rate_goes_back_to_the_stored_units_with_no_data_kept(
    units: str, values: list[float]
) -> None:
    stored = np.array([*values, np.nan], dtype=np.float32)
    back = from_rain_rate(to_rain_rate(stored, units, FIVE), units, FIVE)
    np.testing.assert_allclose(back[:-1], stored[:-1], rtol=1e-4, atol=1e-6)
    assert np.isnan(back[-1])


def test_unknown_units_are_refused_with_their_name() -> None:
    with pytest.raises(ConfigError, match="'K'"):
        to_rain_rate(np.zeros(2), "K", FIVE)


def test_the_same_rain_rate_is_the_same_model_value_whatever_the_radar_stores() -> None:
    knmi = StoredValues(Transform(kind="log10", vmin=0.01, vmax=10.0), "mm", FIVE)
    bom = StoredValues(Transform(kind="log10", vmin=0.01, vmax=20.0), "mm", TEN)
    fmi = StoredValues(Transform(kind="log10", vmin=0.1, vmax=100.0), "mm h-1", FIVE)
    dbz = StoredValues(Transform(kind="linear", vmin=-10, vmax=60), "dBZ", FIVE)
    space = training_space(["knmi", "bom", "fmi", "dbz"], [knmi, bom, fmi, dbz])
    assert space == RAIN_SPACE
    three_mm_h = {
        "knmi": space.to_model(np.array([0.25]), knmi),  # mm per 5 min
        "bom": space.to_model(np.array([0.5]), bom),  # mm per 10 min
        "fmi": space.to_model(np.array([3.0]), fmi),
        "dbz": space.to_model(np.array([10 * np.log10(200 * 3.0**1.6)]), dbz),
    }
    expected = RAIN_RATE_SCALE.to_model(np.array([3.0]))
    for value in three_mm_h.values():
        np.testing.assert_allclose(value, expected, rtol=1e-5)
    forecast = space.to_stored(expected, knmi)
    np.testing.assert_allclose(forecast, [0.25], rtol=1e-4)


def test_rain_and_brightness_temperature_do_not_train_together() -> None:
    rain = StoredValues(Transform(kind="log10", vmin=0.01, vmax=10.0), "mm", FIVE)
    with pytest.raises(ConfigError, match="'K'"):
        training_space(["radar", "satellite"], [rain, KELVIN])
    assert training_space(["a", "b"], [KELVIN, KELVIN]) == ModelSpace(KELVIN.transform)


def test_a_recorded_space_round_trips_and_old_checkpoints_read_stored_values() -> None:
    assert recorded_space(RAIN_SPACE.record()) == RAIN_SPACE
    old = recorded_space({"transform": KELVIN.transform.model_dump()})
    assert old == ModelSpace(KELVIN.transform) and old.units is None
    assert recorded_space({}) is None


def test_a_stored_value_space_refuses_groups_of_different_meaning() -> None:
    knmi = StoredValues(Transform(kind="log10", vmin=0.01, vmax=10.0), "mm", FIVE)
    bom = StoredValues(knmi.transform, "mm", TEN)
    with pytest.raises(ConfigError, match="accumulation periods"):
        check_space(ModelSpace(knmi.transform), ["knmi", "bom"], [knmi, bom])
    with pytest.raises(ConfigError, match="rain rate"):
        check_space(RAIN_SPACE, ["satellite"], [KELVIN])


def test_frame_attributes_name_their_own_cadence() -> None:
    attrs = {"units": "mm", "cadence_s": 300.0, **RAIN_RATE_SCALE.to_attrs()}
    assert described_values(attrs, TEN).cadence == FIVE
    assert described_values({"units": "mm"}, TEN).cadence == TEN


def test_whole_steps_count_only_exact_multiples_of_at_least_one() -> None:
    assert whole_steps(pd.Timedelta("30min"), TEN) == 3
    assert whole_steps(pd.Timedelta("1h"), pd.Timedelta("1h")) == 1
    assert whole_steps(pd.Timedelta("25min"), TEN) is None
    assert whole_steps(pd.Timedelta("5min"), TEN) is None
