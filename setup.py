"""Packaging: the top-level models/ and pipelines/ ship as nowcast/presets and nowcast/pipelines.

Everything else, the package data included, is in pyproject.toml.
"""

from setuptools import find_packages, setup

SHIPPED = {"nowcast.presets": "models", "nowcast.pipelines": "pipelines"}

setup(
    packages=[*find_packages(include=["nowcast", "nowcast.*"]), *SHIPPED],
    package_dir=SHIPPED,
)
