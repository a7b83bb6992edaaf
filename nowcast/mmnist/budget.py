"""Training budgets of the harness: fixed iterations, batch and recipe, never elapsed time."""

from __future__ import annotations

from dataclasses import dataclass, replace

from nowcast.core import ConfigError, Registry

PAPER_ITERATIONS = 80_000


@dataclass(frozen=True)
class Budget:
    """How many iterations at which batch, with which recipe, and how many test sequences."""

    name: str
    preset: str
    iterations: int
    batch_size: int
    test_size: int
    learning_rate: float | None = None
    final_loss: str | None = None
    final_fraction: float = 0.0
    bf16: bool = False

    def describe(self) -> str:
        """One line: the budget's name, iterations, batch, objective and number format."""
        text = f"{self.name} budget: {self.iterations:,} iterations at batch {self.batch_size}"
        if self.final_loss is not None:
            text += f", {self.final_loss} loss for the last {self.final_fraction:.0%}"
        return text + (", bf16 autocast" if self.bf16 else ", fp32")


# The CPU recipe shared by the quick and cpu-hour budgets: only the iteration count differs.
_CPU_RECIPE = {
    "preset": "modernn-mmnist-small",
    "batch_size": 8,
    "test_size": 500,
    "learning_rate": 1e-3,
    "final_loss": "l1+l2+ssim",
    "final_fraction": 0.25,
    "bf16": True,
}

BUDGETS: Registry[Budget] = Registry(
    "budget",
    {
        # A smoke test of the implementation: about 15 min on an idle 2-core CPU (~1.05 s a step).
        "quick": Budget(name="quick", iterations=800, **_CPU_RECIPE),
        # About an hour per model on an idle 2-core CPU: the equal-budget MoDeRNN/ConvLSTM check.
        "cpu-hour": Budget(name="cpu-hour", iterations=3_300, **_CPU_RECIPE),
        "paper": Budget(
            name="paper",
            preset="modernn-mmnist",
            iterations=PAPER_ITERATIONS,
            batch_size=32,
            test_size=10_000,
        ),
    },
)


def resolve_budget(
    name: str,
    model: str | None = None,
    iterations: int | None = None,
    test_size: int | None = None,
    batch_size: int | None = None,
) -> Budget:
    """The named budget with the user's overrides."""
    budget = BUDGETS.get(name)
    if model:
        budget = replace(budget, preset=model)
    for flag, value in (
        ("--iterations", iterations),
        ("--test-size", test_size),
        ("--batch-size", batch_size),
    ):
        if value is not None and value < 1:
            raise ConfigError(f"{flag} must be at least 1, got {value}")
    if iterations is not None:
        budget = replace(budget, iterations=iterations)
    if test_size is not None:
        budget = replace(budget, test_size=test_size)
    if batch_size is not None:
        budget = replace(budget, batch_size=batch_size)
    return budget
