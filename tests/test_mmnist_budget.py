"""Budgets, the pass/fail checks and the paper's rows of the harness."""

from __future__ import annotations

import pytest

from nowcast.core.errors import ConfigError
from nowcast.mmnist.budget import BUDGETS, resolve_budget
from nowcast.mmnist.harness import checks
from nowcast.mmnist.report import paper_row
from nowcast.mmnist.training import budget_preset


def test_budgets_are_fixed_iterations_and_overrides_replace_them() -> None:
    budget = resolve_budget("quick", iterations=7, test_size=3, batch_size=2)
    assert (budget.iterations, budget.test_size, budget.batch_size) == (7, 3, 2)
    assert budget.preset == BUDGETS["quick"].preset == "modernn-mmnist-small"
    assert (BUDGETS["quick"].iterations, BUDGETS["cpu-hour"].iterations) == (800, 3_300)
    assert resolve_budget("paper").iterations == 80_000
    assert "time" not in BUDGETS["quick"].describe()
    # cpu-hour is the quick recipe, longer: only the iteration count differs.
    quick, hour = budget_preset(BUDGETS["quick"]).training, budget_preset(BUDGETS["cpu-hour"])
    assert hour.training.model_copy(update={"iterations": 800}) == quick


def test_quick_budget_adds_ssim_for_its_last_quarter_whatever_the_model() -> None:
    """The quick recipe belongs to the budget, so ConvLSTM is trained the same way."""
    recipe = budget_preset(resolve_budget("quick", model="convlstm-mmnist")).training
    assert recipe.loss_at(0, 100) == recipe.loss_at(74, 100) == "l1+l2"
    assert recipe.loss_at(75, 100) == recipe.loss_at(99, 100) == "l1+l2+ssim"
    assert "l1+l2+ssim loss for the last 25%" in BUDGETS["quick"].describe()
    assert budget_preset(BUDGETS["paper"]).training.final_loss is None


def test_bad_budget_values_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="valid: cpu-hour, paper, quick"):
        resolve_budget("slow")
    with pytest.raises(ConfigError, match="--iterations must be at least 1, got 0"):
        resolve_budget("quick", iterations=0)
    with pytest.raises(ConfigError, match="--batch-size"):
        resolve_budget("quick", batch_size=-1)


def test_paper_rows_follow_the_model_family() -> None:
    assert paper_row("modernn-mmnist-small").mse == 30.6
    assert paper_row("convlstm-mmnist").psnr is None
    assert paper_row("predrnn") is None


def result(mse: float, ssim: float) -> dict[str, dict[str, float]]:
    """A results entry with only the means `checks` reads."""
    return {"mean": {"mse": mse, "ssim": ssim}}


def test_checks_need_five_percent_below_all_zero_and_both_ssims() -> None:
    floors = {"all_zero": result(180.0, 0.76), "copy_last_frame": result(300.0, 0.65)}
    good = checks({"model": result(170.0, 0.77), **floors})
    assert good["passes"] and good["all_zero_mse_margin"] == pytest.approx(0.0556, abs=1e-4)
    close = checks({"model": result(175.0, 0.77), **floors})
    assert close["beats_all_zero_mse"] and not close["passes"]
    blurry = checks({"model": result(150.0, 0.70), **floors})
    assert blurry["beats_copy_last_frame_ssim"] and not blurry["beats_all_zero_ssim"]
    assert not blurry["passes"]


def test_the_budget_choice_offers_every_registered_budget() -> None:
    from nowcast.cli.choices import BudgetName

    assert sorted(choice.value for choice in BudgetName) == BUDGETS.names()
