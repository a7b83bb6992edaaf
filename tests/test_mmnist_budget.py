"""Budgets, speed planning, the pass/fail checks and the paper's rows of the harness."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from nowcast.core.errors import ConfigError
from nowcast.validation import speed
from nowcast.validation.budget import BUDGETS, resolve_budget
from nowcast.validation.harness import checks
from nowcast.validation.paper import paper_row
from nowcast.validation.speed import fastest_threads
from nowcast.validation.training import budget_preset


def test_explicit_iterations_drop_the_time_limit() -> None:
    budget = resolve_budget("quick", iterations=7, test_size=3, batch_size=2)
    assert (budget.iterations, budget.test_size, budget.batch_size) == (7, 3, 2)
    assert budget.time_limit_s is None and budget.preset == BUDGETS["quick"].preset
    assert resolve_budget("paper").iterations == 80_000


def test_quick_budget_adds_ssim_for_its_last_quarter_whatever_the_model() -> None:
    """The quick recipe belongs to the budget, so ConvLSTM is trained the same way."""
    recipe = budget_preset(resolve_budget("quick", model="convlstm-mmnist")).training
    assert recipe.loss_at(0, 100) == recipe.loss_at(74, 100) == "l1+l2"
    assert recipe.loss_at(75, 100) == recipe.loss_at(99, 100) == "l1+l2+ssim"
    assert "l1+l2+ssim loss for the last 25%" in BUDGETS["quick"].describe()
    assert budget_preset(BUDGETS["paper"]).training.final_loss is None


def test_bad_budget_values_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="quick, paper"):
        resolve_budget("slow")
    with pytest.raises(ConfigError, match="--iterations"):
        resolve_budget("quick", iterations=0)


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


def test_fastest_threads_keeps_the_faster_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    threads = {"now": 2}
    monkeypatch.setattr(torch, "get_num_threads", lambda: threads["now"])
    monkeypatch.setattr(torch, "set_num_threads", lambda n: threads.update(now=n))
    # Two threads are slow on a busy machine; the alternation sees one burst but not both.
    # One thread's fastest step (1.3) wins; planning uses its median step (1.5).
    timings = iter([9.0, 1.5, 3.0, 1.4, 2.5, 1.6, 2.8, 1.3, 2.9, 1.7])
    assert fastest_threads(lambda: next(timings)) == 1.5
    assert threads["now"] == 1


def test_planning_weighs_the_slower_final_objective(monkeypatch: pytest.MonkeyPatch) -> None:
    """1 s per main step and 2 s per SSIM step over the last quarter: 1.25 s on average."""
    seconds = {"l1+l2": 1.0, "l1+l2+ssim": 2.0}
    monkeypatch.setattr(
        speed,
        "step_timer",
        lambda model, preset, batch, bf16, objective=None: (
            lambda: seconds[objective or preset.training.loss]
        ),
    )
    budget = replace(BUDGETS["quick"], time_limit_s=100.0)
    preset = budget_preset(budget)
    planned = speed.plan_iterations(torch.nn.Identity(), preset, budget, torch.zeros(1), False)
    assert planned == math.floor(100.0 / (1.25 * speed.LOOP_OVERHEAD))
