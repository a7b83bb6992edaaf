"""Image-quality metrics on hand-computed cases (per-frame sums, data range 1)."""

from __future__ import annotations

import numpy as np
import pytest

from nowcast.core.metrics import LeadTimeScores, score_frames


def test_identical_frames_score_perfectly() -> None:
    frames = np.random.default_rng(0).random((2, 3, 64, 64))
    scores = score_frames(frames, frames)
    assert np.all(scores["mse"] == 0) and np.all(scores["mae"] == 0)
    assert np.allclose(scores["ssim"], 1.0)
    assert np.all(np.isinf(scores["psnr"]))


def test_uniform_offset_sums_over_pixels() -> None:
    truth = np.zeros((1, 64, 64))
    scores = score_frames(truth + 0.5, truth)
    assert scores["mse"][0] == pytest.approx(4096 * 0.25)
    assert scores["mae"][0] == pytest.approx(4096 * 0.5)
    assert scores["psnr"][0] == pytest.approx(10 * np.log10(1 / 0.25))


def test_one_wrong_pixel() -> None:
    truth = np.zeros((1, 64, 64))
    prediction = truth.copy()
    prediction[0, 10, 20] = 1.0
    scores = score_frames(prediction, truth)
    assert scores["mse"][0] == pytest.approx(1.0)
    assert scores["mae"][0] == pytest.approx(1.0)
    assert scores["psnr"][0] == pytest.approx(10 * np.log10(4096))


def test_ssim_of_constant_frames_matches_the_formula() -> None:
    # Zero variance leaves only the luminance term (2ab + C1) / (a^2 + b^2 + C1), C1 = 0.01^2.
    a, b, c1 = 0.5, 0.25, 0.01**2
    scores = score_frames(np.full((1, 64, 64), a), np.full((1, 64, 64), b))
    assert scores["ssim"][0] == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1))


def test_predictions_are_clipped_before_scoring() -> None:
    truth = np.ones((1, 64, 64))
    scores = score_frames(np.full((1, 64, 64), 1.5), truth)
    assert scores["mse"][0] == 0 and scores["mae"][0] == 0


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="differ in shape"):
        score_frames(np.zeros((2, 64, 64)), np.zeros((3, 64, 64)))


def test_lead_time_scores_average_over_batches() -> None:
    truth = np.zeros((1, 2, 64, 64))
    scores = LeadTimeScores()
    scores.update(truth, truth)
    wrong = truth.copy()
    wrong[:, 1, 0, :4] = 1.0
    scores.update(wrong, truth)
    assert scores.count == 2
    assert scores.per_frame()["mse"] == [0.0, 2.0]
    assert scores.mean()["mae"] == pytest.approx(1.0)
