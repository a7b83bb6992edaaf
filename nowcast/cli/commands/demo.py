"""`nowcast demo`: run the whole chain end to end and say where everything is."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from nowcast.cli.choices import RealDay, value_of
from nowcast.cli.console import output_console
from nowcast.cli.options import out_option
from nowcast.cli.state import app_state

if TYPE_CHECKING:
    import pandas as pd

HEADLINE_SCORES = ("RMSE", "RMSE_SKILL", "CSI", "FSS")


def _label(rows: pd.DataFrame, score: str) -> tuple[str, pd.DataFrame]:
    """The row label and the rows of one headline score: the first threshold, smallest scale."""
    if score in ("CSI", "FSS"):
        rows = rows[rows["threshold"] == rows["threshold"].min()]
    if score == "FSS":
        rows = rows[rows["scale"] == rows["scale"].min()]
    first = rows.iloc[0]
    if score == "RMSE":
        return f"RMSE ({str(first['note']).split(';')[0]})", rows
    if score == "RMSE_SKILL":
        return "RMSE skill vs persistence", rows
    where = str(first["note"])
    if score == "FSS":
        return f"FSS @ {where}, {int(first['scale'])} px", rows
    return f"{score} @ {where}", rows


def _scores_table(summary_csv: Path, pipeline: str) -> Table:
    """Backtest scores accumulated over every case per lead: model beside the baselines."""
    import pandas as pd

    frame = pd.read_csv(summary_csv)
    frame = frame[frame["pipeline"] == pipeline]
    cases = frame.loc[frame["score"] == "VALID_FRACTION", "note"].iloc[0]
    table = Table(title=f"backtest {pipeline}: scores accumulated per lead time ({cases})")
    table.add_column("score")
    table.add_column("lead")
    methods = sorted(frame["method"].unique())
    for method in methods:
        table.add_column(method, justify="right")
    for score in HEADLINE_SCORES:
        rows = frame[frame["score"] == score]
        if rows.empty:
            continue
        label, rows = _label(rows, score)
        for lead in sorted(rows["lead_time"].unique()):
            cells = []
            for method in methods:
                match = rows[(rows["lead_time"] == lead) & (rows["method"] == method)]
                value = match["value"].iloc[0] if len(match) else None
                cells.append("-" if value is None or pd.isna(value) else f"{value:.3f}")
            table.add_row(label, f"+{lead} min", *cells)
    return table


def demo(
    ctx: typer.Context,
    out: Path = out_option("Folder for everything.", Path("runs/demo")),
    quick: bool = typer.Option(False, "--quick", help="A tiny training budget (CI, smoke test)."),
    real: RealDay | None = typer.Option(None, "--real", help="The real BOM radar day instead."),
    data: Path | None = typer.Option(None, "--data", help="Folder with the BOM files (--real)."),
    retrain: bool = typer.Option(False, "--retrain", help="Train again even if a model exists."),
    up_to_now: bool = typer.Option(
        False, "--up-to-now", help="Synthetic storm for the days before now, not the fixed period."
    ),
) -> None:
    """Ingest the synthetic typhoon, train briefly, forecast, map and verify, offline.

    The synthetic demo covers a fixed period (2024-09-01T06Z to 2024-09-05T06Z), so its output
    is the same on every date; --up-to-now covers the four days before now instead.
    Everything goes under --out; a second run reuses the archive and the trained model.
    """
    from nowcast.cli.demo import run_demo

    console = output_console()
    result = run_demo(
        app_state(ctx).settings, out.resolve(), quick, value_of(real), data, retrain, up_to_now
    )
    pipeline = result.ingest.pipelines[0]
    console.print(
        f"[bold]archive[/bold] {result.settings.archive}: {pipeline.name} fetched "
        f"{pipeline.fetched}, skipped {pipeline.skipped}, {pipeline.frames} frames"
    )
    if result.train is not None and result.train.card is not None:
        card = result.train.card
        console.print(
            f"[bold]model[/bold] {result.train.checkpoint} ({card['preset']}, "
            f"{card['iterations_done']} iterations in {card['wall_time_s']} s); "
            f"card {result.train.out_dir / 'card.md'}"
        )
    else:
        console.print("[bold]model[/bold] reused the trained checkpoint (--retrain to train again)")
    console.print(f"[bold]forecast[/bold] {result.forecast.netcdf}")
    for product in result.products:
        console.print(f"[bold]map[/bold] {product}")
    if result.summary is not None:
        console.print(_scores_table(result.summary, pipeline.name))
        console.print(
            "Scores accumulated over all backtest cases per lead (pysteps contingency tables "
            "and FSS), in physical units, on the archive's grid, no-data left out; "
            "thresholds in the variable's units (K: colder than; mm, mm/h, dBZ: above)"
        )
    console.print(f"[bold]verification report[/bold] {result.report}")
