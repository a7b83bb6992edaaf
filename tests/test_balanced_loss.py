"""Balanced (HKO-7) losses, no-data masking and gradient clipping in the training objective."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from nowcast.models.preset import TrainingRecipe
from nowcast.store.transform import Transform
from nowcast.training.intensity import model_rain_rate, rain_weighting
from nowcast.training.loss import balanced_weights, sequence_loss


def test_balanced_weights_rise_with_rain_rate() -> None:
    rate = torch.tensor([0.0, 1.0, 2.0, 5.0, 10.0, 30.0, 100.0, float("nan")])
    assert balanced_weights(rate).tolist() == [1.0, 1.0, 2.0, 5.0, 10.0, 30.0, 30.0, 0.0]


KINDS = ["l1+l2", "balanced-mse", "balanced-mae", "balanced-mse+balanced-mae"]


@pytest.mark.parametrize("kind", KINDS)
def test_masked_pixel_never_contributes_to_the_gradient(kind: str) -> None:
    prediction = torch.rand(2, 3, 1, 8, 8, requires_grad=True)
    target = torch.rand(2, 3, 1, 8, 8)
    target[0, 1, 0, 4, 4] = float("nan")
    valid = torch.isfinite(target)
    weights = balanced_weights(target * 40)
    loss = sequence_loss(prediction, target, kind, valid, weights)
    loss.backward()
    assert torch.isfinite(loss)
    assert prediction.grad[0, 1, 0, 4, 4] == 0
    assert (prediction.grad[valid] != 0).any()


def test_heavy_rain_error_costs_more_under_the_balanced_loss() -> None:
    target = torch.zeros(1, 1, 1, 2, 2)
    target[..., 0, 0] = 1.0
    weights = balanced_weights(torch.tensor([[40.0, 0.0], [0.0, 0.0]]).expand_as(target))
    heavy_miss = target.clone()
    heavy_miss[..., 0, 0] = 0.5
    light_miss = target.clone()
    light_miss[..., 1, 1] = 0.5
    heavy = sequence_loss(heavy_miss, target, "balanced-mse", None, weights)
    light = sequence_loss(light_miss, target, "balanced-mse", None, weights)
    assert heavy == pytest.approx(30 * light)


def test_balanced_loss_needs_weights() -> None:
    with pytest.raises(ValueError, match="weights"):
        sequence_loss(torch.zeros(1, 1, 1, 2, 2), torch.zeros(1, 1, 1, 2, 2), "balanced-mse")


def test_rain_rate_from_accumulation_and_reflectivity() -> None:
    accumulation = Transform(kind="log10", vmin=0.01, vmax=20.0)
    model = torch.tensor(accumulation.to_model([1.0]))
    rate = model_rain_rate(accumulation, "mm", pd.Timedelta("10min"))(model)
    assert rate.item() == pytest.approx(6.0, rel=1e-4)
    dbz = Transform(kind="identity")
    mp = model_rain_rate(dbz, "dBZ", pd.Timedelta("5min"))(torch.tensor([23.0]))
    assert mp.item() == pytest.approx((10**2.3 / 200) ** (1 / 1.6), rel=1e-4)
    weights = rain_weighting(accumulation, "mm", pd.Timedelta("10min"))(model)
    assert weights.item() == 5.0


def test_recipe_accepts_balanced_loss_clipping_and_augmentation() -> None:
    recipe = TrainingRecipe(loss="balanced-mse", clip_grad=1.0, crop=32, flips=True)
    assert recipe.clip_grad == 1.0 and recipe.crop == 32 and recipe.flips
