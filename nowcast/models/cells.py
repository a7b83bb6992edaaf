"""Recurrent cells on the patched grid: the Detail Context Block, MoDeRNN and ConvLSTM.

Every cell takes its state explicitly and returns the new one; ``None`` stands for the all-zero
state of the first time step, which lets the cells skip convolutions whose input is exactly zero
(conv(0) = 0 and LN(0) = its shift, so outputs and gradients are unchanged).
Parameter names match the authors' formulation in `tests/reference_model.py`, so the two load
each other's weights.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from nowcast.models.norm import NormKind, broadcast_shift, make_norm
from nowcast.models.preset import ModelConfig

DCB_KERNELS = (3, 5, 7)
DCB_SCALE = 2.0
FORGET_BIAS = 1.0


class CellState(NamedTuple):
    """Hidden and cell state of one layer, each (B, hidden, H/p, W/p)."""

    h: Tensor
    c: Tensor


class DetailContextBlock(nn.Module):
    """x and h gate each other in turn: s * sigmoid(mean_k LN_k(conv_k(other))) * self."""

    def __init__(self, hidden: int, norm: NormKind, grid: tuple[int, int], iterations: int):
        super().__init__()
        self.iterations = iterations
        self.x_gate_convs = _branch_convs(hidden, iterations >= 1)
        self.x_gate_norms = _branch_norms(norm, hidden, grid, iterations >= 1)
        self.h_gate_convs = _branch_convs(hidden, iterations >= 2)
        self.h_gate_norms = _branch_norms(norm, hidden, grid, iterations >= 2)

    @staticmethod
    def _gate(source: Tensor | None, convs: nn.ModuleList, norms: nn.ModuleList) -> Tensor:
        """Pre-sigmoid mean over kernel sizes; a zero source leaves only the norms' shifts."""
        if source is None:
            shifts = torch.stack([norm.bias for norm in norms]).mean(dim=0)
            return broadcast_shift(shifts, norms[0])
        total = norms[0](convs[0](source))
        for conv, norm in zip(convs[1:], norms[1:], strict=True):
            total = total.add_(norm(conv(source)))
        return total.mul_(1 / len(DCB_KERNELS))

    def forward(self, x: Tensor, h: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """Odd steps rescale x from h, even steps rescale h from x (h None: zero state)."""
        for step in range(1, self.iterations + 1):
            if step % 2 == 1:
                gate = self._gate(h, self.x_gate_convs, self.x_gate_norms)
                x = torch.sigmoid(gate).mul(x).mul_(DCB_SCALE)
            elif h is not None:
                gate = self._gate(x, self.h_gate_convs, self.h_gate_norms)
                h = torch.sigmoid(gate).mul(h).mul_(DCB_SCALE)
        return x, h


class LSTMGates(nn.Module):
    """Gate pre-activations LN(conv_i2h(x)) + LN(conv_h2h(h)), activated as (i, f, g, o)."""

    def __init__(self, hidden: int, filter_size: int, norm: NormKind, grid: tuple[int, int]):
        super().__init__()
        pad = filter_size // 2
        self.conv_x = nn.Conv2d(hidden, 4 * hidden, filter_size, padding=pad, bias=False)
        self.norm_x = make_norm(norm, 4 * hidden, grid)
        self.conv_h = nn.Conv2d(hidden, 4 * hidden, filter_size, padding=pad, bias=False)
        self.norm_h = make_norm(norm, 4 * hidden, grid)

    def forward(self, x: Tensor, h: Tensor | None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Sigmoid i, f (with the +1 forget bias), o and tanh g."""
        gates = self.norm_x(self.conv_x(x))
        if h is None:
            gates = gates.add_(broadcast_shift(self.norm_h.bias, self.norm_h))
        else:
            gates = gates.add_(self.norm_h(self.conv_h(h)))
        i, f, g, o = gates.chunk(4, dim=1)
        return torch.sigmoid(i), torch.sigmoid(f + FORGET_BIAS), torch.tanh(g), torch.sigmoid(o)


class MoDeRNNCell(nn.Module):
    """MoDeRNN: Detail Context Block, then a ConvLSTM update with a layer-normalised cell state."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        grid = config.patched_grid
        self.dcb = DetailContextBlock(config.hidden, config.norm, grid, config.dcb_iterations)
        self.gates = LSTMGates(config.hidden, config.filter_size, config.norm, grid)
        self.norm_c = make_norm(config.norm, config.hidden, grid)

    def forward(self, x: Tensor, state: CellState | None) -> CellState:
        """One time step from input x (B, hidden, H/p, W/p) and the previous state."""
        x, h = self.dcb(x, None if state is None else state.h)
        i, f, g, o = self.gates(x, h)
        c = i * g if state is None else torch.addcmul(i * g, f, state.c)
        c = self.norm_c(c)
        return CellState(o * torch.tanh(c), c)


class ConvLSTMCell(nn.Module):
    """Plain ConvLSTM baseline with layer-normalised gate convolutions."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.gates = LSTMGates(config.hidden, config.filter_size, config.norm, config.patched_grid)

    def forward(self, x: Tensor, state: CellState | None) -> CellState:
        """One time step from input x (B, hidden, H/p, W/p) and the previous state."""
        i, f, g, o = self.gates(x, None if state is None else state.h)
        c = i * g if state is None else torch.addcmul(i * g, f, state.c)
        return CellState(o * torch.tanh(c), c)


def _branch_convs(hidden: int, used: bool) -> nn.ModuleList:
    """One bias-free hidden->hidden convolution per DCB kernel size (none if never used)."""
    kernels = DCB_KERNELS if used else ()
    return nn.ModuleList(nn.Conv2d(hidden, hidden, k, padding=k // 2, bias=False) for k in kernels)


def _branch_norms(norm: NormKind, hidden: int, grid: tuple[int, int], used: bool) -> nn.ModuleList:
    """One norm per DCB kernel size (none if never used)."""
    return nn.ModuleList(make_norm(norm, hidden, grid) for _ in (DCB_KERNELS if used else ()))
