"""Running a forecaster on a history window: the trained model or a baseline, same call."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import xarray as xr
from torch import nn

from nowcast.core import ConfigError, file_sha256, parse_duration, short_duration, utc, whole_steps
from nowcast.models import (
    BASELINES,
    WEIGHTS_FILE,
    ModelSpace,
    MotionSpace,
    SequenceConfig,
    StoredValues,
    described_values,
    get_baseline,
    history_motion,
    load_model,
    needs_retiming,
    recorded_space,
    resolve_checkpoint,
    resolve_device,
    retime,
)
from nowcast.settings import DEFAULT_MAX_PARAMETERS
from nowcast.store import ForecastIdentity, History, forecast_dataset


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
    seen: tuple[tuple[pd.Timestamp, pd.Timestamp], ...] = ()
    space: ModelSpace | None = None

    def predict(self, frames: np.ndarray, steps: int, stored: StoredValues) -> np.ndarray:
        """Stored frames (T, H, W) at the forecaster's step -> (steps, H, W) in the same units.

        Baselines work on the stored values; the model gets them in its own value space (rain
        rate for rain models, else the stored transform; no-data as 0, or the transform's
        `fill`) and its output is mapped back to the stored units. Where the latest frame has
        no data (outside the radar's range), the model's forecast is NaN, as the baselines'.
        """
        if self.model is None:
            motion = MotionSpace(stored.units, stored.cadence)
            return stored.transform.clip(get_baseline(self.method)(frames, steps, motion))
        space = self.space or ModelSpace(stored.transform)
        scaled = np.nan_to_num(space.to_model(frames, stored))
        batch = torch.from_numpy(np.ascontiguousarray(scaled, dtype=np.float32))
        batch = batch[None, :, None].to(self.device)
        with torch.inference_mode():
            predicted = self.model.predict(batch, steps)
        values = space.to_stored(predicted[0, :, 0].float().cpu().numpy(), stored)
        return np.where(np.isnan(frames[-1]), np.float32(np.nan), values)

    def native_frames(self, history_frames: int, native: pd.Timedelta) -> int:
        """How many archive frames (at `native` cadence) a forecast from `history_frames`
        frames at the forecaster's step reads: enough to span them, and 3 for the motion
        (persistence needs none)."""
        step = self.step or native
        span = (history_frames - 1) * step
        motion = 1 if self.method == "persistence" else 3
        return max(int(np.ceil(span / native)) + 1, motion)

    def check_window(
        self, history_frames: int, horizon: pd.Timedelta, native: pd.Timedelta
    ) -> None:
        """Refuse, before any data is read, a window this model was not trained for."""
        if self.model is not None:
            step = self.step or native
            check_fit(self, history_frames, int(np.ceil(horizon / step)), step)

    def forecast(
        self,
        history: np.ndarray,
        times: pd.DatetimeIndex,
        history_frames: int,
        leads: pd.TimedeltaIndex,
        stored: StoredValues,
        native: pd.Timedelta,
    ) -> np.ndarray:
        """Archive frames (T, H, W) at `times`, `native` apart -> forecast at `leads` after the
        last, in stored units.

        Baselines run at the archive's cadence. A model reads `history_frames` frames at its
        own step and forecasts at that step; where those times are not the archive's, frames
        are interpolated along pysteps' motion field (`retime`), both ways.
        """
        init = times[-1]
        if self.model is None:
            steps = whole_steps(leads[-1], native) or 1
            return self.predict(history, steps, stored)[
                [round(lead / native) - 1 for lead in leads]
            ]
        step = self.step or native
        inputs = pd.date_range(end=init, periods=history_frames, freq=step)
        steps = int(np.ceil(leads[-1] / step))
        check_fit(self, history_frames, steps, step)
        motion = MotionSpace(stored.units, stored.cadence)
        known = init + pd.TimedeltaIndex([pd.Timedelta(0), *_leads(step, steps)])
        velocity = None
        if needs_retiming(times, inputs) or needs_retiming(known, init + leads):
            velocity = history_motion(history, motion)
        frames = retime(history, times, inputs, velocity, native, motion)
        predicted = self.predict(frames, steps, stored)
        with_init = np.concatenate([history[-1:], predicted])
        return retime(with_init, known, init + leads, velocity, native, motion)


def _leads(step: pd.Timedelta, steps: int) -> pd.TimedeltaIndex:
    """Lead times step, 2 step, ... steps x step."""
    return pd.timedelta_range(start=step, periods=steps, freq=step)


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
        seen=seen_periods(meta.extra, sequence),
        space=recorded_space(meta.normalisation),
    )


def seen_periods(
    extra: dict, sequence: SequenceConfig | None
) -> tuple[tuple[pd.Timestamp, pd.Timestamp], ...]:
    """The valid-time intervals of the frames the model was trained and validated on; for a
    checkpoint that did not record them, its training span from first to last frame."""
    split = extra.get("split", {})
    recorded = [iv for name in ("train", "val") for iv in split.get(name, {}).get("intervals", [])]
    if recorded:
        return tuple((utc(first), utc(last)) for _group, first, last in recorded)
    span = training_period(extra, sequence)
    return () if span is None else (span,)


def training_period(
    extra: dict, sequence: SequenceConfig | None
) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First and last valid time of the model's training windows (None when unrecorded)."""
    train = extra.get("split", {}).get("train", {})
    if not train.get("first_start") or "step" not in extra or sequence is None:
        return None
    span = (sequence.input_frames + sequence.output_frames - 1) * parse_duration(extra["step"])
    return utc(train["first_start"]), utc(train["last_start"]) + span


def check_fit(
    forecaster: Forecaster, history_frames: int, steps: int, step: pd.Timedelta | None = None
) -> None:
    """Refuse a window the model was not trained for, naming the window and the model."""
    every = f" of {short_duration(step)}" if step is not None else ""
    if forecaster.input_frames is not None and forecaster.input_frames != history_frames:
        raise ConfigError(
            f"model {forecaster.name} reads {forecaster.input_frames} history frames{every} "
            f"but the window asks for {history_frames}; set [forecast] history (or --since) to "
            f"{_span(forecaster.input_frames, step)}"
        )
    if forecaster.steps is not None and forecaster.steps < steps:
        raise ConfigError(
            f"model {forecaster.name} forecasts {forecaster.steps} steps{every} "
            f"({_span(forecaster.steps, step)}) but the horizon asks for {steps}; set "
            f"[forecast] horizon to at most {_span(forecaster.steps, step)}"
        )


def _span(frames: int, step: pd.Timedelta | None) -> str:
    """`frames` steps as a duration (`30 min`), or as a count when the step is unknown."""
    return short_duration(frames * step) if step is not None else f"{frames} frames"


def run_forecaster(
    forecaster: Forecaster,
    history: History,
    history_frames: int,
    steps: int,
    cadence: pd.Timedelta,
    pipeline: str,
) -> xr.Dataset:
    """Forecast `steps` frames at the archive's `cadence` after `history` (archive frames at
    that cadence; a model reads `history_frames` of its own steps) -> the CF forecast dataset."""
    frames = history.frames
    stored = described_values(frames.attrs, cadence)
    times = pd.DatetimeIndex(frames.time.values)
    leads = _leads(cadence, steps)
    predicted = forecaster.forecast(frames.values, times, history_frames, leads, stored, cadence)
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
    `extrapolation`, `sprog`). The history's cadence is taken from its time coordinate; a
    model reads as many of its own steps as it was trained on (else every frame given).
    """
    if isinstance(model, nn.Module):
        target = resolve_device(device)
        forecaster = Forecaster(
            "model", "model", None, None, model=model.to(target).eval(), device=target
        )
    elif str(model) in BASELINES:
        forecaster = baseline_forecaster(str(model))
    else:
        forecaster = model_forecaster(model, device)
    times = pd.DatetimeIndex(history.time.values)
    cadence = times[-1] - times[-2] if len(times) > 1 else pd.Timedelta("1h")
    frames_in = forecaster.input_frames or len(times)
    dataset = run_forecaster(
        forecaster, History(history.load(), ()), frames_in, steps, cadence, str(history.name or "")
    )
    return dataset["forecast"]
