"""Every shipped pipeline (and the template) that names a shipped model gives it the window it
was trained for: history / step frames in, no more than its lead times out (an archive whose
cadence the step is no multiple of is brought to the step by retiming)."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import REPO

from nowcast.ingest.pipeline import read_pipeline
from nowcast.models.checkpoint import read_meta
from nowcast.models.registry import pretrained_checkpoint

RAIN = ("bom-radar", "fmi-radar", "knmi-radar", "mch-radar", "saf-crr", "http-template")
WITH_MODEL = [
    path
    for path in sorted((REPO / "pipelines").glob("*.toml"))
    if read_pipeline(path, source=False).model.pretrained is not None
]


@pytest.mark.parametrize("path", WITH_MODEL, ids=lambda path: path.stem)
def test_a_shipped_model_fits_the_pipeline_window(path) -> None:  # noqa: ANN001
    config = read_pipeline(path, source=False)
    meta = read_meta(pretrained_checkpoint(config.model.pretrained))
    step = pd.Timedelta(meta.extra.get("step") or config.cadence)
    assert config.forecast.history / step == meta.sequence.input_frames, path.stem
    assert config.forecast.horizon / step <= meta.sequence.output_frames, path.stem


def test_every_shipped_rain_pipeline_has_a_model_out_of_the_box() -> None:
    assert sorted(path.stem for path in WITH_MODEL) == sorted(RAIN)
    for name in RAIN:
        config = read_pipeline(REPO / "pipelines" / f"{name}.toml", source=False)
        assert config.model.pretrained == "modernn-radar-guided", name
