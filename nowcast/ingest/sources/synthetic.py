"""A built-in, seeded typhoon-like storm, so the tool runs end to end with no network.

Infrared brightness temperature (180-300 K) on a Lambert azimuthal equal-area grid over the
West Pacific: a rotating vortex with an eye, an eyewall, a central dense overcast and spiral
rain bands, moving north-west and recurving along its track, growing then decaying; a new
storm forms every `lifetime_h` hours, over drifting scattered convection. Each frame depends
only on (seed, valid time), so frames "new since the last run" are well defined.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd
import pyproj
from pydantic import Field

from nowcast.ingest.sources.base import Candidate, Fetched, SourceOptions
from nowcast.store import crs_from_string, frame_array, pixel_centres

EPOCH = pd.Timestamp("2000-01-01")
ATTRS = {
    "units": "K",
    "standard_name": "toa_brightness_temperature",
    "long_name": "Synthetic infrared brightness temperature",
}
CLEAR_SKY_K, COLDEST_K = 300.0, 180.0


class SyntheticOptions(SourceOptions):
    """Seed, domain centre and size, native resolution and storm lifetime."""

    seed: int = 0
    center_lat: float = Field(22.0, ge=-80, le=80)
    center_lon: float = 132.0
    size_km: float = Field(2560.0, gt=0)
    pixels: int = Field(128, ge=8, le=2048, description="grid side; memory grows as its square")
    lifetime_h: float = Field(96.0, gt=6)


class Storm:
    """The deterministic field generator behind the synthetic source."""

    def __init__(self, options: SyntheticOptions) -> None:
        self.options = options
        half = options.size_km * 500.0
        step = options.size_km * 1000.0 / options.pixels
        self.x = pixel_centres(-half, step, options.pixels)
        self.y = pixel_centres(half, -step, options.pixels)
        self.xx, self.yy = np.meshgrid(self.x / 1000.0, self.y / 1000.0)

    @cached_property
    def crs(self) -> pyproj.CRS:
        """The storm domain's projection."""
        lat, lon = self.options.center_lat, self.options.center_lon
        return crs_from_string(f"+proj=laea +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m")

    @cached_property
    def _noise_modes(self) -> np.ndarray:
        """Wave vectors, drift speeds and phases of the background convection (seed only)."""
        rng = np.random.default_rng([self.options.seed, 7919])
        count = 12
        wavelength = rng.uniform(150.0, 600.0, count)
        angle = rng.uniform(0, 2 * np.pi, count)
        return np.stack(
            [
                2 * np.pi / wavelength * np.cos(angle),
                2 * np.pi / wavelength * np.sin(angle),
                rng.uniform(-0.4, 0.4, count),
                rng.uniform(0, 2 * np.pi, count),
            ],
            axis=1,
        )

    def _track(self, storm: int, phase: float) -> tuple[float, float, float]:
        """Centre (km east, km north of the domain centre) and intensity 0..1 of a storm."""
        rng = np.random.default_rng([self.options.seed, storm])
        half = self.options.size_km / 2
        x0, y0 = rng.uniform(0.15, 0.45) * half, rng.uniform(-0.6, -0.3) * half
        vx, vy = -rng.uniform(0.5, 0.9) * half, rng.uniform(0.3, 0.6) * half
        recurve = rng.uniform(0.8, 1.4) * half
        x = x0 + vx * phase + recurve * phase**2
        y = y0 + vy * phase + 0.5 * recurve * phase**2
        peak = rng.uniform(0.8, 1.0)
        intensity = peak * np.sin(np.pi * phase) ** 0.8
        return float(x), float(y), float(intensity)

    def brightness_temperature(self, time: pd.Timestamp) -> np.ndarray:
        """The infrared field (K, float32) at a valid time."""
        hours = (time - EPOCH) / pd.Timedelta(hours=1)
        storm, remainder = divmod(hours, self.options.lifetime_h)
        phase = remainder / self.options.lifetime_h
        cx, cy, intensity = self._track(int(storm), phase)
        dx, dy = self.xx - cx, self.yy - cy
        r = np.hypot(dx, dy) + 1e-3
        theta = np.arctan2(dy, dx)
        scale = 150.0 + 250.0 * intensity
        eye = 12.0 + 18.0 * (1 - intensity)
        bands = (0.5 + 0.5 * np.cos(3 * theta + 2.5 * np.log(r / scale) - 0.8 * hours)) ** 2
        bands *= np.exp(-r / (2.5 * scale)) * np.clip(r / scale - 0.3, 0, 1)
        overcast = np.exp(-((r / scale) ** 2))
        eyewall = np.exp(-(((r - 2.2 * eye) / (0.9 * eye)) ** 2))
        clear_eye = np.exp(-((r / eye) ** 2)) * np.clip(2 * intensity - 0.6, 0, 1)
        cloud = intensity * (0.85 * overcast + 0.75 * bands + 0.3 * eyewall) - 0.9 * clear_eye
        kx, ky, drift, phi = self._noise_modes.T
        waves = np.cos(
            self.xx[..., None] * kx + self.yy[..., None] * ky + drift * hours + phi
        ).mean(axis=-1)
        convection = 0.55 * np.clip(waves * 3.0 - 0.9, 0, 1)
        cold = np.clip(np.maximum(cloud, 0) + convection * (1 - overcast), 0, 1)
        warm_south = 4.0 * (self.yy / self.options.size_km)
        kelvin = CLEAR_SKY_K - 4.0 - warm_south - (CLEAR_SKY_K - COLDEST_K - 6.0) * cold
        return np.clip(kelvin, COLDEST_K, CLEAR_SKY_K).astype(np.float32)


class SyntheticSource:
    """Frames of the seeded storm at every cadence step up to `until`."""

    options_model = SyntheticOptions
    keeps_originals = False
    bounded = False

    def __init__(
        self, options: SyntheticOptions, cadence: pd.Timedelta, start: pd.Timestamp | None
    ) -> None:
        self.options = options
        self.cadence = cadence
        self.start = start
        self.storm = Storm(options)

    def candidates(self, since: pd.Timestamp | None, until: pd.Timestamp) -> list[Candidate]:
        """One frame per cadence step in [since, until] (never before the pipeline's start)."""
        bounds = [t for t in (since, self.start) if t is not None]
        first = max(bounds) if bounds else until
        times = pd.date_range(
            first.ceil(self.cadence), until.floor(self.cadence), freq=self.cadence
        )
        seed = self.options.seed
        return [
            Candidate(
                t,
                f"synthetic-{seed}-{t:%Y%m%dT%H%M}",
                f"synthetic://seed={seed}/{t:%Y%m%dT%H%M%SZ}",
            )
            for t in times
        ]

    def fetch(self, candidate: Candidate) -> Fetched:
        """Generate the frame (physical K on the native grid, with its valid time)."""
        values = self.storm.brightness_temperature(candidate.time)
        scalars = {"time": candidate.time.to_datetime64()}
        frame = frame_array(values, self.storm.x, self.storm.y, self.storm.crs, ATTRS, scalars)
        return Fetched(candidate, frame=frame, provenance=candidate.location)
