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


def public_names(stage: str) -> dict[str, str]:
    """The names a stage offers other stages (its `__init__.pyi`), each with its module."""
    stub = PACKAGE / stage / "__init__.pyi"
    offered: dict[str, str] = {}
    for node in ast.parse(stub.read_text(), str(stub)).body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            offered.update({alias.name: node.module for alias in node.names})
    return offered


def private_imports(path: Path, here: str) -> list[str]:
    """Imports in a module of stage `here` that reach into another stage past its public
    names: a module path below the stage, or a name its `__init__.pyi` does not list."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules = [(alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [(node.module, tuple(alias.name for alias in node.names))]
        else:
            continue
        for module, names in modules:
            parts = module.split(".")
            if parts[0] != "nowcast" or len(parts) < 2 or parts[1] == here:
                continue
            if len(parts) > 2:
                found.append(f"{path.name}:{node.lineno} imports {module}")
                continue
            unlisted = sorted(set(names) - set(public_names(parts[1])))
            if unlisted:
                found.append(f"{path.name}:{node.lineno} imports {module}.{', '.join(unlisted)}")
    return found


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_offers_public_names_lazily(stage: str) -> None:
    module = importlib.import_module(f"nowcast.{stage}")
    offered = public_names(stage)
    assert sorted(module.__all__) == sorted(offered)
    modules = {p.stem for p in (PACKAGE / stage).iterdir()}
    assert not set(offered) & modules, "a public name that is also a module name is shadowed"
    for name, source in offered.items():
        assert getattr(module, name) is getattr(
            importlib.import_module(f"nowcast.{stage}.{source}"), name
        )


def test_no_stage_imports_another_stages_private_parts() -> None:
    private = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = path.relative_to(PACKAGE).parts[0]
        if here in STAGES:
            private += [f"{here}/{line}" for line in private_imports(path, here)]
    assert not private, "\n".join(private)


def test_the_check_sees_a_private_import(tmp_path: Path) -> None:
    """The checker itself: a module path past a stage's face, and a name it does not offer,
    are reported; a listed name, the own stage's modules and third-party imports are not."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import numpy\n"
        "from nowcast.store import Archive\n"
        "from nowcast.ingest.run import run_ingest\n"
        "from nowcast.store.archive import Archive\n"
        "from nowcast.store import Archive, _CommittedFrames\n"
        "import nowcast.models.motion\n"
        "from nowcast.verify.runner import TABLE_FILE\n"
    )
    assert private_imports(bad, "verify") == [
        "bad.py:3 imports nowcast.ingest.run",
        "bad.py:4 imports nowcast.store.archive",
        "bad.py:5 imports nowcast.store._CommittedFrames",
        "bad.py:6 imports nowcast.models.motion",
    ]
    assert private_imports(bad, "cli") == [
        "bad.py:3 imports nowcast.ingest.run",
        "bad.py:4 imports nowcast.store.archive",
        "bad.py:5 imports nowcast.store._CommittedFrames",
        "bad.py:6 imports nowcast.models.motion",
        "bad.py:7 imports nowcast.verify.runner",
    ]
