"""The fixed value sets of command-line options, checked by Typer before a command runs."""

from __future__ import annotations

from enum import Enum, StrEnum


class Device(StrEnum):
    """Where torch runs: `auto` takes a GPU when there is one."""

    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class Baseline(StrEnum):
    """A forecast without a model."""

    persistence = "persistence"
    extrapolation = "extrapolation"
    sprog = "sprog"


class FillMethod(StrEnum):
    """How missing history frames may be filled."""

    persistence = "persistence"
    linear = "linear"


class ValScore(StrEnum):
    """What early stopping watches: validation MSE, or 1 - CSI at 1 mm/h (rain models)."""

    mse = "mse"
    csi = "csi"


class BudgetName(StrEnum):
    """A Moving MNIST training budget (`nowcast.mmnist.BUDGETS`, the same names)."""

    quick = "quick"
    cpu_hour = "cpu-hour"
    paper = "paper"


class RealDay(StrEnum):
    """A real day `nowcast demo --real` runs instead of the synthetic typhoon."""

    bom = "bom"


def value_of(choice: Enum | None) -> str | None:
    """The plain string a choice stands for (None stays None)."""
    return None if choice is None else str(choice.value)
