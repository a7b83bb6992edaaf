"""The package's stages form one stack: no module imports a stage above its own."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "nowcast"
# Bottom to top, as the data flow in nowcast/README.md runs.
STAGES = (
    "core",
    "settings",
    "store",
    "models",
    "ingest",
    "training",
    "forecasting",
    "verify",
    "products",
    "mmnist",
    "scheduler",
    "serve",
    "cli",
)


def _stage_of(module: str) -> str | None:
    """The stage a dotted `nowcast.*` module name belongs to (None for the root package)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "nowcast" else None


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every absolute `nowcast` module a file imports, with its line number."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "nowcast":
                found += [(node.lineno, f"nowcast.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if name.split(".")[0] == "nowcast"]


def test_every_top_level_name_is_a_stage() -> None:
    names = {p.name for p in PACKAGE.iterdir() if not p.name.startswith(("_", "."))}
    assert names - {"README.md", "py.typed"} == set(STAGES)


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_imports(stage: str) -> None:
    module = importlib.import_module(f"nowcast.{stage}")
    assert (PACKAGE / stage / "README.md").is_file(), f"nowcast/{stage} has no README.md"
    assert module.__name__ == f"nowcast.{stage}"


def test_no_stage_imports_a_higher_one() -> None:
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = path.relative_to(PACKAGE).parts[0]
        if here not in STAGES:
            continue
        for line, name in _imports(path):
            target = _stage_of(name)
            if target in STAGES and STAGES.index(target) > STAGES.index(here):
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}")
            if target is None or target not in STAGES:
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports the root {name}")
    assert not upward, "\n".join(upward)


def test_the_walk_sees_an_upward_import(tmp_path: Path) -> None:
    """The checker itself: an ingest module importing the CLI is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("from nowcast.cli.app import app\nimport nowcast.core.errors\n")
    names = [name for _, name in _imports(bad)]
    assert names == ["nowcast.cli.app", "nowcast.core.errors"]
    assert STAGES.index(_stage_of(names[0])) > STAGES.index("ingest")
