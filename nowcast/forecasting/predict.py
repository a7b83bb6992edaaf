"""Running a forecaster on a history window: the trained model or a baseline, same call."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import xarray as xr
from torch import nn

from nowcast.core.errors import ConfigError
from nowcast.core.files import file_sha256
from nowcast.core.timeutil import parse_duration, utc
from nowcast.models.baselines import get_baseline
from nowcast.models.checkpoint import WEIGHTS_FILE, load_model, resolve_checkpoint
from nowcast.models.device import resolve_device
from nowcast.models.preset import SequenceConfig
from nowcast.models.space import ModelSpace, StoredValues, described_values, recorded_space
from nowcast.settings.config import DEFAULT_MAX_PARAMETERS
from nowcast.store.forecast_files import ForecastIdentity, forecast_dataset
from nowcast.store.history import History


@dataclass
class Forecaster:
    """A model (or baseline) ready to predict `steps` frames from `input_frames` frames."""

    name: str
    method: str
    input_frames: int | None
    steps: int | None
    model: nn.Module | None = None
    device: torch.device | None = None
    checkpoint_sha256: str = ""
    step: pd.Timedelta | None = None
    trained_on: tuple[pd.Timestamp, pd.Timestamp] | None = None
    space: ModelSpace | None = None

    def predict(self, frames: np.ndarray, steps: int, stored: StoredValues) -> np.ndarray:
        """Stored frames (T, H, W) -> (steps, H, W) in the same units, within their range.

        Baselines work on the stored values; the model gets them in its own value space (rain
        rate for rain models, else the stored transform; no-data as 0, or the transform's
        `fill`) and its output is mapped back to the stored units. Where the latest frame has
        no data (outside the radar's range), the model's forecast is NaN, as the baselines'.
        """
        if self.model is None:
            return stored.transform.clip(get_baseline(self.method)(frames, steps, 1))
        space = self.space or ModelSpace(stored.transform)
        scaled = np.nan_to_num(space.to_model(frames, stored))
        batch = torch.from_numpy(np.ascontiguousarray(scaled, dtype=np.float32))
        batch = batch[None, :, None].to(self.device)
        with torch.inference_mode():
            predicted = self.model.predict(batch, steps)
        values = space.to_stored(predicted[0, :, 0].float().cpu().numpy(), stored)
        return np.where(np.isnan(frames[-1]), np.float32(np.nan), values)


def baseline_forecaster(name: str) -> Forecaster:
    """Persistence or pysteps extrapolation, wrapped like a model."""
    get_baseline(name)
    return Forecaster(name=name, method=name, input_frames=None, steps=None)


def model_forecaster(
    checkpoint: str | Path, device: str = "auto", max_parameters: int = DEFAULT_MAX_PARAMETERS
) -> Forecaster:
    """The trained model saved at `checkpoint` (a checkpoint or run folder), size-checked."""
    folder = resolve_checkpoint(checkpoint)
    target = resolve_device(device)
    model, meta = load_model(folder, target, max_parameters)
    sequence = meta.sequence
    return Forecaster(
        name=meta.preset or meta.model.arch,
        method="model",
        input_frames=sequence.input_frames if sequence else None,
        steps=sequence.output_frames if sequence else None,
        model=model,
        device=target,
        checkpoint_sha256=file_sha256(folder / WEIGHTS_FILE),
        step=parse_duration(meta.extra["step"]) if "step" in meta.extra else None,
        trained_on=training_period(meta.extra, sequence),
        space=recorded_space(meta.normalisation),
    )


def training_period(
    extra: dict, sequence: SequenceConfig | None
) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First and last valid time of the model's training windows (None when unrecorded)."""
    train = extra.get("split", {}).get("train", {})
    if not train.get("first_start") or "step" not in extra or sequence is None:
        return None
    span = (sequence.input_frames + sequence.output_frames - 1) * parse_duration(extra["step"])
    return utc(train["first_start"]), utc(train["last_start"]) + span


def check_fit(forecaster: Forecaster, history_frames: int, steps: int) -> None:
    """Refuse a window the model was not trained for, naming both lengths."""
    if forecaster.input_frames is not None and forecaster.input_frames != history_frames:
        raise ConfigError(
            f"model {forecaster.name} takes {forecaster.input_frames} history frames but "
            f"the window holds {history_frames}; set --since to match"
        )
    if forecaster.steps is not None and forecaster.steps < steps:
        raise ConfigError(
            f"model {forecaster.name} was trained for {forecaster.steps} lead times, not {steps}"
        )


def run_forecaster(
    forecaster: Forecaster, history: History, steps: int, cadence: pd.Timedelta, pipeline: str
) -> xr.Dataset:
    """Predict `steps` frames after `history` and return the CF forecast dataset."""
    check_fit(forecaster, history.frames.sizes["time"], steps)
    frames = history.frames
    stored = described_values(frames.attrs, cadence)
    predicted = forecaster.predict(frames.values, steps, stored)
    identity = ForecastIdentity(
        pipeline=pipeline,
        method=forecaster.method,
        model=forecaster.name,
        checkpoint_sha256=forecaster.checkpoint_sha256,
    )
    return forecast_dataset(history, predicted, cadence, identity)


def forecast(
    history: xr.DataArray,
    model: nn.Module | str | Path,
    steps: int = 4,
    device: str = "auto",
) -> xr.DataArray:
    """Notebook API: archive frames (time, y, x) -> forecast (lead_time, y, x) in physical units.

    `model` is a trained module, a checkpoint folder, or a baseline name (`persistence`,
    `extrapolation`). The history's cadence is taken from its time coordinate.
    """
    if isinstance(model, nn.Module):
        target = resolve_device(device)
        forecaster = Forecaster(
            "model", "model", None, None, model=model.to(target).eval(), device=target
        )
    elif str(model) in ("persistence", "extrapolation"):
        forecaster = baseline_forecaster(str(model))
    else:
        forecaster = model_forecaster(model, device)
    times = pd.DatetimeIndex(history.time.values)
    cadence = times[-1] - times[-2] if len(times) > 1 else pd.Timedelta("1h")
    dataset = run_forecaster(
        forecaster, History(history.load(), ()), steps, cadence, str(history.name or "")
    )
    return dataset["forecast"]
