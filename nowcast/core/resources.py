"""Files shipped with the package: the model presets and the pipeline files."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

# Folder inside the installed package -> its source folder at the top of a checkout.
SHIPPED = {"presets": "models", "pipelines": "pipelines"}


def shipped(kind: str) -> Path:
    """The folder of shipped `kind` files: inside the installed package, else the checkout's."""
    package = Path(str(resources.files("nowcast")))
    packaged = package / kind
    if packaged.is_dir():
        return packaged
    return package.parent / SHIPPED[kind]
