"""Console progress bar for training: loss, learning rate and throughput."""

from __future__ import annotations

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class TrainingProgress:
    """A rich progress bar, or nothing when disabled (tests, non-zero ranks)."""

    def __init__(self, total: int, start: int, enabled: bool) -> None:
        self.bar: Progress | None = None
        if not enabled:
            return
        self.bar = Progress(
            TextColumn("train"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        self.task = self.bar.add_task("train", total=total, completed=start, stats="")
        self.bar.start()

    def update(self, iteration: int, loss: float, lr: float, seq_per_s: float) -> None:
        """Show the latest iteration's numbers."""
        if self.bar is not None:
            stats = f"loss {loss:.4f}  lr {lr:.2e}  {seq_per_s:.1f} seq/s"
            self.bar.update(self.task, completed=iteration, stats=stats)

    def close(self) -> None:
        """Stop redrawing."""
        if self.bar is not None:
            self.bar.stop()
