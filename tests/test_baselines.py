"""Persistence and pysteps extrapolation on fields whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from nowcast.models.baselines import extrapolation, get_baseline, persistence


def moving_block(frames: int, shift: int) -> np.ndarray:
    """A bright block moving `shift` pixels right per frame on a 64x64 dark field."""
    field = np.zeros((frames, 64, 64), dtype=np.float32)
    for t in range(frames):
        field[t, 20:34, 8 + shift * t : 22 + shift * t] = 1.0
    return field


def test_persistence_repeats_the_last_frame() -> None:
    history = moving_block(3, 2)
    forecast = persistence(history, 4)
    assert forecast.shape == (4, 64, 64)
    assert np.array_equal(forecast[3], history[-1])


def test_extrapolation_follows_the_motion() -> None:
    truth = moving_block(7, 3)
    forecast = extrapolation(truth[:3], 4)
    assert forecast.shape == (4, 64, 64)
    assert np.isfinite(forecast).all()
    error_extrapolation = np.abs(forecast - truth[3:]).mean()
    error_persistence = np.abs(persistence(truth[:3], 4) - truth[3:]).mean()
    assert error_extrapolation < 0.5 * error_persistence
    centre_column = np.argmax(forecast[0].sum(axis=0) > 7)
    assert abs(centre_column - (8 + 3 * 3)) <= 1


def test_extrapolation_takes_motion_at_the_native_cadence() -> None:
    truth = moving_block(9, 2)  # 2 px per native step
    forecast = extrapolation(truth[:3], 2, stride=2)  # leads every 2 native steps
    for lead in range(2):
        column = np.argmax(forecast[lead].sum(axis=0) > 7)
        assert column == 8 + 2 * (2 + 2 * (lead + 1))
    every_step = extrapolation(truth[:3], 4)
    np.testing.assert_allclose(forecast, every_step[1::2], atol=1e-4)


def test_extrapolation_keeps_no_data_as_nan() -> None:
    truth = moving_block(3, 2) + 200.0
    truth[:, :, 50:] = np.nan  # a fixed domain edge
    forecast = extrapolation(truth, 2)
    assert np.isnan(forecast[:, :, 52:]).all()
    assert np.nanmin(forecast) >= 199.0  # no-data never became 0


def test_unknown_baseline_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="extrapolation, persistence"):
        get_baseline("climatology")
