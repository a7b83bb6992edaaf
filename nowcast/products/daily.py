"""The daily products: which forecasts each pipeline's sheet shows (00/06/12/18 UTC or nearest),
the day's verification scores, the sheet itself (forecasts above, observations below, then
scores) and the day's index.html."""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from html import escape
from pathlib import Path

import pandas as pd
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from nowcast.core import DataMissingError, __version__, atomic_path, iso_minutes
from nowcast.products.figures import (
    Rect,
    add_colorbar,
    add_map,
    decorate,
    draw_field,
    draw_storm,
    forecast_frames,
    grid_layout,
    observation_frame,
    panel_leads,
    save_png,
    storm_from_attrs,
)
from nowcast.products.maps import MapFeatures, MapGrid, map_features, map_grid
from nowcast.products.probability import probability_figure
from nowcast.products.styles import FieldStyle, field_style
from nowcast.settings import Settings
from nowcast.store import (
    ForecastFile,
    init_time,
    is_ensemble,
    lead_times,
    list_forecasts,
    open_forecast,
    read_observation,
    valid_times,
)

log = logging.getLogger(__name__)


REQUIRED_COLUMNS = {"pipeline", "init_time", "lead_time", "method", "score", "value"}
TABLE_NAMES = ("scores.parquet", "scores.csv")


@dataclass(frozen=True)
class DayScores:
    """Mean scores (columns key, method, lead_h, value) or None, and where they came from."""

    table: pd.DataFrame | None
    note: str


def read_score_table(folder: Path) -> tuple[pd.DataFrame | None, str]:
    """The first readable `scores.parquet`/`scores.csv` in `folder`, or None and why not."""
    for name in TABLE_NAMES:
        path = folder / name
        if not path.is_file():
            continue
        try:
            table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        except (ImportError, OSError, ValueError) as exc:
            log.warning("could not read %s: %s", path, exc)
            continue
        missing = REQUIRED_COLUMNS - set(table.columns)
        if missing:
            log.warning("%s lacks columns %s", path, ", ".join(sorted(missing)))
            continue
        return table, f"scores from {path}"
    return None, f"no verification scores table in {folder} (run `nowcast verify`)"


def _lead_hours(column: pd.Series) -> pd.Series:
    """Lead times in hours from integer minutes or timedelta text."""
    numeric = pd.to_numeric(column, errors="coerce")
    if numeric.notna().all():
        return numeric / 60.0
    return pd.to_timedelta(column).dt.total_seconds() / 3600.0


def _score_key(row: pd.Series) -> str:
    """`CSI (thr 1)`, `FSS (thr 1, 4 px)` or just the score's name."""
    details = []
    threshold = row.get("threshold")
    if threshold is not None and pd.notna(threshold):
        details.append(f"thr {float(threshold):g}")
    scale = row.get("scale")
    if scale is not None and pd.notna(scale) and float(scale) > 0:
        details.append(f"{int(scale)} px")
    return f"{row['score']} ({', '.join(details)})" if details else str(row["score"])


def day_scores(folder: Path, pipeline: str, day: date) -> DayScores:
    """Mean of each score over the day's inits of one pipeline, per method and lead time."""
    table, note = read_score_table(folder)
    if table is None:
        return DayScores(None, note)
    init = pd.to_datetime(table["init_time"], utc=True, errors="coerce")
    rows = table[(table["pipeline"] == pipeline) & (init.dt.date == day)].copy()
    rows["value"] = pd.to_numeric(rows["value"], errors="coerce")
    rows = rows.dropna(subset=["value"])
    if rows.empty:
        return DayScores(None, f"no scores for {pipeline} on {day.isoformat()} ({note})")
    rows["lead_h"] = _lead_hours(rows["lead_time"])
    rows["key"] = rows.apply(_score_key, axis=1)
    means = rows.groupby(["key", "method", "lead_h"], as_index=False)["value"].mean()
    inits = rows["init_time"].nunique()
    return DayScores(means, f"mean over {inits} init(s); {note}")


SYNOPTIC_HOURS = (0, 6, 12, 18)
MAX_OFFSET = timedelta(hours=3)
ENSEMBLE_TAGS = ("model-ensemble", "steps")  # file-name method tags of ensemble forecasts


@dataclass(frozen=True)
class DailyCase:
    """One forecast on the sheet, the lead indices it shows, and the observation at each.

    Each observation keeps its own file's grid: storm-centred grids move with the storm.
    """

    forecast: ForecastFile
    ds: xr.Dataset
    leads: list[int]
    observed: list[xr.Dataset | None]


def is_ensemble_file(forecast: ForecastFile) -> bool:
    """Whether a file's name says it holds an ensemble (the model's or STEPS)."""
    return forecast.method.startswith(ENSEMBLE_TAGS)


def synoptic_inits(files: list[ForecastFile], day: date) -> list[ForecastFile]:
    """For 00, 06, 12 and 18 UTC, the init on `day` nearest each (within 3 h), no repeats.

    At one init a deterministic forecast wins over an ensemble's mean: the mean of members is
    smoother than any forecast that could happen, and the ensemble gets its probability maps.
    """
    same_day = [f for f in files if f.init_time.date() == day]
    chosen: list[ForecastFile] = []
    for hour in SYNOPTIC_HOURS:
        target = pd.Timestamp(day) + pd.Timedelta(hours=hour)
        near = [f for f in same_day if abs(f.init_time - target) <= MAX_OFFSET]
        if near:
            best = min(
                near,
                key=lambda f: (abs(f.init_time - target), is_ensemble_file(f), f.init_time),
            )
            if best not in chosen:
                chosen.append(best)
    return chosen


def observed_at(
    by_init: dict[pd.Timestamp, ForecastFile], valid: pd.Timestamp
) -> xr.Dataset | None:
    """The observation at `valid`: the `observation` of the forecast initialised then, if any."""
    later = by_init.get(valid)
    if later is None:
        return None
    try:
        return read_observation(later.path)
    except (OSError, KeyError, ValueError) as exc:
        log.warning("could not read the observation in %s: %s", later.path, exc)
        return None


def daily_cases(files: list[ForecastFile], day: date) -> list[DailyCase]:
    """The day's synoptic forecasts of one pipeline, each beside what was later observed."""
    by_init = {f.init_time: f for f in files}
    cases = []
    for chosen in synoptic_inits(files, day):
        ds = open_forecast(chosen.path)
        leads = panel_leads(lead_times(ds))
        valid = valid_times(ds)
        observed = [observed_at(by_init, valid[i]) for i in leads]
        cases.append(DailyCase(chosen, ds, leads, observed))
    return cases


COLUMNS = 5
PANEL_WIDTH_IN = 2.6
TITLE_IN = 0.75
SCORE_COLUMNS = 6
SCORE_ROW_IN = 1.9
NOTE_IN = 0.5
FONT_SIZE = 7.0
METHOD_COLOURS = {
    "model": "#1f77b4",
    "persistence": "#ff7f0e",
    "extrapolation": "#2ca02c",
    "sprog": "#9467bd",
}


def _scores_height(scores: DayScores) -> float:
    """Inches the scores section needs: a note, plus a row of charts per six scores."""
    if scores.table is None:
        return NOTE_IN
    return NOTE_IN + math.ceil(scores.table["key"].nunique() / SCORE_COLUMNS) * SCORE_ROW_IN


def _not_observed(ax: Axes, grid: MapGrid, features: MapFeatures, style: FieldStyle) -> None:
    """A map left empty and labelled, for a valid time whose observation has not arrived."""
    ax.set_facecolor("#f2f2f2")
    dark_lines = replace(style, kind="rain")
    decorate(ax, grid, features, dark_lines, left_labels=False, font_size=FONT_SIZE - 1)
    ax.text(
        0.5,
        0.5,
        "not yet observed",
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=FONT_SIZE + 1,
        color="0.35",
    )


def _storm(ax: Axes, ds: xr.Dataset) -> None:
    """The storm's position (and track) on storm-centred maps."""
    storm = storm_from_attrs(ds)
    if storm is not None:
        draw_storm(ax, storm, font_size=FONT_SIZE - 1)


def _case_rows(
    fig: Figure,
    rects: tuple[Rect, ...],
    case: DailyCase,
    grid: MapGrid,
    style: FieldStyle,
    features: MapFeatures,
) -> AxesImage:
    """Forecast row (observation at init, then leads) and observed row for one case."""
    frames = [observation_frame(case.ds), *forecast_frames(case.ds, case.leads)]
    init = iso_minutes(init_time(case.ds))
    images = []
    for col, (frame, rect) in enumerate(zip(frames, rects[:COLUMNS], strict=False)):
        ax = add_map(fig, rect, grid)
        images.append(draw_field(ax, grid, frame.values, style))
        decorate(ax, grid, features, style, col == 0, bottom_labels=False, font_size=FONT_SIZE - 1)
        _storm(ax, case.ds)
        title = f"observed at init\n{init}" if col == 0 else f"forecast {frame.title}"
        ax.set_title(title, fontsize=FONT_SIZE, linespacing=1.2)
    note = fig.add_axes(rects[COLUMNS])
    note.axis("off")
    note.text(
        0.02,
        0.5,
        f"init {init}\n"
        f"{case.ds.attrs.get('model', '')} ({case.ds.attrs.get('method', 'model')})\n\n"
        "above: forecast\nright: observed",
        va="center",
        fontsize=FONT_SIZE + 1,
    )
    valid = valid_times(case.ds)
    for lead, observed, rect in zip(case.leads, case.observed, rects[COLUMNS + 1 :], strict=False):
        if observed is None:
            ax = add_map(fig, rect, grid)
            _not_observed(ax, grid, features, style)
        else:
            observed_grid = map_grid(observed, "observation")
            ax = add_map(fig, rect, observed_grid)
            values = observed["observation"].transpose("y", "x").values
            draw_field(ax, observed_grid, values, style)
            decorate(ax, observed_grid, features, style, False, font_size=FONT_SIZE - 1)
            _storm(ax, observed)
        ax.set_title(f"observed\n{iso_minutes(valid[lead])}", fontsize=FONT_SIZE, linespacing=1.2)
    return images[0]


def _score_charts(fig: Figure, footer: Rect, scores: DayScores, width_in: float) -> None:
    """One small chart per score (value against lead time, a line per method), or a note."""
    left, bottom, width, height = footer
    fig.text(
        left,
        bottom + height - 0.25 / fig.get_figheight(),
        f"Verification for the day: {scores.note}",
        fontsize=FONT_SIZE + 1,
        va="top",
    )
    if scores.table is None:
        return
    keys = sorted(scores.table["key"].unique())
    cell_w = width / SCORE_COLUMNS
    cell_h = SCORE_ROW_IN / fig.get_figheight()
    top = bottom + height - NOTE_IN / fig.get_figheight()
    for index, key in enumerate(keys):
        row, col = divmod(index, SCORE_COLUMNS)
        rect = (
            left + col * cell_w + 0.35 / width_in,
            top - (row + 1) * cell_h + 0.35 / fig.get_figheight(),
            cell_w - 0.55 / width_in,
            cell_h - 0.7 / fig.get_figheight(),
        )
        ax = fig.add_axes(rect)
        chosen: pd.DataFrame = scores.table[scores.table["key"] == key]
        for method, rows in chosen.groupby("method"):
            ax.plot(
                rows["lead_h"],
                rows["value"],
                marker="o",
                ms=3,
                lw=1.2,
                color=METHOD_COLOURS.get(str(method)),
                label=str(method),
            )
        ax.set_title(key, fontsize=FONT_SIZE)
        ax.set_xlabel("lead time (h)", fontsize=FONT_SIZE - 1)
        ax.tick_params(labelsize=FONT_SIZE - 1)
        ax.grid(alpha=0.3)
        if index == 0:
            ax.legend(fontsize=FONT_SIZE - 1, frameon=False)


def daily_sheet(pipeline: str, day: date, cases: list[DailyCase], scores: DayScores) -> Figure:
    """The sheet: each synoptic forecast above what was observed, a colour bar, the scores."""
    first = cases[0].ds
    grid = map_grid(first)
    style = field_style(first["forecast"])
    features = map_features(grid.width_km)
    layout = grid_layout(
        2 * COLUMNS * len(cases),
        COLUMNS,
        grid.aspect,
        PANEL_WIDTH_IN,
        TITLE_IN,
        _scores_height(scores),
    )
    fig = Figure(figsize=layout.size)
    FigureCanvasAgg(fig)
    images = []
    for number, case in enumerate(cases):
        rects = layout.panels[2 * COLUMNS * number : 2 * COLUMNS * (number + 1)]
        images.append(_case_rows(fig, rects, case, map_grid(case.ds), style, features))
    add_colorbar(fig, layout.colorbar, images[0], style)
    _score_charts(fig, layout.footer, scores, layout.size[0])
    fig.suptitle(
        f"{pipeline}  ·  daily summary {day.isoformat()}  ·  {first.attrs.get('model', '')}\n"
        "forecasts at 00/06/12/18 UTC (or the nearest init) above what was observed (UTC)",
        fontsize=FONT_SIZE + 3,
        y=1 - 0.1 / layout.size[1],
        va="top",
    )
    return fig


@dataclass(frozen=True)
class SheetEntry:
    """One pipeline's sheet as the index lists it."""

    pipeline: str
    image: str
    inits: list[str]
    scores_note: str
    probability: list[str] = field(default_factory=list)


def index_html(day: date, entries: list[SheetEntry]) -> str:
    """A small self-contained page linking each sheet, with its inits and scores note."""
    sections = []
    for entry in entries:
        inits = ", ".join(escape(i) for i in entry.inits)
        sections.append(
            f"<section><h2>{escape(entry.pipeline)}</h2>\n"
            f"<p>Forecasts initialised {inits}. {escape(entry.scores_note)}.</p>\n"
            f'<a href="{escape(entry.image)}"><img src="{escape(entry.image)}" '
            f'alt="{escape(entry.pipeline)} daily summary" width="900"></a>'
            + "".join(
                f'<h3>ensemble probabilities</h3><a href="{escape(image)}"><img '
                f'src="{escape(image)}" alt="{escape(entry.pipeline)} probability maps" '
                'width="900"></a>'
                for image in entry.probability
            )
            + "</section>"
        )
    body = "\n".join(sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>nowcast daily summary {day.isoformat()}</title>"
        "<style>body{font-family:sans-serif;margin:2em;max-width:960px}"
        "img{max-width:100%;border:1px solid #ccc}</style></head><body>\n"
        f"<h1>nowcast daily summary {day.isoformat()} (UTC)</h1>\n{body}\n"
        f"<footer><p>Made by nowcast {escape(__version__)}.</p></footer>\n</body></html>\n"
    )


SHEET_DPI = 80


def _by_pipeline(files: list[ForecastFile]) -> dict[str, list[ForecastFile]]:
    """Forecast files grouped by pipeline, each group oldest first."""
    groups: dict[str, list[ForecastFile]] = defaultdict(list)
    for forecast in files:
        groups[forecast.pipeline].append(forecast)
    return dict(sorted(groups.items()))


def _probability_sheets(files: list[ForecastFile], day: date, out_dir: Path) -> list[str]:
    """The probability maps of the day's synoptic ensemble forecasts (the model's ensemble
    where there is one, else STEPS), written beside the sheet; their file names."""
    ensembles = [f for f in files if is_ensemble_file(f)]
    preferred = [f for f in ensembles if f.method.startswith(ENSEMBLE_TAGS[0])] or ensembles
    names = []
    for chosen in synoptic_inits(preferred, day):
        ds = open_forecast(chosen.path)
        if not is_ensemble(ds):
            continue
        image = out_dir / f"{chosen.path.stem}_probability.png"
        with atomic_path(image) as tmp:
            save_png(probability_figure(ds), tmp, dpi=SHEET_DPI)
        names.append(image.name)
    return names


def render_daily(settings: Settings, day: date, pipelines: Sequence[str] | None = None) -> Path:
    """Write `<products>/daily/<day>/<pipeline>_<day>.png` per pipeline and an index.html."""
    groups = _by_pipeline(list_forecasts(settings.output.forecasts))
    if pipelines is not None:
        groups = {name: files for name, files in groups.items() if name in pipelines}
    out_dir = settings.output.products / "daily" / day.isoformat()
    entries = []
    for pipeline, files in groups.items():
        cases = daily_cases(files, day)
        if not cases:
            continue
        scores = day_scores(settings.output.verification, pipeline, day)
        out_dir.mkdir(parents=True, exist_ok=True)
        sheet = out_dir / f"{pipeline}_{day.isoformat()}.png"
        with atomic_path(sheet) as tmp:
            save_png(daily_sheet(pipeline, day, cases, scores), tmp, dpi=SHEET_DPI)
        log.info("wrote %s", sheet)
        inits = [iso_minutes(case.forecast.init_time) for case in cases]
        maps = _probability_sheets(files, day, out_dir)
        entries.append(SheetEntry(pipeline, sheet.name, inits, scores.note, maps))
    if not entries:
        where = settings.output.forecasts
        raise DataMissingError(f"no forecasts initialised on {day.isoformat()} in {where}")
    index = out_dir / "index.html"
    with atomic_path(index) as tmp:
        tmp.write_text(index_html(day, entries), encoding="utf-8")
    return index
