"""The tool's settings: a TOML file validated by pydantic, with `NOWCAST_*` overrides."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from nowcast.core import ConfigError, Strict, describe_validation_error, shipped
from nowcast.settings.envexpand import expand_tree

DEFAULT_CONFIG = Path("nowcast.toml")
# The pipeline files that ship with the project (demo, radar, satellite, typhoon).
BUILTIN_PIPELINES = shipped("pipelines")

# Environment variables that override one key each (dotted path into the settings).
ENV_OVERRIDES: dict[str, str] = {
    "NOWCAST_ARCHIVE": "archive",
    "NOWCAST_PIPELINES_DIR": "pipelines_dir",
    "NOWCAST_PIPELINES": "pipelines",
    "NOWCAST_MODEL": "model",
    "NOWCAST_DEVICE": "device",
    "NOWCAST_FORECASTS": "output.forecasts",
    "NOWCAST_PRODUCTS": "output.products",
    "NOWCAST_SCHEDULER": "backfill.scheduler",
}


class OutputSettings(Strict):
    """Where the tool writes what it makes."""

    forecasts: Path = Field(Path("runs/forecasts"), description="forecast store and NetCDF files")
    products: Path = Field(Path("products"), description="map products (PNG, GIF, daily pages)")
    verification: Path = Field(Path("runs/verification"), description="score tables and reports")
    checkpoints: Path = Field(Path("models/checkpoints"), description="trained model checkpoints")


class BackfillSettings(Strict):
    """Where `nowcast ingest` decodes long runs in parallel (Dask; `nowcast.ingest.backfill`)."""

    scheduler: str | None = Field(
        None,
        pattern=r"^(tcp|tls|inproc|ucx)://\S+$",
        description="Dask scheduler address, e.g. tcp://dask-scheduler:8786 (default: local)",
    )
    workers: int | None = Field(None, gt=0, description="local cluster workers (default: free)")
    threshold: int = Field(
        256, ge=0, description="frames to fetch above which ingest starts a local cluster"
    )


class TrainingSettings(Strict):
    """How `nowcast train` reads the archive."""

    cache_mb: float = Field(
        512.0,
        gt=0,
        description=(
            "bound on the window reader's data path, per rank and worker: its cache of archive "
            "chunks plus the training batch it assembles (batch x frames x H x W x 4 bytes), "
            "the buffers each zarr reading thread keeps, the frame times and the code reading "
            "loads; a bound without room for those and one cached chunk is refused"
        ),
    )
    loader_workers: int = Field(
        0,
        ge=0,
        description="DataLoader worker processes reading training windows per rank (0: none)",
    )


class ServeSettings(Strict):
    """What `nowcast serve` agrees to load."""

    max_forecast_mb: float = Field(
        512.0, gt=0, description="largest forecast file (its arrays, decoded) the page loads"
    )


class ScheduleSettings(Strict):
    """What the `nowcast schedule` daemon runs and when (UTC)."""

    daily_product_utc: str = Field("06:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    verify_every_minutes: int = Field(60, gt=0)
    state_dir: Path = Field(Path("runs/scheduler"), description="job store, lock and heartbeat")


class EnsembleSettings(Strict):
    """Ensemble nowcasts (`nowcast forecast --ensemble N`, `--baseline steps`, the backtest's
    `--ensemble` and the scheduled job)."""

    members: int = Field(
        20, ge=2, description="members when none is asked for (STEPS, backtest, scheduler)"
    )
    max_memory_mb: float = Field(
        1024.0,
        gt=0,
        description="bound on one ensemble forecast's arrays (members x leads x grid); a larger "
        "ensemble is refused before it runs",
    )
    seed: int = Field(0, ge=0, description="random seed of member 0 (member m uses seed + m)")
    scheduled: bool = Field(
        False, description="the scheduler also writes the model's ensemble after each forecast"
    )


DEFAULT_MAX_PARAMETERS = 50_000_000


class Settings(Strict):
    """Effective configuration of one nowcast installation."""

    archive: Path = Field(Path("archive/nowcast.zarr"), description="the Zarr archive")
    pipelines_dir: Path = Field(BUILTIN_PIPELINES, description="folder of pipeline *.toml files")
    pipelines: list[str] = Field(default_factory=lambda: ["demo"], description="pipelines to run")
    model: str | None = Field(
        None, description="model preset name or checkpoint folder (default: each pipeline's)"
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"
    max_model_parameters: int = Field(
        DEFAULT_MAX_PARAMETERS, gt=0, description="largest model a checkpoint may describe"
    )
    output: OutputSettings = Field(default_factory=OutputSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    backfill: BackfillSettings = Field(default_factory=BackfillSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    ensemble: EnsembleSettings = Field(default_factory=EnsembleSettings)


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    """Set `a.b` in a nested dict, creating sections on the way."""
    *sections, key = dotted.split(".")
    node = tree
    for section in sections:
        node = node.setdefault(section, {})
    node[key] = value


def _environment_overrides(environ: dict[str, str]) -> dict[str, Any]:
    """The settings keys that `NOWCAST_*` variables override."""
    tree: dict[str, Any] = {}
    for variable, dotted in ENV_OVERRIDES.items():
        if environ.get(variable):
            raw = environ[variable]
            value: Any = [p.strip() for p in raw.split(",") if p.strip()]
            _set_dotted(tree, dotted, value if dotted == "pipelines" else raw)
    return tree


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge where `extra` wins."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file, turning a missing file, a folder, an unreadable file, text that is not
    UTF-8 or bad syntax into a ConfigError."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder, not a config file") from None
    except PermissionError:
        raise ConfigError(f"{path}: permission denied (cannot read the config file)") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _resolve_paths(settings: Settings, base: Path) -> Settings:
    """Make relative paths relative to the config file's folder, so cron can run anywhere."""

    def resolve(path: Path) -> Path:
        return path if path.is_absolute() else base / path

    output = settings.output.model_copy(
        update={
            name: resolve(getattr(settings.output, name)) for name in OutputSettings.model_fields
        }
    )
    schedule = settings.schedule.model_copy(
        update={"state_dir": resolve(settings.schedule.state_dir)}
    )
    return settings.model_copy(
        update={
            "archive": resolve(settings.archive),
            "pipelines_dir": resolve(settings.pipelines_dir),
            "output": output,
            "schedule": schedule,
        }
    )


def load_settings(
    path: Path | None = None,
    environ: dict[str, str] | None = None,
    archive: Path | None = None,
) -> Settings:
    """Load settings from `path` (or ./nowcast.toml when present), then env, then `--archive`."""
    env = dict(os.environ if environ is None else environ)
    explicit = path is not None
    path = path or DEFAULT_CONFIG
    tree: dict[str, Any] = {}
    if explicit or path.exists():
        tree = expand_tree(read_toml(path), env)
        base = path.resolve().parent
    else:
        base = Path.cwd()
    tree = _merge(tree, _environment_overrides(env))
    if archive is not None:
        tree["archive"] = str(archive)
    try:
        settings = Settings.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(str(path), exc)) from None
    return _resolve_paths(settings, base)
