"""The built wheel, installed outside the checkout, holds everything `nowcast` needs to run.

How it stays fast and honest: the wheel is built from a copy of the project (no build
isolation, with this environment's setuptools) and installed with `--no-deps` into a fresh
venv in a temporary folder. That venv sees this environment's third-party packages through
one `.pth` file listing their site-packages folders; a `.pth` path line adds a folder to
sys.path without running the `.pth` files in it, so the checkout's editable install stays
invisible and `nowcast` can only come from the wheel (asserted below). Every command runs
with the temporary folder as its working directory and without PYTHONPATH. These are the
container image's install steps (deploy/container/Dockerfile: build the wheel, install it
into a new venv) on the image's Python series, 3.11, ending with its health command.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import REPO, shared_data_path
from ingest_fixtures import BOM

from nowcast.core.version import __version__

pytestmark = pytest.mark.slow
BUILD_JUNK = (".git", ".venv", "build", "dist", "runs", "*.egg-info", "__pycache__", ".*cache")


def build_wheel(tmp: Path) -> Path:
    """Build the wheel from a copy of the project; return its path."""
    source = tmp / "src"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*BUILD_JUNK))
    dist = tmp / "dist"
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    built = subprocess.run(
        [*pip, "--no-index", "-w", str(dist), str(source)],
        check=True,
        timeout=300,
        capture_output=True,
        text=True,
    )
    assert "BuildBackendWarning" not in built.stdout + built.stderr, built.stderr
    (wheel,) = dist.glob("nowcast-*.whl")
    return wheel


def fresh_venv(tmp: Path, wheel: Path) -> Path:
    """A new venv with the wheel installed and this environment's dependencies visible."""
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    install = [sys.executable, "-m", "pip", "--python", str(python), "install"]
    subprocess.run(
        [*install, "--no-deps", "--no-index", str(wheel)], check=True, timeout=300, env=clean_env()
    )
    assert (Path(site) / "nowcast" / "presets" / "modernn-radar.toml").is_file()
    shipped = Path(site) / "nowcast" / "presets" / "pretrained" / "modernn-radar-guided"
    assert {"model.safetensors", "model.json", "card.md"} <= {p.name for p in shipped.iterdir()}
    # Only now: with this environment visible, pip would take its editable nowcast as installed.
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "_nowcast_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    return venv


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The venv holding the freshly built wheel."""
    tmp = tmp_path_factory.mktemp("wheel")
    return fresh_venv(tmp, build_wheel(tmp))


def clean_env(**env: str) -> dict[str, str]:
    """This environment without PYTHON* and NOWCAST_* variables (so no checkout on sys.path)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("NOWCAST_", "PYTHON"))}
    return {**clean, **env}


def run(venv: Path, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a program of the venv from `cwd`, without the checkout on any path."""
    clean = clean_env(NOWCAST_DEVICE="cpu", OMP_NUM_THREADS="1", **env)
    program = str(venv / "bin" / args[0])
    return subprocess.run(
        [program, *args[1:]], cwd=cwd, env=clean, capture_output=True, text=True, timeout=900
    )


def test_wheel_holds_presets_pipelines_and_licence(installed: Path, tmp_path: Path) -> None:
    version = run(installed, tmp_path, "nowcast", "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"nowcast {__version__}"
    code = (
        "import nowcast; from nowcast.models import list_presets;"
        "from nowcast.settings.config import BUILTIN_PIPELINES as P;"
        "print(nowcast.__file__); print(*list_presets());"
        "print(*sorted(p.stem for p in P.glob('*.toml')))"
    )
    shown = run(installed, tmp_path, "python", "-c", code)
    assert shown.returncode == 0, shown.stderr
    where, presets, pipelines = shown.stdout.splitlines()
    assert Path(where).is_relative_to(installed)
    assert presets.split() == sorted(p.stem for p in (REPO / "models").glob("*.toml"))
    assert pipelines.split() == sorted(p.stem for p in (REPO / "pipelines").glob("*.toml"))
    assert {"modernn-radar", "modernn-mmnist"} <= set(presets.split())
    assert {"demo", "bom-radar"} <= set(pipelines.split())
    stubs = installed.glob("lib/python*/site-packages/nowcast/*/__init__.pyi")
    assert sorted(p.parent.name for p in stubs) == sorted(
        p.parent.name for p in (REPO / "nowcast").glob("*/__init__.pyi")
    )  # each stage's public names
    licence = list(installed.glob("lib/python*/site-packages/nowcast-*.dist-info/licenses/LICENSE"))
    assert len(licence) == 1 and "MIT License" in licence[0].read_text()


def test_models_dir_overrides_the_shipped_presets(installed: Path, tmp_path: Path) -> None:
    own = tmp_path / "models"
    own.mkdir()
    shutil.copy(REPO / "models" / "modernn-radar.toml", own / "site-radar.toml")
    code = "from nowcast.models import list_presets, load_preset; print(*list_presets());"
    code += "load_preset('modernn-radar')"
    shown = run(installed, tmp_path, "python", "-c", code, NOWCAST_MODELS_DIR=str(own))
    assert shown.stdout.split() == ["site-radar"]
    assert "unknown model preset 'modernn-radar'; valid presets: site-radar" in shown.stderr


def test_demo_quick_runs_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    demo = run(installed, tmp_path, "nowcast", "demo", "--quick", "--out", "demo")
    assert demo.returncode == 0, demo.stdout + demo.stderr
    forecasts = sorted((tmp_path / "demo" / "forecasts" / "demo").glob("demo_*.nc"))
    assert forecasts, demo.stdout
    with xr.open_dataset(forecasts[-1]) as forecast:
        assert forecast["forecast"].ndim == 3
        assert np.isfinite(forecast["forecast"].values).all()


def test_bom_pipeline_forecast_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    bom = shared_data_path(*BOM)
    env = {
        "NOWCAST_BOM_DIR": str(bom),
        "NOWCAST_ARCHIVE": str(tmp_path / "archive.zarr"),
        "NOWCAST_FORECASTS": str(tmp_path / "forecasts"),
    }
    day = ("--since", "2020-10-31T00:00Z", "--until", "2020-10-31T23:50Z")
    ingest = run(installed, tmp_path, "nowcast", "ingest", "-p", "bom-radar", *day, **env)
    assert ingest.returncode == 0, ingest.stdout + ingest.stderr
    forecast = run(
        installed, tmp_path, "nowcast", "forecast", "-p", "bom-radar", "--baseline", "persistence",
        **env,
    )  # fmt: skip
    assert forecast.returncode == 0, forecast.stdout + forecast.stderr
    (written,) = (tmp_path / "forecasts" / "bom-radar").glob(
        "bom-radar*_20201031T2350Z_persistence.nc"
    )
    with xr.open_dataset(written) as dataset:
        assert dataset["forecast"].shape == (6, 64, 64)
        assert dataset["lead_time"].values[-1] == np.timedelta64(60, "m")
    health = run(installed, tmp_path, "nowcast", "status", **env)  # the image's health command
    assert health.returncode == 0, health.stdout + health.stderr
    assert "bom-radar" in health.stdout and "144" in health.stdout
    empty = run(installed, tmp_path, "nowcast", "status", NOWCAST_ARCHIVE=str(tmp_path / "none"))
    assert empty.returncode == 3 and "no archive yet" in empty.stdout + empty.stderr


def test_installed_code_version_ignores_an_enclosing_git_repository(installed: Path) -> None:
    """A venv inside some git work tree: the version is the package's, not that tree's commit."""
    git = ["git", "-C", str(installed.parent), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "unrelated"], check=True)
    code = "from nowcast.mmnist.harness import code_version; print(code_version())"
    shown = run(installed, installed.parent, "python", "-c", code)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == __version__
