"""The ensemble's verification plots from accumulated curves: reliability diagram, ROC curve,
rank histogram, one chart per threshold (or per pipeline), every method a line, all leads pooled."""

from __future__ import annotations

from typing import IO, Any

import matplotlib

matplotlib.use("Agg")
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from nowcast.verify.probabilistic import MIN_BIN_COUNT  # noqa: E402

PLOTS = ("reliability", "roc", "rank")
STYLES = ("-o", "--s", ":^", "-.d")
POOLED = "0"  # the curves' key of all leads pooled


def _figure() -> tuple[Figure, Any]:
    fig = Figure(figsize=(5.2, 4.2), dpi=100)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot(1, 1, 1)


def _event(curves: dict[str, Any], threshold: str) -> str:
    """`R >= 1 mm/h` or `T <= 220 K`."""
    symbol, sign = ("T", "<=") if curves.get("below") else ("R", ">=")
    return f"{symbol} {sign} {threshold} {curves.get('units', '')}".strip()


def reliability_figure(curves: dict[str, Any], threshold: str) -> Figure:
    """Observed frequency against forecast probability of one event, populated bins only."""
    fig, ax = _figure()
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, label="perfect")
    for style, (method, leads) in zip(STYLES * 4, curves["methods"].items(), strict=False):
        curve = leads[POOLED]["thresholds"].get(threshold)
        if not curve:
            continue
        points = [
            (f, o)
            for f, o, n in zip(curve["forecast"], curve["observed"], curve["counts"], strict=True)
            if n >= MIN_BIN_COUNT and f is not None and o is not None
        ]
        if points:
            gap = curve["reliability_gap"]
            label = f"{method} (max gap {gap:.2f})" if gap is not None else method
            ax.plot(*zip(*points, strict=True), style, label=label)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="forecast probability", ylabel="observed frequency")
    ax.set_title(f"{curves['pipeline']}: reliability of P({_event(curves, threshold)})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def roc_figure(curves: dict[str, Any], threshold: str) -> Figure:
    """POD against POFD of one event at 10 probability thresholds, the area in the legend."""
    fig, ax = _figure()
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, label="no skill")
    for style, (method, leads) in zip(STYLES * 4, curves["methods"].items(), strict=False):
        curve = leads[POOLED]["thresholds"].get(threshold)
        if not curve or curve["roc_area"] is None:
            continue
        label = f"{method} (area {curve['roc_area']:.3f})"
        ax.plot(curve["pofd"], curve["pod"], style, label=label)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="probability of false detection", ylabel="POD")
    ax.set_title(f"{curves['pipeline']}: ROC of P({_event(curves, threshold)})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def rank_figure(curves: dict[str, Any]) -> Figure:
    """Rank histogram of each method as relative frequencies (flat is a calibrated ensemble)."""
    fig, ax = _figure()
    methods = list(curves["methods"].items())
    width = 0.8 / max(len(methods), 1)
    for index, (method, leads) in enumerate(methods):
        counts = leads[POOLED]["rank"]
        total = sum(counts) or 1
        ranks = [rank + index * width for rank in range(len(counts))]
        ax.bar(ranks, [c / total for c in counts], width=width, label=method)
        ax.axhline(1 / max(len(counts), 1), color="0.4", lw=1, ls="--")
    ax.set(xlabel="rank of the observation among the members", ylabel="relative frequency")
    ax.set_title(f"{curves['pipeline']}: rank histogram")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def save_plot(curves: dict[str, Any], kind: str, threshold: str | None, target: str | IO) -> None:
    """Draw one plot (`reliability`, `roc` at `threshold`, or `rank`) as PNG into `target`."""
    if kind == "rank":
        fig = rank_figure(curves)
    elif kind in ("reliability", "roc") and threshold in {f"{t:g}" for t in curves["thresholds"]}:
        fig = (reliability_figure if kind == "reliability" else roc_figure)(curves, threshold)
    else:
        raise KeyError(f"{kind} {threshold}")
    fig.savefig(target, format="png")
