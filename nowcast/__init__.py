"""nowcast: operational typhoon and radar nowcasting with MoDeRNN.

Notebook use: `nowcast.Archive(path).latest(group, "8h")` gives the history, and
`nowcast.forecast(history, model)` the forecast in physical units.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

# Waiting OpenMP threads spin briefly before they sleep. libgomp's default (300,000 spins)
# stalls every small convolution when another process holds a core; no spinning at all
# (OMP_WAIT_POLICY=PASSIVE) halves training speed on an idle machine (2 cores, Moving MNIST
# quick budget: 2.11 s against 0.92 s per iteration). A short spin keeps the idle-machine speed,
# and `nowcast.core.threads` gives torch only the cores that are free. Set before torch loads.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "3000")

from nowcast.core.version import __version__

__all__ = ["Archive", "forecast", "__version__"]

if TYPE_CHECKING:
    from nowcast.forecasting import forecast
    from nowcast.store import Archive


def __getattr__(name: str) -> Any:
    """Import the heavy parts (torch, xarray) only when a notebook asks for them."""
    if name == "forecast":
        from nowcast.forecasting import forecast

        return forecast
    if name == "Archive":
        from nowcast.store import Archive

        return Archive
    raise AttributeError(f"module 'nowcast' has no attribute {name!r}")
