"""Scores accumulated over cases, forecasts kept in range, no-data out of the training loss."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

from nowcast.forecasting.predict import (
    Forecaster,
    run_forecaster,
    seen_periods,
    training_period,
)
from nowcast.models.preset import SequenceConfig
from nowcast.store.forecast_files import write_netcdf
from nowcast.store.grid import decibel_block_mean, metres_projection
from nowcast.store.history import History
from nowcast.store.transform import Transform
from nowcast.training.loss import sequence_loss
from nowcast.training.windows import SPLITS, Window, WindowSpec, split_windows
from nowcast.verify.accumulate import Accumulator
from nowcast.verify.backtest import in_training
from nowcast.verify.cases import Case, EventDefinition


def case(init: str, forecast: list[float], observed: list[float]) -> Case:
    f = np.array([[forecast]], dtype=np.float32)
    o = np.array([[observed]], dtype=np.float32)
    return Case("p", init, "persistence", [10], f, o, f, o)


def test_contingency_accumulates_over_cases_including_eventless_ones() -> None:
    board = Accumulator("p", EventDefinition((1.0,), below=False, scales=(1,)), "period")
    board.add(case("a", [2.0, 0.0, 2.0, np.nan], [2.0, 2.0, 0.0, 5.0]))  # hit, miss, false alarm
    board.add(case("b", [2.0, 0.0, 0.0, 0.0], [2.0, 0.0, 0.0, 0.0]))  # hit, 3 correct negatives
    board.add(case("c", [3.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]))  # no observed event
    board.add(None)
    rows = {(r.score, r.threshold): r for r in board.rows("mm")}
    assert rows[("CSI", 1.0)].value == pytest.approx(2 / (2 + 1 + 2))  # not a mean of ratios
    assert rows[("POD", 1.0)].value == pytest.approx(2 / 3)
    errors = np.array([0, -2, 2, 0, 0, 0, 0, 3, 0, 0, 0], dtype=float)  # NaN pixel skipped
    assert rows[("RMSE", None)].value == pytest.approx(np.sqrt((errors**2).mean()))
    assert rows[("BIAS", None)].value == pytest.approx(errors.mean())
    assert rows[("VALID_FRACTION", None)].value == pytest.approx(11 / 12)
    assert "3 cases" in rows[("RMSE", None)].note and rows[("RMSE", None)].note.startswith("mm")


def test_cold_events_lie_below_the_threshold() -> None:
    board = Accumulator("p", EventDefinition((220.0,), below=True, scales=(1,)), "period")
    board.add(case("a", [210.0, 250.0], [200.0, 210.0]))  # hit, miss
    rows = {(r.score, r.threshold): r.value for r in board.rows("K")}
    assert rows[("CSI", 220.0)] == pytest.approx(0.5) and rows[("FAR", 220.0)] == 0.0


def test_model_output_never_leaves_the_physical_range() -> None:
    kelvin = Transform(kind="linear", vmin=170.0, vmax=300.0)
    assert kelvin.to_physical(np.array([1.16, -0.2])).tolist() == [300.0, 170.0]
    clipped = kelvin.clip(np.array([321.0, np.nan, 250.0]))
    assert clipped[0] == 300.0 and np.isnan(clipped[1]) and clipped[2] == 250.0
    rain = Transform(kind="log10", vmin=0.01, vmax=20.0)
    assert rain.physical_range == (0.0, 20.0) and Transform(kind="identity").clip(5.0) == 5.0
    assert np.isnan(rain.to_model(np.array([np.nan]))).all()
    assert Transform(kind="log10", vmin=0.01, vmax=20.0, fill=0.0).to_model(np.nan) == 0.0


def test_loss_ignores_pixels_without_data() -> None:
    target = torch.tensor([[0.5, float("nan")], [0.25, float("nan")]])
    prediction = torch.tensor([[0.0, 0.9], [0.25, -3.0]])
    valid = torch.isfinite(target)
    loss = sequence_loss(prediction, target, "l1+l2", valid)
    assert float(loss) == pytest.approx((0.5 + 0.0) / 2 + (0.25 + 0.0) / 2)
    assert torch.isfinite(loss)


def test_dbz_block_mean_is_taken_in_linear_z() -> None:
    values = np.array([[45.5, -32.0], [-32.0, -32.0]], dtype=np.float32)
    expected = 10 * np.log10((10**4.55 + 3 * 10**-3.2) / 4)
    assert decibel_block_mean(values, (2, 2))[0, 0] == pytest.approx(expected, rel=1e-5)
    assert expected > 39.0  # the dB mean would be -12.6


def test_km_projection_becomes_metres() -> None:
    text, factor = metres_projection("+proj=stere +lat_0=90 +a=6378.137 +b=6356.752 +x_0=0")
    assert factor == 1000.0 and "+a=6378137" in text and "+units=m" in text
    same = "+proj=laea +lat_0=52 +lon_0=10 +datum=WGS84 +units=m"
    assert metres_projection(same) == (same, 1.0)
    assert metres_projection("+proj=utm +zone=32 +units=km")[0].endswith("+units=m")


class Overshooting(torch.nn.Module):
    """A stand-in model whose output runs past both ends of the model scale."""

    def predict(self, batch: torch.Tensor, steps: int) -> torch.Tensor:
        values = torch.tensor([1.3, -0.5]).repeat_interleave(batch.shape[-1] // 2)
        return values.expand(batch.shape[0], steps, 1, batch.shape[-2], batch.shape[-1])


def kelvin_history(last: float) -> History:
    """Four hourly 4x4 frames in K with the demo's transform as metadata."""
    transform = Transform(kind="linear", vmin=170.0, vmax=300.0)
    values = np.full((4, 4, 4), 250.0, dtype=np.float32)
    values[-1] = last
    frames = xr.DataArray(
        values,
        dims=("time", "y", "x"),
        coords={
            "time": pd.date_range("2024-09-01", periods=4, freq="1h"),
            "y": np.arange(4.0),
            "x": np.arange(4.0),
        },
        attrs={"units": "K", "standard_name": "toa_brightness_temperature", **transform.to_attrs()},
        name="tb",
    )
    return History(frames, ())


@pytest.mark.parametrize("method", ["model", "persistence"])
def test_forecast_netcdf_never_leaves_the_transform_range(tmp_path: Path, method: str) -> None:
    model = Overshooting() if method == "model" else None
    forecaster = Forecaster(method, method, None, None, model=model, device=torch.device("cpu"))
    dataset = run_forecaster(forecaster, kelvin_history(321.0), 4, 2, pd.Timedelta("1h"), "demo")
    with xr.open_dataset(write_netcdf(dataset, tmp_path)) as written:
        values = written["forecast"].values
    assert values.min() >= 170.0 and values.max() == 300.0
    if method == "model":
        assert values.min() == 170.0
    assert float(dataset["observation"].max()) == 321.0  # the observation is stored as observed


def test_backtest_marks_init_times_inside_the_training_period() -> None:
    sequence = SequenceConfig(input_frames=8, output_frames=4)
    extra = {
        "step": "1h",
        "split": {"train": {"first_start": "2024-09-01T06:00Z", "last_start": "2024-09-02T00:00Z"}},
    }
    first, last = training_period(extra, sequence)
    assert (first, last) == (pd.Timestamp("2024-09-01T06:00"), pd.Timestamp("2024-09-02T11:00"))
    assert training_period({"step": "1h"}, sequence) is None
    assert seen_periods(extra, sequence) == ((first, last),)  # no intervals: the whole span
    model = Forecaster("m", "model", 8, 4, seen=((first, last),))
    history, horizon = pd.Timedelta("8h"), pd.Timedelta("4h")
    assert in_training(model, pd.Timestamp("2024-09-02T18:00"), history, horizon)  # from 10:00
    assert not in_training(model, pd.Timestamp("2024-09-02T19:00"), history, horizon)
    assert not in_training(model, pd.Timestamp("2024-09-01T02:00"), history, horizon)
    assert in_training(model, pd.Timestamp("2024-09-01T02:01"), history, horizon)
    assert not in_training(None, pd.Timestamp("2024-09-02T00:00"), history, horizon)


def test_time_split_leaves_a_history_length_before_each_held_out_period() -> None:
    spec = WindowSpec(input_frames=8, output_frames=4, step=pd.Timedelta("1h"))
    starts = pd.date_range("2024-09-01", periods=86, freq="1h")
    split = split_windows([Window("demo", t) for t in starts], spec, 0.2, 0.1)
    assert split.boundaries["gap"] == str(pd.Timedelta("8h"))
    ends = {name: [w.start + spec.span for w in split.windows[name]] for name in SPLITS}
    firsts = {name: min(w.start for w in split.windows[name]) for name in SPLITS}
    assert firsts["val"] - max(ends["train"]) > pd.Timedelta("8h")
    assert firsts["test"] - max(ends["val"]) > pd.Timedelta("8h")
    short = split_windows([Window("bom", t) for t in starts[:13]], spec, 0.1, 0.1)
    assert short.boundaries["gap"] == str(pd.Timedelta(0)) and short.windows["train"]


def test_backtest_leaves_out_exactly_the_recorded_intervals() -> None:
    sequence = SequenceConfig(input_frames=8, output_frames=4)
    day = {"first_start": "2024-09-01T00:00Z", "last_start": "2024-09-03T00:00Z"}
    intervals = [["a", "2024-09-01T00:00Z", "2024-09-01T23:00Z"]]
    later = [["a", "2024-09-03T00:00Z", "2024-09-03T23:00Z"]]
    extra = {
        "step": "1h",
        "split": {"train": {**day, "intervals": intervals}, "val": {"intervals": later}},
    }
    model = Forecaster("m", "model", 8, 4, seen=seen_periods(extra, sequence))
    history, horizon = pd.Timedelta("8h"), pd.Timedelta("4h")
    assert not in_training(model, pd.Timestamp("2024-09-02T12:00"), history, horizon)
    assert in_training(model, pd.Timestamp("2024-09-02T06:00"), history, horizon)  # from 23:00
    assert not in_training(model, pd.Timestamp("2024-09-02T07:00"), history, horizon)
    assert in_training(model, pd.Timestamp("2024-09-02T21:00"), history, horizon)  # to 01:00
    assert not in_training(model, pd.Timestamp("2024-09-02T20:00"), history, horizon)
