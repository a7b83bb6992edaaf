"""Packaging: the top-level models/ and pipelines/ ship as nowcast/presets and nowcast/pipelines.

Everything else, the package data included, is in pyproject.toml.
"""

from setuptools import find_packages, setup

SHIPPED = {"nowcast.presets": "models", "nowcast.pipelines": "pipelines"}
# Folders of data files only: declared so that setuptools knows they are meant to ship.
DATA_PACKAGES = ["nowcast.serve.static", "nowcast.serve.templates", "nowcast.presets.pretrained"]

setup(
    packages=[*find_packages(include=["nowcast", "nowcast.*"]), *SHIPPED, *DATA_PACKAGES],
    package_dir=SHIPPED,
)
