"""Training budgets of the harness: a quick CPU check and the paper's recipe."""

from __future__ import annotations

from dataclasses import dataclass, replace

from nowcast.core.errors import ConfigError

PAPER_ITERATIONS = 80_000


@dataclass(frozen=True)
class Budget:
    """How long and on what the harness trains, and how many test sequences it scores."""

    name: str
    preset: str
    iterations: int
    batch_size: int
    test_size: int
    time_limit_s: float | None = None
    learning_rate: float | None = None
    final_loss: str | None = None
    final_fraction: float = 0.0
    bf16: bool = False

    def describe(self) -> str:
        """One line: the budget's name, iterations, batch, and time limit when there is one."""
        text = f"{self.name} budget: {self.iterations:,} iterations at batch {self.batch_size}"
        if self.time_limit_s is not None:
            text += f" or {self.time_limit_s:.0f} s of training, whichever comes first"
        if self.final_loss is not None:
            text += f", {self.final_loss} loss for the last {self.final_fraction:.0%}"
        return text + (", bf16 autocast" if self.bf16 else ", fp32")


BUDGETS = {
    "quick": Budget(
        name="quick",
        preset="modernn-mmnist-small",
        iterations=1500,
        batch_size=8,
        test_size=500,
        time_limit_s=720.0,
        learning_rate=1e-3,
        final_loss="l1+l2+ssim",
        final_fraction=0.25,
        bf16=True,
    ),
    "paper": Budget(
        name="paper",
        preset="modernn-mmnist",
        iterations=PAPER_ITERATIONS,
        batch_size=32,
        test_size=10_000,
    ),
}


def resolve_budget(
    name: str,
    model: str | None = None,
    iterations: int | None = None,
    test_size: int | None = None,
    batch_size: int | None = None,
) -> Budget:
    """The named budget with the user's overrides; explicit iterations drop the time limit."""
    if name not in BUDGETS:
        raise ConfigError(f"unknown budget {name!r} (choose from {', '.join(BUDGETS)})")
    budget = BUDGETS[name]
    if model:
        budget = replace(budget, preset=model)
    if iterations is not None:
        if iterations < 1:
            raise ConfigError("--iterations must be at least 1")
        budget = replace(budget, iterations=iterations, time_limit_s=None)
    if test_size is not None:
        if test_size < 1:
            raise ConfigError("--test-size must be at least 1")
        budget = replace(budget, test_size=test_size)
    if batch_size is not None:
        if batch_size < 1:
            raise ConfigError("--batch-size must be at least 1")
        budget = replace(budget, batch_size=batch_size)
    return budget
