"""`nowcast demo`: run the whole chain end to end and say where everything is."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from nowcast.cli.state import app_state

HEADLINE_SCORES = ("MSE", "SSIM", "CSI @ 220", "FSS @ 220, 4 px", "CSI @ 1", "FSS @ 1, 4 px")


def _scores_table(table_path: Path, pipeline: str) -> Table:
    """Mean backtest scores per lead time: model beside persistence and extrapolation."""
    from nowcast.verify.report import score_frame, skill_by_lead
    from nowcast.verify.table import ScoreTable

    skill = skill_by_lead(score_frame(ScoreTable(table_path), pipeline))
    table = Table(title=f"backtest {pipeline}: mean score per lead time (cases)")
    table.add_column("score")
    table.add_column("lead")
    methods = sorted(skill["method"].unique())
    for method in methods:
        table.add_column(method, justify="right")
    for key in HEADLINE_SCORES:
        rows = skill[skill["key"] == key]
        for lead in sorted(rows["lead_time"].unique()):
            cells = []
            for method in methods:
                match = rows[(rows["lead_time"] == lead) & (rows["method"] == method)]
                cells.append(
                    f"{match['mean'].iloc[0]:.3f} ({int(match['count'].iloc[0])})"
                    if len(match)
                    else "-"
                )
            table.add_row(key, f"+{lead} min", *cells)
    return table


def demo(
    ctx: typer.Context,
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Folder for everything."),
    quick: bool = typer.Option(False, "--quick", help="A tiny training budget (CI, smoke test)."),
    real: str | None = typer.Option(None, "--real", help="bom: the real BOM radar day instead."),
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

    console = Console()
    result = run_demo(app_state(ctx).settings, out.resolve(), quick, real, data, retrain, up_to_now)
    pipeline = result.ingest.pipelines[0]
    console.print(
        f"[bold]archive[/bold] {result.settings.archive}: {pipeline.name} fetched "
        f"{pipeline.fetched}, skipped {pipeline.skipped}, {pipeline.frames} frames"
    )
    if result.train is not None:
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
    if result.table is not None:
        console.print(_scores_table(result.table, pipeline.name))
        console.print(
            "MSE: per-frame sum over pixels on the [0, 1] scale; SSIM data_range=1; "
            "CSI/FSS at the threshold shown in physical units (K: colder than; mm: at least)"
        )
    console.print(f"[bold]verification report[/bold] {result.report}")
