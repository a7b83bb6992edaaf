"""Per-iteration training metrics: a CSV file in the run folder, plus TensorBoard if installed."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

COLUMNS = (
    "iteration",
    "loss",
    "lr",
    "teacher_prob",
    "objective",
    "seq_per_s",
    "val",
    "elapsed_s",
)


class MetricsLog:
    """Append rows to `metrics.csv`; on resume, drop rows past the checkpoint's iteration."""

    def __init__(self, out_dir: Path, resume_at: int | None = None) -> None:
        self.path = out_dir / "metrics.csv"
        out_dir.mkdir(parents=True, exist_ok=True)
        rows = self._kept_rows(resume_at)
        # Training seconds of the earlier sessions (0 for a fresh run): a resumed run's elapsed
        # time continues from there.
        last = rows[-1].get("elapsed_s") if rows else None
        self.elapsed_s = float(last) if last else 0.0
        with self.path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        self.tensorboard = _tensorboard_writer(out_dir / "tensorboard")

    def _kept_rows(self, resume_at: int | None) -> list[dict[str, str]]:
        """Rows of an earlier run up to `resume_at`, or none for a fresh run."""
        if resume_at is None or not self.path.is_file():
            return []
        with self.path.open(newline="") as handle:
            return [row for row in csv.DictReader(handle) if int(row["iteration"]) <= resume_at]

    def write(self, row: dict[str, Any]) -> None:
        """Append one row (missing columns stay empty) and mirror numbers to TensorBoard."""
        with self.path.open("a", newline="") as handle:
            csv.DictWriter(handle, fieldnames=COLUMNS).writerow(row)
        if self.tensorboard is not None:
            for key, value in row.items():
                if key != "iteration" and isinstance(value, float | int):
                    self.tensorboard.add_scalar(f"train/{key}", value, row["iteration"])

    def close(self) -> None:
        """Flush TensorBoard."""
        if self.tensorboard is not None:
            self.tensorboard.close()


def _tensorboard_writer(folder: Path) -> Any:
    """A SummaryWriter when the tensorboard package is installed, else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(log_dir=str(folder))
