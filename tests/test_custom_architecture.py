"""A new architecture is one module plus one registry line: a two-layer conv net, registered
here, goes through `nowcast train`, the checkpoint, `nowcast forecast` and `nowcast verify`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import xarray as xr
from conftest import REPO
from ingest_fixtures import cli
from pydantic import Field
from torch import Tensor, nn

from nowcast.models import ARCHITECTURES, ArchitectureConfig, ForecastNetwork, register_architecture
from nowcast.models.checkpoint import load_model, read_meta
from nowcast.models.network import GridMismatchError


class TwoLayerConfig(ArchitectureConfig):
    """The trivial architecture's own settings."""

    arch: str = "twolayer"
    hidden: int = Field(8, ge=1)


class TwoLayerNet(nn.Module):
    """Next frame = conv(relu(conv(frame))): no recurrence, no patches."""

    def __init__(self, config: TwoLayerConfig) -> None:
        super().__init__()
        self.config = config
        self.body = nn.Sequential(
            nn.Conv2d(config.channels, config.hidden, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(config.hidden, config.channels, 3, padding=1),
        )

    def check_frames(self, frames: Tensor) -> None:
        if frames.ndim != 5 or frames.shape[2] != self.config.channels:
            raise GridMismatchError(f"expected (B, T, {self.config.channels}, H, W) frames")

    def forward(
        self, frames: Tensor, input_frames: int, teacher_mask: Tensor | None = None
    ) -> Tensor:
        self.check_frames(frames)
        outputs: list[Tensor] = []
        for t in range(frames.shape[1] - 1):
            frame = frames[:, t]
            if t >= input_frames:
                mask = 0.0 if teacher_mask is None else teacher_mask[:, t - input_frames]
                mask = torch.as_tensor(mask, dtype=frames.dtype).reshape(-1, 1, 1, 1)
                frame = mask * frame + (1 - mask) * outputs[-1]
            outputs.append(self.body(frame))
        return torch.stack(outputs, dim=1)

    @torch.no_grad()
    def predict(self, history: Tensor, steps: int) -> Tensor:
        future = history.new_zeros(history.shape[0], steps, *history.shape[2:])
        return self(torch.cat([history, future], dim=1), history.shape[1])[:, -steps:]

    def summary(self) -> str:
        return f"twolayer: hidden {self.config.hidden}"


PRESET = """
description = "the trivial architecture"
[model]
arch = "twolayer"
hidden = 6
[sequence]
input_frames = 8
output_frames = 4
[training]
lr = 1e-3
batch_size = 2
iterations = 4
"""


@pytest.fixture
def registered() -> Iterator[None]:
    """The one registry line, undone after the test."""
    register_architecture("twolayer", TwoLayerConfig, TwoLayerNet)
    yield
    ARCHITECTURES.unregister("twolayer")


def test_the_trivial_architecture_keeps_the_contract(registered: None) -> None:
    assert isinstance(TwoLayerNet(TwoLayerConfig()), ForecastNetwork)


def test_train_forecast_and_verify_a_registered_architecture(
    registered: None, tmp_path: Path
) -> None:
    (tmp_path / "twolayer.toml").write_text(PRESET)
    config = tmp_path / "nowcast.toml"
    config.write_text(
        f'archive = "archive.zarr"\npipelines_dir = "{REPO / "pipelines"}"\ndevice = "cpu"\n'
        '[output]\ncheckpoints = "checkpoints"\nforecasts = "forecasts"\n'
        'verification = "verification"\n'
    )
    period = ["--since", "2024-09-01T06:00Z", "--until", "2024-09-05T06:00Z"]
    assert cli(config, "ingest", "-p", "demo", *period).exit_code == 0

    trained = cli(
        config, "train", "-p", "demo", "--preset", str(tmp_path / "twolayer.toml"),
        "--iterations", "4", "--every", "2",
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    checkpoint = tmp_path / "checkpoints" / "demo" / "best"
    assert read_meta(checkpoint).model == TwoLayerConfig(hidden=6)
    model, _ = load_model(checkpoint)
    assert isinstance(model, TwoLayerNet) and model.config.hidden == 6

    forecast = cli(config, "forecast", "-p", "demo")
    assert forecast.exit_code == 0, forecast.output
    (netcdf,) = (tmp_path / "forecasts" / "demo").glob("*.nc")
    with xr.open_dataset(netcdf) as stored:
        assert stored.attrs["method"] == "model"
        assert stored["forecast"].shape == (4, 64, 64)
        assert float(stored["forecast"].isnull().mean()) < 1.0

    verified = cli(
        config, "verify", "--backtest", "-p", "demo",
        "--from", "2024-09-04T20:00Z", "--to", "2024-09-05T02:00Z",
    )  # fmt: skip
    assert verified.exit_code == 0, verified.output
    assert "model" in verified.output

    whole = (
        "verify",
        "--backtest",
        "-p",
        "demo",
        "--from",
        "2024-09-01T14Z",
        "--to",
        "2024-09-05T02Z",
    )
    left_out = cli(config, *whole)
    assert left_out.exit_code == 0, left_out.output
    assert "overlap the model's training period: left out" in left_out.output
    assert "model (in training period)" not in left_out.output
    marked = cli(config, *whole, "--include-training")
    assert marked.exit_code == 0, marked.output
    assert "model (in training period): " in marked.output
    assert "scored as 'model (in training period)'" in marked.output


def test_an_unregistered_architecture_is_refused_with_the_valid_names(tmp_path: Path) -> None:
    (tmp_path / "twolayer.toml").write_text(PRESET)
    config = tmp_path / "nowcast.toml"
    config.write_text(f'archive = "archive.zarr"\npipelines_dir = "{REPO / "pipelines"}"\n')
    period = ["--since", "2024-09-04T06:00Z", "--until", "2024-09-05T06:00Z"]
    assert cli(config, "ingest", "-p", "demo", *period).exit_code == 0
    result = cli(config, "train", "-p", "demo", "--preset", str(tmp_path / "twolayer.toml"))
    assert result.exit_code != 0
    assert "unknown architecture 'twolayer'" in result.output
    assert "convlstm, modernn" in result.output
