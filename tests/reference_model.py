"""Paper-literal MoDeRNN and ConvLSTM, layer by layer: the yardstick for the fused cells."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nowcast.models.cells import DCB_KERNELS, DCB_SCALE, FORGET_BIAS
from nowcast.models.norm import make_norm
from nowcast.models.preset import ModelConfig


class ReferenceDCB(nn.Module):
    """Detail Context Block: x and h gate each other in turn through multi-scale convolutions."""

    def __init__(self, hidden: int, norm: str, grid: tuple[int, int], iterations: int) -> None:
        super().__init__()
        self.iterations = iterations
        x_kernels = DCB_KERNELS if iterations >= 1 else ()
        h_kernels = DCB_KERNELS if iterations >= 2 else ()
        self.x_gate_convs = nn.ModuleList(
            nn.Conv2d(hidden, hidden, k, padding=k // 2, bias=False) for k in x_kernels
        )
        self.x_gate_norms = nn.ModuleList(make_norm(norm, hidden, grid) for _ in x_kernels)
        self.h_gate_convs = nn.ModuleList(
            nn.Conv2d(hidden, hidden, k, padding=k // 2, bias=False) for k in h_kernels
        )
        self.h_gate_norms = nn.ModuleList(make_norm(norm, hidden, grid) for _ in h_kernels)

    @staticmethod
    def _gate(source: Tensor, convs: nn.ModuleList, norms: nn.ModuleList) -> Tensor:
        """s * sigmoid(mean_k(LN_k(conv_k(source)))) for k in (3, 5, 7)."""
        branches = [norm(conv(source)) for conv, norm in zip(convs, norms, strict=True)]
        return DCB_SCALE * torch.sigmoid(torch.stack(branches).mean(dim=0))

    def forward(self, x: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        """Odd steps rescale x from h, even steps rescale h from x."""
        for step in range(1, self.iterations + 1):
            if step % 2 == 1:
                x = self._gate(h, self.x_gate_convs, self.x_gate_norms) * x
            else:
                h = self._gate(x, self.h_gate_convs, self.h_gate_norms) * h
        return x, h


class ReferenceGates(nn.Module):
    """LSTM gate pre-activations LN(conv_i2h(x)) + LN(conv_h2h(h))."""

    def __init__(self, hidden: int, filter_size: int, norm: str, grid: tuple[int, int]) -> None:
        super().__init__()
        pad = filter_size // 2
        self.conv_x = nn.Conv2d(hidden, 4 * hidden, filter_size, padding=pad, bias=False)
        self.norm_x = make_norm(norm, 4 * hidden, grid)
        self.conv_h = nn.Conv2d(hidden, 4 * hidden, filter_size, padding=pad, bias=False)
        self.norm_h = make_norm(norm, 4 * hidden, grid)

    def forward(self, x: Tensor, h: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Activated (i, f, g, o) with the forget bias added before the sigmoid."""
        gates = self.norm_x(self.conv_x(x)) + self.norm_h(self.conv_h(h))
        i, f, g, o = torch.chunk(gates, 4, dim=1)
        return (
            torch.sigmoid(i),
            torch.sigmoid(f + FORGET_BIAS),
            torch.tanh(g),
            torch.sigmoid(o),
        )


class ReferenceMoDeRNNCell(nn.Module):
    """DCB, then a ConvLSTM update whose cell state is layer-normalised."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        grid = config.patched_grid
        self.dcb = ReferenceDCB(config.hidden, config.norm, grid, config.dcb_iterations)
        self.gates = ReferenceGates(config.hidden, config.filter_size, config.norm, grid)
        self.norm_c = make_norm(config.norm, config.hidden, grid)

    def forward(self, x: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        """One time step: returns the new (h, c)."""
        x, h = self.dcb(x, h)
        i, f, g, o = self.gates(x, h)
        c = self.norm_c(f * c + i * g)
        return o * torch.tanh(c), c


class ReferenceConvLSTMCell(nn.Module):
    """Plain ConvLSTM with layer-normalised gate convolutions."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        grid = config.patched_grid
        self.gates = ReferenceGates(config.hidden, config.filter_size, config.norm, grid)

    def forward(self, x: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        """One time step: returns the new (h, c)."""
        i, f, g, o = self.gates(x, h)
        c = f * c + i * g
        return o * torch.tanh(c), c


REFERENCE_CELLS: dict[str, type[nn.Module]] = {
    "modernn": ReferenceMoDeRNNCell,
    "convlstm": ReferenceConvLSTMCell,
}


class ReferenceNet(nn.Module):
    """Patch, embed, stacked cells, head, un-patch: the rollout written out step by step."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Conv2d(config.patched_channels, config.hidden, 1)
        self.cells = nn.ModuleList(
            REFERENCE_CELLS[config.arch](config) for _ in range(config.num_layers)
        )
        self.head = nn.Conv2d(config.hidden, config.patched_channels, 1)

    def forward(
        self, frames: Tensor, input_frames: int, teacher_mask: Tensor | None = None
    ) -> Tensor:
        """Predictions of frames 1..T-1, same contract as the fused network."""
        batch, steps = frames.shape[:2]
        p, hidden = self.config.patch, self.config.hidden
        grid = (frames.shape[3] // p, frames.shape[4] // p)
        h = [frames.new_zeros(batch, hidden, *grid) for _ in self.cells]
        c = [frames.new_zeros(batch, hidden, *grid) for _ in self.cells]
        outputs: list[Tensor] = []
        for t in range(steps - 1):
            if t < input_frames:
                frame = frames[:, t]
            elif teacher_mask is None:
                frame = outputs[-1]
            else:
                m = teacher_mask[:, t - input_frames].reshape(batch, 1, 1, 1)
                frame = m * frames[:, t] + (1 - m) * outputs[-1]
            x = self.embed(F.pixel_unshuffle(frame, p))
            for layer, cell in enumerate(self.cells):
                h[layer], c[layer] = cell(x, h[layer], c[layer])
                x = h[layer]
            outputs.append(F.pixel_shuffle(self.head(x), p))
        return torch.stack(outputs, dim=1)
