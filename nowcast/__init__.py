"""nowcast: operational typhoon and radar nowcasting with MoDeRNN.

Notebook use: `nowcast.Archive(path).latest(group, "8h")` gives the history, and
`nowcast.forecast(history, model)` the forecast in physical units.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

# OpenMP threads that spin while waiting for a core stall every small convolution when another
# process shares the machine (measured: a 64x64 forecast took 2.0 s instead of 0.1 s). Waiting
# threads sleep instead; this must be set before torch loads its OpenMP runtime.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
__all__ = ["Archive", "forecast", "__version__"]

if TYPE_CHECKING:
    from nowcast.archive import Archive
    from nowcast.predict import forecast


def __getattr__(name: str) -> Any:
    """Import the heavy parts (torch, xarray) only when a notebook asks for them."""
    if name == "forecast":
        from nowcast.predict import forecast

        return forecast
    if name == "Archive":
        from nowcast.archive import Archive

        return Archive
    raise AttributeError(f"module 'nowcast' has no attribute {name!r}")
