"""Pipeline definitions: `pipelines/<name>.toml`, validated by pydantic, `${VAR}`-expanded.

A pipeline names its source (kind, location, format, variable, cadence), the target grid,
the value transform, frame checks, ingest and schedule settings, the model preset and
products, the forecast window, and optionally the storms to follow (`[follow]`). Kind- and
format-specific keys are checked by the source's and the reader's own option models, so a
typo anywhere is an error naming the key.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    model_validator,
)

from nowcast.core import (
    ConfigError,
    NowcastError,
    Strict,
    describe_validation_error,
    parse_duration,
    utc,
)
from nowcast.ingest.checks import FrameChecks
from nowcast.ingest.follow import FollowSpec
from nowcast.ingest.readers import Reader, ReaderOptions, get_reader
from nowcast.ingest.sources import Source, get_source
from nowcast.settings import Settings, expand_tree, read_toml
from nowcast.store import GridSpec, Transform


def _duration(value: Any) -> pd.Timedelta:
    """Pydantic hook: durations such as `10min` or `8h` (ValueError so pydantic reports it)."""
    try:
        return parse_duration(value)
    except NowcastError as exc:
        raise ValueError(str(exc)) from None


def _format_duration(value: timedelta) -> str:
    """Durations as ISO 8601 (`PT8H`), which pipeline files and `parse_duration` accept."""
    return pd.Timedelta(value).isoformat()


Duration = Annotated[
    timedelta, BeforeValidator(_duration), PlainSerializer(_format_duration, return_type=str)
]
UtcTime = Annotated[datetime, AfterValidator(lambda value: utc(value).to_pydatetime())]


class SourceConfig(BaseModel):
    """`[source]`: the common keys; any other key belongs to the kind (checked on load)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    kind: str
    format: str | None = None
    variable: str | None = None
    cadence: Duration
    start: UtcTime | None = None
    reader: dict[str, Any] = Field(default_factory=dict, description="reader options")

    @property
    def options(self) -> dict[str, Any]:
        """The kind-specific keys (e.g. `path`, `pattern` or `url`)."""
        return dict(self.model_extra or {})


class IngestSettings(Strict):
    """How far back runs look and how frames are committed."""

    lookback: Duration = Field(pd.Timedelta("2h"), description="re-check before newest frame")
    initial: Duration = Field(pd.Timedelta("12h"), description="first run of an endless source")
    batch: int = Field(64, ge=1, description="frames per archive commit")
    max_failures: int = Field(3, ge=1, description="consecutive failed fetches before giving up")
    run_budget: Duration = Field(
        pd.Timedelta("15min"), description="no new fetch starts after this long in one run"
    )
    max_future: Duration = Field(
        pd.Timedelta("15min"), description="how far past now a valid time may lie"
    )


class ScheduleSection(Strict):
    """How often the scheduler ingests this pipeline."""

    every_minutes: int = Field(10, gt=0)


class ModelSection(Strict):
    """The model preset and map products to run after each ingest."""

    preset: str = "modernn-typhoon"
    products: list[str] = Field(default_factory=lambda: ["maps"])
    # A shipped checkpoint (models/pretrained/<name>) to forecast with until one is trained here.
    pretrained: str | None = None


class ForecastSection(Strict):
    """The forecast window: history in, horizon out (read by train/forecast/verify)."""

    history: Duration = pd.Timedelta("8h")
    horizon: Duration = pd.Timedelta("4h")


class PipelineConfig(Strict):
    """One pipeline file, validated."""

    name: str
    description: str = ""
    source: SourceConfig
    grid: GridSpec = Field(default_factory=GridSpec)
    transform: Transform = Field(default_factory=Transform)
    checks: FrameChecks = Field(default_factory=FrameChecks)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    schedule: ScheduleSection = Field(default_factory=ScheduleSection)
    model: ModelSection = Field(default_factory=ModelSection)
    forecast: ForecastSection = Field(default_factory=ForecastSection)
    follow: FollowSpec | None = None

    @model_validator(mode="after")
    def _follow_crop(self) -> PipelineConfig:
        """Storm-centred boxes are cropped in metres (`grid.extent`), never by a lon/lat box."""
        if self.follow is not None and self.grid.bbox is not None:
            raise ValueError(
                "with [follow], crop with grid.extent (metres from the storm centre), not "
                "grid.bbox; a source or reader box goes in [source] or [source.reader]"
            )
        return self

    @property
    def cadence(self) -> pd.Timedelta:
        """The source's cadence as a pandas Timedelta."""
        return pd.Timedelta(self.source.cadence)

    @property
    def fingerprint(self) -> str:
        """A hash of what decides whether an input is accepted: source, grid, checks, etc.

        The ledger records it, so inputs rejected under one definition are retried after an edit.
        """
        keys = {"source", "grid", "transform", "checks", "follow"}
        values = self.model_dump(mode="json", include=keys)
        text = json.dumps(values, separators=(",", ":"), ensure_ascii=False)
        # A path may hold bytes that are not UTF-8 (kept by Python as surrogate escapes).
        return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


# (section, key) of file paths that are relative to the pipeline file's folder
RELATIVE_PATHS = (
    (("source",), "path"),
    (("source", "reader"), "lut"),
    (("follow",), "track"),
    (("follow",), "metadata"),
)


def list_pipelines(settings: Settings) -> list[str]:
    """Names of the pipeline files in the settings' pipelines folder."""
    return sorted(path.stem for path in settings.pipelines_dir.glob("*.toml"))


def load_pipeline(settings: Settings, name: str, source: bool = True) -> PipelineConfig:
    """Load and validate `pipelines/<name>.toml`; ConfigError naming what is wrong.

    `source=False` (forecast, train, verify: they read only the archive) leaves `[source]`
    unexpanded and unchecked, so the source's environment variables need not be set.
    """
    path = settings.pipelines_dir / f"{name}.toml"
    if not path.is_file():
        available = ", ".join(list_pipelines(settings)) or "none"
        raise ConfigError(
            f"no pipeline {name!r} in {settings.pipelines_dir} (available: {available})"
        )
    return read_pipeline(path, source=source)


def read_pipeline(
    path: Path, environ: Mapping[str, str] | None = None, source: bool = True
) -> PipelineConfig:
    """Parse, expand and validate one pipeline file (relative paths: from its folder)."""
    raw = read_toml(path)
    unexpanded = None if source else raw.pop("source", None)
    tree = expand_tree(raw, os.environ if environ is None else environ)
    if unexpanded is not None:
        tree["source"] = unexpanded
    if tree.setdefault("name", path.stem) != path.stem:
        raise ConfigError(f"{path}: name {tree['name']!r} differs from the file name")
    for section, key in RELATIVE_PATHS:
        where = tree
        for name in section:
            where = where.get(name) if isinstance(where, dict) else None
        if isinstance(where, dict) and isinstance(where.get(key), str):
            where[key] = str(path.parent / Path(where[key]).expanduser())
    try:
        config = PipelineConfig.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(str(path), exc)) from None
    if source:
        source_options(config, str(path))
        reader_options(config, str(path))
    return config


def with_grid_bbox(
    model: type[BaseModel], raw: Mapping[str, Any], config: PipelineConfig
) -> dict[str, Any]:
    """Options with `bbox` defaulting to `grid.bbox`, for kinds and formats that take a box."""
    options = dict(raw)
    if "bbox" in model.model_fields and config.grid.bbox is not None:
        options.setdefault("bbox", config.grid.bbox)
    return options


def source_options(config: PipelineConfig, where: str = "pipeline") -> Any:
    """The kind-specific `[source]` keys, validated by the source kind's options model."""
    source_class = get_source(config.source.kind)
    raw = with_grid_bbox(source_class.options_model, config.source.options, config)
    try:
        return source_class.options_model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(f"{where} [source]", exc)) from None


def reader_options(config: PipelineConfig, where: str = "pipeline") -> ReaderOptions | None:
    """`[source.reader]` plus `source.variable`, validated by the format's options model."""
    if config.source.format is None:
        if config.source.kind != "synthetic":
            raise ConfigError(
                f"{where}: source.format is required for a {config.source.kind} source"
            )
        return None
    reader = get_reader(config.source.format)
    raw = with_grid_bbox(reader.options_model, config.source.reader, config)
    if config.source.variable:
        raw.setdefault("variable", config.source.variable)
    try:
        return reader.options_model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(f"{where} [source.reader]", exc)) from None


def make_source(config: PipelineConfig) -> Source:
    """The pipeline's source, ready to list and fetch frames."""
    start = utc(config.source.start) if config.source.start else None
    options = source_options(config, config.name)
    return get_source(config.source.kind)(options, config.cadence, start)


def make_reader(config: PipelineConfig) -> tuple[Reader, ReaderOptions] | None:
    """The pipeline's reader and its options (None for sources that deliver arrays)."""
    options = reader_options(config, config.name)
    if options is None or config.source.format is None:
        return None
    return get_reader(config.source.format), options
