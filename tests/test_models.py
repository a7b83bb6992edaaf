"""Model library: parameter counts, shapes, grid checks, DCB semantics, fused vs reference."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from reference_model import ReferenceNet
from torch import nn

from nowcast.core import UnknownNameError
from nowcast.models import (
    GridMismatchError,
    ModelConfig,
    PresetError,
    build_model,
    list_presets,
    load_preset,
)
from nowcast.models.cells import DetailContextBlock

TINY = {"hidden": 8, "num_layers": 2, "patch": 2, "height": 16, "width": 16}


def _randomise(model: nn.Module, seed: int = 0) -> None:
    """Perturb every parameter, norms included, so equivalence tests see non-trivial weights."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.1 * torch.randn(parameter.shape, generator=generator))


def test_reference_parameter_count_is_exact() -> None:
    model = build_model("modernn-mmnist")
    assert model.parameter_count() == 5_867_600
    assert "5,867,600 parameters" in model.summary()
    wide = build_model(load_preset("modernn-mmnist").model.model_copy(update={"filter_size": 5}))
    assert wide.parameter_count() == 7_964_752


def test_parameter_count_breakdown() -> None:
    """Where the 5,867,600 come from: 1x1 convs with bias, bias-free cell convs, affine LNs."""
    model = build_model("modernn-mmnist")
    assert model.embed.weight.shape == (64, 16, 1, 1) and model.embed.bias.shape == (64,)
    assert model.head.weight.shape == (16, 64, 1, 1) and model.head.bias.shape == (16,)
    cell = model.cells[0]
    branch_convs = [*cell.dcb.x_gate_convs, *cell.dcb.h_gate_convs]
    assert all(conv.bias is None for conv in branch_convs)
    assert sum(p.numel() for c in branch_convs for p in c.parameters()) == 2 * 64 * 64 * 83
    branch_norms = [*cell.dcb.x_gate_norms, *cell.dcb.h_gate_norms]
    assert all(n.weight.shape == n.bias.shape == (64, 16, 16) for n in branch_norms)
    assert cell.gates.conv_x.bias is None and cell.gates.conv_h.bias is None
    assert cell.gates.norm_x.weight.shape == (256, 16, 16)
    assert cell.norm_c.weight.shape == (64, 16, 16)
    dcb_convs = 2 * 64 * 64 * (3 * 3 + 5 * 5 + 7 * 7)
    dcb_norms = 6 * 2 * (64 * 16 * 16)
    gate_convs = 2 * 64 * 256 * 3 * 3
    gate_norms = 2 * 2 * (256 * 16 * 16)
    cell_norm = 2 * (64 * 16 * 16)
    per_cell = dcb_convs + dcb_norms + gate_convs + gate_norms + cell_norm
    assert sum(p.numel() for p in cell.parameters()) == per_cell
    assert 4 * per_cell + (16 * 64 + 64) + (64 * 16 + 16) == 5_867_600


def test_presets_are_listed_and_valid() -> None:
    names = list_presets()
    for name in ("modernn-mmnist", "modernn-mmnist-small", "convlstm-mmnist", "modernn-typhoon"):
        assert name in names
    typhoon = load_preset("modernn-typhoon")
    assert typhoon.model.norm == "group"
    assert (typhoon.sequence.input_frames, typhoon.sequence.output_frames) == (8, 4)
    reference = load_preset("modernn-mmnist")
    assert reference.training.lr == 1e-3 and reference.training.sampling_stop == 0.5
    assert reference.training.loss == "l1+l2"
    assert build_model("convlstm-mmnist").config.arch == "convlstm"


def test_unknown_preset_lists_valid_names() -> None:
    with pytest.raises(PresetError, match="modernn-mmnist-small") as caught:
        build_model("no-such-model")
    assert isinstance(caught.value, ValueError)
    with pytest.raises(UnknownNameError, match="valid: convlstm, modernn"):
        build_model({**TINY, "arch": "transformer"})


def test_preset_validation_and_models_dir_override(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "mine.toml").write_text('[model]\nhidden = 4\nnum_layers = 1\nnorm = "group"\n')
    (tmp_path / "bad.toml").write_text("[model]\nhiden = 4\n")
    monkeypatch.setenv("NOWCAST_MODELS_DIR", str(tmp_path))
    assert list_presets() == ["bad", "mine"]
    assert build_model("mine").config.hidden == 4
    assert build_model(tmp_path / "mine.toml").config.norm == "group"
    with pytest.raises(PresetError, match="model.hiden"):
        build_model("bad")
    with pytest.raises(PresetError, match="not divisible by patch"):
        build_model({"height": 30})


@pytest.mark.parametrize("grid", [(16, 16), (24, 40), (32, 8)])
def test_group_norm_model_runs_on_any_divisible_grid(grid: tuple[int, int]) -> None:
    torch.manual_seed(0)
    model = build_model({**TINY, "norm": "group"})
    frames = torch.rand(2, 5, 1, *grid)
    assert model(frames, input_frames=3).shape == (2, 4, 1, *grid)
    assert model.predict(frames[:, :3], steps=4).shape == (2, 4, 1, *grid)


def test_layer_norm_model_rejects_other_grids() -> None:
    model = build_model({**TINY, "norm": "layer"})
    with pytest.raises(GridMismatchError, match="expects a 16x16 grid, got 24x24") as caught:
        model(torch.rand(1, 4, 1, 24, 24), input_frames=2)
    assert isinstance(caught.value, ValueError)
    with pytest.raises(GridMismatchError, match="not divisible by patch size 2"):
        build_model({**TINY, "norm": "group"})(torch.rand(1, 4, 1, 15, 16), input_frames=2)
    with pytest.raises(GridMismatchError, match="expected 1 channel"):
        model(torch.rand(1, 4, 3, 16, 16), input_frames=2)


def test_reference_preset_forward_is_deterministic() -> None:
    frames = torch.rand(1, 20, 1, 64, 64, generator=torch.Generator().manual_seed(1))
    outputs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = build_model("modernn-mmnist")
        with torch.no_grad():
            outputs.append(model(frames, input_frames=10))
    assert outputs[0].shape == (1, 19, 1, 64, 64)
    assert torch.equal(outputs[0], outputs[1])


@pytest.mark.parametrize("steps", [1, 2, 3, 4, 5])
def test_dcb_alternates_x_then_h_with_scale_two(steps: int) -> None:
    """Zero convs leave LN shifts only: x gains (2 sigmoid(a)) per odd step, h per even step."""
    dcb = DetailContextBlock(hidden=2, norm="layer", grid=(3, 3), iterations=5)
    with torch.no_grad():
        for conv in [*dcb.x_gate_convs, *dcb.h_gate_convs]:
            conv.weight.zero_()
        for norm, shift in zip(dcb.x_gate_norms, (0.1, 0.5, 1.2), strict=True):
            norm.bias.fill_(shift)
        for norm, shift in zip(dcb.h_gate_norms, (-1.0, -0.2, -0.3), strict=True):
            norm.bias.fill_(shift)
    dcb.iterations = steps
    x0, h0 = torch.rand(1, 2, 3, 3), torch.rand(1, 2, 3, 3)
    x, h = dcb(x0, h0)
    x_gate = 2 * torch.sigmoid(torch.tensor(0.6))
    h_gate = 2 * torch.sigmoid(torch.tensor(-0.5))
    torch.testing.assert_close(x, x0 * x_gate ** ((steps + 1) // 2))
    torch.testing.assert_close(h, h0 * h_gate ** (steps // 2))


def test_dcb_gates_read_the_other_tensor() -> None:
    """Step 1 gates x by a function of h alone: changing x0 must not change the gate."""
    torch.manual_seed(0)
    dcb = DetailContextBlock(hidden=2, norm="layer", grid=(4, 4), iterations=1)
    h0 = torch.rand(1, 2, 4, 4)
    x_a, x_b = torch.rand(1, 2, 4, 4), torch.rand(1, 2, 4, 4)
    gate_a = dcb(x_a, h0)[0] / x_a
    gate_b = dcb(x_b, h0)[0] / x_b
    torch.testing.assert_close(gate_a, gate_b)
    assert bool(((gate_a > 0) & (gate_a < 2)).all())


@pytest.mark.parametrize("arch", ["modernn", "convlstm"])
@pytest.mark.parametrize("norm", ["layer", "group"])
def test_fused_cells_match_reference(arch: str, norm: str) -> None:
    """Same weights, same outputs and gradients: the fused path keeps the paper's math."""
    torch.manual_seed(0)
    config = ModelConfig(**{**TINY, "arch": arch, "norm": norm})
    model = build_model(config)
    _randomise(model)
    reference = ReferenceNet(config)
    reference.load_state_dict(model.state_dict())
    frames = torch.rand(3, 8, 1, 16, 16)
    mask = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    ours, theirs = model(frames, 4, mask), reference(frames, 4, mask)
    assert (ours - theirs).abs().max().item() < 1e-5
    ours.square().mean().backward()
    theirs.square().mean().backward()
    for (name, p), q in zip(model.named_parameters(), reference.parameters(), strict=True):
        assert (p.grad - q.grad).abs().max().item() < 1e-5, name


def test_fused_reference_preset_matches_reference() -> None:
    torch.manual_seed(0)
    model = build_model("modernn-mmnist")
    _randomise(model)
    reference = ReferenceNet(model.config)
    reference.load_state_dict(model.state_dict())
    frames = torch.rand(1, 5, 1, 64, 64)
    with torch.no_grad():
        difference = (model(frames, 3) - reference(frames, 3)).abs().max().item()
    assert difference < 1e-5


def test_teacher_mask_semantics() -> None:
    torch.manual_seed(0)
    model = build_model({**TINY, "norm": "group"})
    frames = torch.rand(2, 7, 1, 16, 16)
    with torch.no_grad():
        free = model(frames, 3)
        all_true = model(frames, 3, torch.ones(2, 3))
        all_false = model(frames, 3, torch.zeros(2, 3))
        teacher = model(frames, 6)
        predicted = model.predict(frames[:, :3], steps=4)
    torch.testing.assert_close(all_true, teacher)
    torch.testing.assert_close(all_false, free)
    torch.testing.assert_close(predicted, free[:, 2:])
    with pytest.raises(ValueError, match="teacher_mask must be shaped"):
        model(frames, 3, torch.ones(2, 4))
    with pytest.raises(ValueError, match="input_frames"):
        model(frames, 7)


def test_no_state_kept_between_calls() -> None:
    torch.manual_seed(0)
    model = build_model({**TINY, "norm": "group"})
    frames = torch.rand(1, 5, 1, 16, 16)
    keys = set(model.state_dict())
    with torch.no_grad():
        first = model(frames, 3)
        model(torch.rand(4, 6, 1, 16, 16), 2)
        again = model(frames, 3)
    assert torch.equal(first, again)
    assert set(model.state_dict()) == keys and not list(model.buffers())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu_and_runs_bf16() -> None:
    torch.manual_seed(0)
    model = build_model({**TINY, "norm": "group"})
    frames = torch.rand(2, 6, 1, 16, 16)
    with torch.no_grad():
        expected = model(frames, 3)
        gpu = model.cuda()(frames.cuda(), 3)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            low = model(frames.cuda(), 3)
    assert (gpu.cpu() - expected).abs().max().item() < 1e-4
    assert low.shape == expected.shape and torch.isfinite(low).all()
