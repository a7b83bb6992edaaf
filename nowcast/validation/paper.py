"""Published Moving MNIST results we compare against: MoDeRNN paper (arXiv:2110.12978), Table 1."""

from __future__ import annotations

from dataclasses import dataclass

SOURCE = "Chai, Xu & Yuan, MoDeRNN (arXiv:2110.12978), Table 1, Moving MNIST 10 -> 10 frames"


@dataclass(frozen=True)
class PaperRow:
    """One row of Table 1; None marks a number we do not cite (not reported or not certain)."""

    model: str
    mse: float | None
    mae: float | None
    ssim: float | None
    psnr: float | None
    training: str


TABLE1 = {
    "modernn": PaperRow("MoDeRNN (paper)", 30.6, 68.7, 0.936, 22.472, "80,000 iterations"),
    "convlstm": PaperRow(
        "ConvLSTM (paper)", 103.3, 182.9, 0.707, None, "as reported in the paper's Table 1"
    ),
}


def paper_row(preset: str) -> PaperRow | None:
    """The Table 1 row for the model family of a preset name (e.g. `modernn-mmnist-small`)."""
    family = preset.split("-", 1)[0].lower()
    return TABLE1.get(family)
