"""Persistence, pysteps extrapolation and S-PROG on fields whose answer is known, and the
extrapolation equal to pysteps' own example nowcast on a real MeteoSwiss day."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import shared_data_path

from nowcast.core.errors import ConfigError
from nowcast.models.baselines import extrapolation, get_baseline, persistence, sprog
from nowcast.models.motion import MotionSpace, from_dbr, to_dbr

PLAIN = MotionSpace()  # values as they are (not rain)
RAIN_MM_5MIN = MotionSpace("mm", pd.Timedelta("5min"))


def moving_block(frames: int, shift: int, value: float = 1.0) -> np.ndarray:
    """A bright block moving `shift` pixels right per frame on a 64x64 dark field."""
    field = np.zeros((frames, 64, 64), dtype=np.float32)
    for t in range(frames):
        field[t, 20:34, 8 + shift * t : 22 + shift * t] = value
    return field


def test_persistence_repeats_the_last_frame() -> None:
    history = moving_block(3, 2)
    forecast = persistence(history, 4, PLAIN)
    assert forecast.shape == (4, 64, 64)
    assert np.array_equal(forecast[3], history[-1])


@pytest.mark.parametrize("space", [PLAIN, RAIN_MM_5MIN])
def test_extrapolation_follows_the_motion(space: MotionSpace) -> None:
    truth = moving_block(7, 3)
    forecast = extrapolation(truth[:3], 4, space)
    assert forecast.shape == (4, 64, 64)
    assert np.isfinite(forecast).all()
    error_extrapolation = np.abs(forecast - truth[3:]).mean()
    error_persistence = np.abs(persistence(truth[:3], 4, space) - truth[3:]).mean()
    assert error_extrapolation < 0.5 * error_persistence
    centre_column = np.argmax(forecast[0].sum(axis=0) > 7)
    assert abs(centre_column - (8 + 3 * 3)) <= 1


def test_extrapolation_keeps_no_data_as_nan() -> None:
    truth = moving_block(3, 2) + 200.0
    truth[:, :, 50:] = np.nan  # a fixed domain edge
    forecast = extrapolation(truth, 2, PLAIN)
    assert np.isnan(forecast[:, :, 52:]).all()
    assert np.nanmin(forecast) >= 199.0  # no-data never became 0


def test_dbr_round_trip_keeps_rain_and_zeroes_below_the_threshold() -> None:
    rate = np.array([0.0, 0.05, 0.2, 1.0, 50.0, np.nan])
    dbr = to_dbr(rate)
    np.testing.assert_allclose(
        dbr[:5], [-15.0, -15.0, 10 * np.log10(0.2), 0.0, 10 * np.log10(50.0)]
    )
    back = from_dbr(dbr)
    np.testing.assert_allclose(back[:5], [0.0, 0.0, 0.2, 1.0, 50.0], rtol=1e-9)
    assert np.isnan(back[5])


def test_sprog_moves_the_rain_and_smooths_it() -> None:
    truth = moving_block(7, 3, value=2.0)  # 2 mm per 5 min = 24 mm/h
    forecast = sprog(truth[:3], 4, RAIN_MM_5MIN)
    assert forecast.shape == (4, 64, 64)
    assert np.isfinite(forecast).all()
    error_sprog = np.abs(forecast - truth[3:]).mean()
    error_persistence = np.abs(persistence(truth[:3], 4, RAIN_MM_5MIN) - truth[3:]).mean()
    assert error_sprog < error_persistence
    assert forecast.min() >= 0.0


def test_sprog_refuses_too_short_a_history() -> None:
    with pytest.raises(ConfigError, match="S-PROG needs 3 frames"):
        sprog(moving_block(2, 3), 2, RAIN_MM_5MIN)


def test_sprog_on_a_dry_field_is_dry() -> None:
    dry = np.zeros((3, 64, 64), dtype=np.float32)
    assert not sprog(dry, 3, RAIN_MM_5MIN).any()


def test_unknown_baseline_lists_valid_names() -> None:
    with pytest.raises(ConfigError, match="extrapolation, persistence, sprog"):
        get_baseline("climatology")


def pysteps_example_nowcast(stored_mm: np.ndarray, steps: int) -> np.ndarray:
    """pysteps' documented extrapolation nowcast (its `plot_extrapolation_nowcast` example):
    rain rate, dBR at 0.1 mm/h with -15 as no rain, Lucas-Kanade motion, the extrapolation
    nowcast in dBR, back to rain rate; returned as mm per 5 min like the input."""
    from pysteps import motion, nowcasts
    from pysteps.utils import conversion, transformation

    meta = {"unit": "mm", "accutime": 5.0, "transform": None, "threshold": 0.0, "zerovalue": 0.0}
    rate, meta = conversion.to_rainrate(stored_mm.astype(np.float64), meta)
    dbr, meta = transformation.dB_transform(rate, meta, threshold=0.1, zerovalue=-15.0)
    dbr[~np.isfinite(dbr)] = -15.0
    velocity = motion.get_method("LK")(dbr[-3:])
    forecast = nowcasts.get_method("extrapolation")(dbr[-1], velocity, steps)
    rate_forecast = transformation.dB_transform(forecast, threshold=-10.0, inverse=True)[0]
    return rate_forecast / 12.0


def test_extrapolation_equals_pysteps_example_nowcast_on_a_real_day() -> None:
    from pysteps.io import get_method

    folder = shared_data_path("radar", "mch-20150515")
    files = sorted(folder.glob("AQC*_00005.801.gif"))[20:23]
    importer = get_method("mch_gif", "importer")
    frames = np.stack([importer(str(f), "AQC", "mm", 5)[0] for f in files]).astype(np.float32)
    ours = extrapolation(frames, 6, RAIN_MM_5MIN)
    theirs = pysteps_example_nowcast(frames, 6)
    both = np.isfinite(theirs) & np.isfinite(frames[-1])
    assert both.mean() > 0.5
    assert (theirs[both] > 0.1).sum() > 1000  # a rainy afternoon: the comparison has rain
    np.testing.assert_allclose(ours[both], theirs[both], rtol=1e-4, atol=1e-5)
