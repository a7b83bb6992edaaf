"""`nowcast pipeline new`: a commented pipeline file drafted from a folder of files.

It finds the time pattern and cadence in the names (`name_times`), the format by reading a
file (`format_probe`), then reads a few frames spread over the series for the quantity, units,
no-data share, value range and share of outlier pixels, and picks the windows the default
radar model takes. What it found is written as comments beside each key.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from nowcast.core import ConfigError, DataMissingError, short_duration
from nowcast.ingest.checks import DEFAULT_MAX_OUTLIERS
from nowcast.ingest.format_probe import Probe, probe_format, read_with
from nowcast.ingest.name_times import NameTimes, find_name_times
from nowcast.ingest.url_listing import download, is_url, listed_names, listing_source, url_template
from nowcast.models import pretrained_checkpoint, read_meta
from nowcast.store import is_rain

DEFAULT_RADAR_MODEL = "modernn-radar-guided"
SAMPLES = 5  # frames read to describe the values
MAX_RATE = 500.0  # mm/h: rain above this is clutter, not rain
MAX_LISTED = 100_000  # files looked at below the folder
REFLECTIVITY = " (reflectivity, stored as rain rate in mm/h through Z = 200 R^1.6)"


@dataclass(frozen=True)
class Findings:
    """What a folder's (or an HTTP listing's) files say: names and times, format, and the
    values of a few frames."""

    location: str  # the folder, or the listing's URL
    names: NameTimes
    cadence: pd.Timedelta
    probe: Probe
    rain_rate: bool
    units: str
    shape: tuple[int, int]
    missing: float
    low: float
    high: float
    outliers: float

    @property
    def remote(self) -> bool:
        """Whether the files were listed over HTTP (an `http` source) rather than in a folder."""
        return is_url(self.location)


def list_files(folder: Path) -> list[str]:
    """Regular, non-hidden files below `folder`, as paths relative to it."""
    if not folder.is_dir():
        raise DataMissingError(f"no folder at {folder}")
    found = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        found.append(relative.as_posix())
        if len(found) >= MAX_LISTED:
            break
    return found


def inspect_folder(folder: Path) -> Findings:
    """Read the folder's names and a few of its files; one clear error when they do not fit."""
    names = name_series(list_files(folder), str(folder))
    return inspect_files(str(folder), names, lambda name: folder / name)


def inspect_listing(url: str, scratch: Path) -> Findings:
    """`inspect_folder` for the files an HTTP listing links to: the names are checked for one
    URL per time before any file is fetched, and the few read are fetched once into `scratch`."""
    source = listing_source(url)
    names = name_series(listed_names(source, url), url)
    url_template(url, names.pattern)
    return inspect_files(url, names, cache(lambda name: download(source, url, name, scratch)))


def name_series(listed: list[str], location: str) -> NameTimes:
    """The series of times in the names listed at `location`; one clear error without one."""
    names = find_name_times(listed)
    if names is None or len(names.times) < 2:
        raise DataMissingError(
            f"no series of files with times in their names in {location} (at least 2 needed)"
        )
    return names


def inspect_files(location: str, names: NameTimes, path_of: Callable[[str], Path]) -> Findings:
    """Read a few of the files of the series (`path_of` gives a name's local file)."""
    cadence = names.cadence
    ordered = sorted(names.times, key=names.times.__getitem__)
    sample = path_of(ordered[len(ordered) // 2])
    probe = probe_format(sample, cadence)
    if isinstance(probe, tuple):
        raise DataMissingError(f"no reader reads {sample.name}; formats tried: {', '.join(probe)}")
    rain_rate = str(probe.frame.attrs.get("units", "")).lower() == "dbz"
    options = {**probe.options, "rain_rate": True} if rain_rate else probe.options
    picks = [ordered[round(i * (len(ordered) - 1) / (SAMPLES - 1))] for i in range(SAMPLES)]
    frames = [read_with(probe.format, path_of(name), options) for name in dict.fromkeys(picks)]
    values = np.stack([frame.values for frame in frames])
    units = str(frames[0].attrs.get("units", ""))
    low, high = valid_range(units, cadence, values)
    finite = values[np.isfinite(values)]
    outside = float(np.mean((finite < low) | (finite > high))) if finite.size else 0.0
    return Findings(
        location=location,
        names=names,
        cadence=cadence,
        probe=Probe(probe.format, options, frames[0], probe.tried),
        rain_rate=rain_rate,
        units=units,
        shape=(int(values.shape[1]), int(values.shape[2])),
        missing=float(np.mean(~np.isfinite(values))),
        low=low,
        high=high,
        outliers=outside,
    )


def per_cadence(units: str, cadence: pd.Timedelta) -> float:
    """What 1 mm/h is in `units` over `cadence` (accumulations) or 1 (rates)."""
    if units.strip().lower() in ("mm", "kg m-2"):
        return cadence / pd.Timedelta("1h")
    return 1.0


def valid_range(units: str, cadence: pd.Timedelta, values: np.ndarray) -> tuple[float, float]:
    """Plausible physical bounds: rain 0 to 500 mm/h in the stored units; else the sample's
    own range widened by a quarter on each side."""
    if is_rain(units):
        return 0.0, MAX_RATE * per_cadence(units, cadence)
    finite = values[np.isfinite(values)]
    low, high = float(finite.min()), float(finite.max())
    margin = 0.25 * (high - low or 1.0)
    return low - margin, high + margin


def radar_windows(cadence: pd.Timedelta) -> tuple[pd.Timedelta, pd.Timedelta]:
    """History and horizon the default radar model takes, the horizon whole in `cadence`s."""
    meta = read_meta(pretrained_checkpoint(DEFAULT_RADAR_MODEL))
    step = pd.Timedelta(meta.extra["step"])
    sequence = meta.sequence
    if sequence is None:
        raise ConfigError(f"the shipped {DEFAULT_RADAR_MODEL} records no window")
    history = sequence.input_frames * step
    longest = sequence.output_frames * step
    horizon = math.floor(longest / cadence) * cadence
    if horizon <= pd.Timedelta(0):
        raise ConfigError(
            f"files every {short_duration(cadence)} are further apart than the "
            f"{short_duration(longest)} the default radar model forecasts"
        )
    return history, horizon


def _toml_value(value: object) -> str:
    """A TOML literal for strings, numbers, booleans and lists of them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def _table(name: str, values: dict[str, object]) -> list[str]:
    """A TOML table's lines."""
    return [f"[{name}]", *(f"{key} = {_toml_value(value)}" for key, value in values.items())]


def draft_pipeline(name: str, found: Findings) -> str:
    """The commented pipeline text for what was found."""
    times = sorted(found.names.times.values())
    minutes = found.cadence / pd.Timedelta("1min")
    rain = is_rain(found.units) or found.rain_rate
    stored = "mm/h" if found.rain_rate else found.units
    matched, total = len(found.names.times), matched_total(found)
    lines = [
        f"# Drafted by `nowcast pipeline new {name}` from {found.location}:",
        f"# {matched} of {total} files matched the pattern, {times[0]:%Y-%m-%d %H:%M} to "
        f"{times[-1]:%Y-%m-%d %H:%M} UTC, one every {short_duration(found.cadence)}.",
        f"# Read by `{found.probe.format}` (formats tried before it: "
        f"{', '.join(found.probe.tried) or 'none'}); {found.shape[0]}x{found.shape[1]} "
        f"pixels in {found.units or 'no stated units'}"
        + (
            " (reflectivity, stored as rain rate in mm/h through Z = 200 R^1.6)"
            if found.rain_rate
            else ""
        )
        + ".",
        f"# In {SAMPLES} frames spread over the series: {found.missing:.1%} no-data, "
        f"{found.outliers:.4%} of valid pixels outside [{found.low:g}, {found.high:g}].",
        f'description = "{found.probe.frame.attrs.get("long_name", found.probe.format)}"',
        "",
    ]
    source = _source_keys(found)
    variable = found.probe.options.get("variable")
    if variable:
        source["variable"] = variable
    lines += _table("source", source)
    reader = {
        k: v for k, v in found.probe.options.items() if k not in ("variable", "importer_kwargs")
    }
    if reader:
        lines += ["", *_table("source.reader", reader)]
    if found.probe.options.get("importer_kwargs"):
        lines += [
            "",
            *_table("source.reader.importer_kwargs", found.probe.options["importer_kwargs"]),
        ]
    lines += ["", "[grid]", "shape = [64, 64]  # block-averaged to the radar model's grid"]
    lines += ["", *_transform_lines(stored, found.cadence, rain, found)]
    outliers = max(DEFAULT_MAX_OUTLIERS, round(2 * found.outliers, 4))
    lines += [
        "",
        "[checks]",
        f"shape = [{found.shape[0]}, {found.shape[1]}]",
        f"valid_range = [{found.low:g}, {found.high:g}]"
        + (f"  # 0-{MAX_RATE:g} mm/h" if rain else ""),
        f"max_outliers = {outliers:g}  # pixels outside the range become no-data (NaN)",
        f"max_missing = {min(0.99, max(0.9, round(found.missing + 0.05, 2))):g}",
        "",
        "[schedule]",
        f"every_minutes = {max(1, round(minutes))}",
    ]
    lines += ["", *_model_lines(rain, found.cadence)]
    return "\n".join(lines) + "\n"


def _source_keys(found: Findings) -> dict[str, object]:
    """`[source]`: the folder and its pattern, or the URL of each file in the listing's folder."""
    where: dict[str, object] = (
        {"kind": "http", "url": url_template(found.location, found.names.pattern)}
        if found.remote
        else {"kind": "directory", "path": found.location, "pattern": found.names.pattern}
    )
    return {
        **where,
        "format": found.probe.format,
        "cadence": short_duration(found.cadence).replace(" ", ""),
    }


def matched_total(found: Findings) -> int:
    """How many files the folder holds that were considered."""
    return len(found.names.times) + len(found.names.unmatched)


def _transform_lines(stored: str, cadence: pd.Timedelta, rain: bool, found: Findings) -> list[str]:
    """`[transform]`: log rain over 0.1-100 mm/h in the stored units, else the value range."""
    if rain:
        scale = per_cadence(stored, cadence)
        return [
            "[transform]",
            f'kind = "log10"  # 0.1-100 mm/h as {stored} -> [0, 1]',
            f"vmin = {0.1 * scale:g}",
            f"vmax = {100.0 * scale:g}",
            "# no `fill`: pixels outside the radar's range stay NaN (no-data), never dry",
        ]
    return [
        "[transform]",
        'kind = "linear"',
        f"vmin = {found.low:g}",
        f"vmax = {found.high:g}",
    ]


def _model_lines(rain: bool, cadence: pd.Timedelta) -> list[str]:
    """`[model]` and `[forecast]`: the default radar model and the windows it takes."""
    if not rain:
        return [
            "# Not rain: no shipped model reads these values; train one with",
            "# `nowcast train`, or forecast with a baseline (--baseline extrapolation).",
            "[model]",
            'products = ["maps"]',
        ]
    history, horizon = radar_windows(cadence)
    return [
        "[model]",
        'preset = "modernn-radar"',
        'products = ["maps"]',
        f'pretrained = "{DEFAULT_RADAR_MODEL}"  # shipped radar model until one is trained here',
        "",
        "[forecast]",
        f'history = "{short_duration(history).replace(" ", "")}"  # what the model reads',
        f'horizon = "{short_duration(horizon).replace(" ", "")}"  # at the files\' cadence',
    ]
