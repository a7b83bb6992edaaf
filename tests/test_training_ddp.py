"""DistributedDataParallel: two gloo processes under torchrun match one process on the batch."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import torch
from conftest import torchrun
from safetensors.torch import load_file
from synthetic_squares import moving_squares

from nowcast.models import ModelConfig, SequenceConfig, TrainingRecipe, build_model
from nowcast.training import Trainer

SETTINGS = {
    "model": {"hidden": 8, "num_layers": 1, "patch": 2, "height": 16, "width": 16},
    "recipe": {"lr": 1e-2, "batch_size": 4, "iterations": 3, "reverse_augment": True},
    "sequence": {"input_frames": 4, "output_frames": 4},
}

WORKER = textwrap.dedent(
    """
    import json, sys
    import torch
    from nowcast.models import ModelConfig, SequenceConfig, TrainingRecipe, build_model
    from nowcast.training import Trainer, shutdown_distributed
    from synthetic_squares import moving_squares

    settings, out = json.loads(sys.argv[1]), sys.argv[2]
    torch.manual_seed(0)
    trainer = Trainer(
        build_model(ModelConfig(**settings["model"])),
        TrainingRecipe(**settings["recipe"]),
        out,
        "cpu",
        sequence=SequenceConfig(**settings["sequence"]),
        progress=False,
    )
    assert trainer.dist.world_size == 2
    result = trainer.fit(moving_squares(4, 8), every=3)
    if trainer.dist.is_main:
        with open(out + "/losses.json", "w") as handle:
            json.dump(result.losses, handle)
    shutdown_distributed()
    """
)


def _single_process(out_dir: Path) -> tuple[Trainer, list[float]]:
    """The same run as the workers', in this process on the whole batch."""
    torch.manual_seed(0)
    trainer = Trainer(
        build_model(ModelConfig(**SETTINGS["model"])),
        TrainingRecipe(**SETTINGS["recipe"]),
        out_dir,
        "cpu",
        sequence=SequenceConfig(**SETTINGS["sequence"]),
        progress=False,
    )
    return trainer, trainer.fit(moving_squares(4, 8), every=3).losses


@pytest.mark.slow
def test_two_gloo_processes_match_one_process(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    torchrun(2, str(script), json.dumps(SETTINGS), str(tmp_path / "ddp"))
    ddp_losses = json.loads((tmp_path / "ddp" / "losses.json").read_text())
    single, losses = _single_process(tmp_path / "single")
    assert ddp_losses == pytest.approx(losses, rel=1e-5, abs=1e-6)
    ddp_weights = load_file(str(tmp_path / "ddp" / "last" / "model.safetensors"))
    for name, weight in single.model.state_dict().items():
        assert (ddp_weights[name] - weight).abs().max().item() < 1e-5, name
