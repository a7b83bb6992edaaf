"""Model speed: MoDeRNN training throughput and inference latency, fused cells vs reference.

The `modernn-mmnist` preset (5.87M parameters, 10 in + 10 out frames at 64x64; `--preset` picks
another) is timed as
- a training step (forward with teacher forcing, L1+L2 loss, backward, AdamW) at batch 8 and 32,
  for the shipped fused cells and for `nowcast.models.reference` (the paper written out layer by
  layer) carrying the same weights, with their ratio;
- inference (10 frames ahead, no autograd) at batch 1, 8 and 32, both formulations;
- achieved GFLOP/s (convolution FLOPs counted by torch's FlopCounterMode) beside a plain fp32
  matmul in the same process; bf16 autocast (and torch.compile on CUDA) variants of training;
- the layout choices the fused cells rejected, each timed as forward + backward at batch 8.
Medians over `--repeats` runs (`--quick`: one) of wall-clock time, with CPU time beside them;
the two formulations run alternately, so a busy machine slows both alike.
Results are merged into `benchmarks/results/<device>.json` under "model".
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # the package, and test-only helpers

from record import machine_record, merge_results  # noqa: E402 - beside this script
from reference_model import ReferenceNet  # noqa: E402

from nowcast.models import Preset, build_model, load_preset  # noqa: E402 - after path set-up
from nowcast.models.device import resolve_device  # noqa: E402
from nowcast.training import sequence_loss  # noqa: E402

DEFAULT_PRESET = "modernn-mmnist"


def sync(device: torch.device) -> None:
    """Wait for queued GPU work so wall-clock times are real."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(fn: Callable[[], object], repeats: int, device: torch.device) -> dict[str, float]:
    """Median wall and CPU seconds of `fn` over `repeats` runs after one warm-up run."""
    fn()
    sync(device)
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        sync(device)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return {"wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus)}


def compare(
    ours: Callable[[], object], reference: Callable[[], object], repeats: int, device: torch.device
) -> dict[str, float]:
    """Medians for both, run alternately so a busy machine slows both alike, and their ratio."""
    ours()
    reference()
    sync(device)
    pairs = [(measure(ours, 1, device), measure(reference, 1, device)) for _ in range(repeats)]
    mine = {k: statistics.median(p[0][k] for p in pairs) for k in ("wall_s", "cpu_s")}
    theirs = {k: statistics.median(p[1][k] for p in pairs) for k in ("wall_s", "cpu_s")}
    return {
        "wall_s": mine["wall_s"],
        "cpu_s": mine["cpu_s"],
        "reference_wall_s": theirs["wall_s"],
        "reference_cpu_s": theirs["cpu_s"],
        "speedup": statistics.median(p[1]["wall_s"] / p[0]["wall_s"] for p in pairs),
        "cpu_speedup": statistics.median(p[1]["cpu_s"] / p[0]["cpu_s"] for p in pairs),
    }


def training_step(
    model: nn.Module, preset: Preset, batch: int, device: torch.device, amp: bool = False
) -> Callable[[], object]:
    """One optimiser step of the preset's recipe on a fixed random batch."""
    cfg = preset.model
    steps, inputs = preset.sequence.total_frames, preset.sequence.input_frames
    generator = torch.Generator().manual_seed(0)
    shape = (batch, steps, cfg.channels, cfg.height, cfg.width)
    frames = torch.rand(*shape, generator=generator).to(device)
    mask = (torch.rand(batch, steps - inputs - 1, generator=generator) < 0.5).float().to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=preset.training.lr)

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            prediction = model(frames, inputs, mask)
        loss = sequence_loss(prediction, frames[:, 1:])
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def inference(
    model: nn.Module, preset: Preset, batch: int, device: torch.device
) -> Callable[[], object]:
    """A forecast of the preset's output frames from its input frames, without autograd."""
    cfg, sequence = preset.model, preset.sequence
    shape = (batch, sequence.total_frames, cfg.channels, cfg.height, cfg.width)
    frames = torch.rand(*shape, generator=torch.Generator().manual_seed(0)).to(device)
    frames[:, sequence.input_frames :] = 0

    def run() -> None:
        with torch.inference_mode():
            model(frames, sequence.input_frames)

    return run


def counted_flops(fn: Callable[[], object]) -> float:
    """FLOPs torch's FlopCounterMode attributes to one call of `fn`."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())


def matmul_gflops(device: torch.device, repeats: int) -> float:
    """Plain fp32 matmul speed in this process, the yardstick for the model's GFLOP/s."""
    size = 2048
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    seconds = measure(lambda: a @ b, max(repeats, 5), device)["wall_s"]
    return 2 * size**3 / seconds / 1e9


def layout_variants(device: torch.device, repeats: int) -> dict[str, float]:
    """Forward + backward wall and CPU ms of conv layouts the fused cells could use (batch 8)."""
    hidden, batch = 64, 8
    generator = torch.Generator().manual_seed(0)

    def tensor(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator).to(device).requires_grad_()

    h, x = tensor(batch, hidden, 16, 16), tensor(batch, hidden, 16, 16)
    branch = [tensor(hidden, hidden, k, k) for k in (3, 5, 7)]
    gate_x, gate_h = tensor(4 * hidden, hidden, 3, 3), tensor(4 * hidden, hidden, 3, 3)
    h_last = h.detach().contiguous(memory_format=torch.channels_last).requires_grad_()

    def three_calls(source: torch.Tensor) -> None:
        sum(F.conv2d(source, w, padding=w.shape[-1] // 2).sum() for w in branch).backward()

    def one_padded_call() -> None:
        weights = [F.pad(w, [(7 - w.shape[-1]) // 2] * 4) for w in branch]
        F.conv2d(h, torch.cat(weights), padding=3).sum().backward()

    def two_gate_calls() -> None:
        (F.conv2d(x, gate_x, padding=1).sum() + F.conv2d(h, gate_h, padding=1).sum()).backward()

    def one_grouped_gate_call() -> None:
        stacked = torch.cat([gate_x, gate_h])
        F.conv2d(torch.cat([x, h], dim=1), stacked, padding=1, groups=2).sum().backward()

    cases = {
        "dcb_branches_three_convs": lambda: three_calls(h),
        "dcb_branches_one_conv_padded_to_7": one_padded_call,
        "dcb_branches_three_convs_channels_last": lambda: three_calls(h_last),
        "gates_two_convs": two_gate_calls,
        "gates_one_grouped_conv": one_grouped_gate_call,
    }
    timings = {name: measure(fn, max(repeats, 5), device) for name, fn in cases.items()}
    return {
        f"{name}_{clock}": round(1e3 * timing[f"{clock}_s"], 2)
        for name, timing in timings.items()
        for clock in ("wall", "cpu")
    }


def main() -> int:
    """Time training and inference, print a summary, merge numbers into the results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one timed run per case")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per case")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--preset", default=DEFAULT_PRESET, help="model preset to time")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args, _ = parser.parse_known_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    repeats = 1 if args.quick else args.repeats
    device = resolve_device(args.device)
    preset = load_preset(args.preset)
    torch.manual_seed(0)
    ours = build_model(preset).to(device)
    reference = ReferenceNet(ours.config).to(device)
    reference.load_state_dict(ours.state_dict())
    print(f"model_bench: {ours.summary()}")
    print(f"model_bench: {device}, {torch.get_num_threads()} threads, {repeats} repeat(s)")

    matmul = matmul_gflops(device, repeats)
    train_flops = counted_flops(training_step(ours, preset, 1, device))
    infer_flops = counted_flops(inference(ours, preset, 1, device))
    print(f"plain fp32 matmul: {matmul:.1f} GFLOP/s")

    training: dict[str, dict[str, float]] = {}
    for batch in (8, 32):
        timing = compare(
            training_step(ours, preset, batch, device),
            training_step(reference, preset, batch, device),
            repeats,
            device,
        )
        gflops = train_flops * batch / timing["wall_s"] / 1e9
        training[str(batch)] = {
            "seq_per_s": round(batch / timing["wall_s"], 3),
            "reference_seq_per_s": round(batch / timing["reference_wall_s"], 3),
            "speedup_vs_reference": round(timing["speedup"], 3),
            "cpu_s_per_step": round(timing["cpu_s"], 3),
            "reference_cpu_s_per_step": round(timing["reference_cpu_s"], 3),
            "cpu_time_speedup_vs_reference": round(timing["cpu_speedup"], 3),
            "gflop_per_s": round(gflops, 1),
        }
        row = training[str(batch)]
        print(
            f"train batch {batch:>2}: {row['seq_per_s']:.2f} seq/s, reference "
            f"{row['reference_seq_per_s']:.2f} seq/s, x{timing['speedup']:.2f} "
            f"(CPU time x{timing['cpu_speedup']:.2f}); "
            f"{gflops:.1f} GFLOP/s ({100 * gflops / matmul:.0f}% of matmul)"
        )

    variants: dict[str, float] = {}
    bf16 = measure(training_step(ours, preset, 8, device, amp=True), repeats, device)
    variants["bf16_autocast_batch8_seq_per_s"] = round(8 / bf16["wall_s"], 3)
    if device.type == "cuda":
        compiled = torch.compile(ours)
        for amp in (False, True):
            timing = measure(training_step(compiled, preset, 8, device, amp), repeats, device)
            key = f"compile{'_bf16' if amp else ''}_batch8_seq_per_s"
            variants[key] = round(8 / timing["wall_s"], 3)
    for key, value in variants.items():
        print(f"train variant {key}: {value:.2f}")

    latency: dict[str, dict[str, float]] = {}
    for batch in (1, 8, 32):
        timing = compare(
            inference(ours, preset, batch, device),
            inference(reference, preset, batch, device),
            repeats,
            device,
        )
        gflops = infer_flops * batch / timing["wall_s"] / 1e9
        latency[str(batch)] = {
            "latency_s": round(timing["wall_s"], 4),
            "reference_latency_s": round(timing["reference_wall_s"], 4),
            "speedup_vs_reference": round(timing["speedup"], 3),
            "cpu_time_speedup_vs_reference": round(timing["cpu_speedup"], 3),
            "gflop_per_s": round(gflops, 1),
        }
        print(
            f"predict {preset.sequence.output_frames} frames, batch {batch:>2}: "
            f"{timing['wall_s'] * 1e3:.0f} ms, reference {timing['reference_wall_s'] * 1e3:.0f} "
            f"ms, x{timing['speedup']:.2f} (CPU time x{timing['cpu_speedup']:.2f}); "
            f"{gflops:.1f} GFLOP/s"
        )

    layouts = layout_variants(device, repeats)
    for name, value in layouts.items():
        print(f"layout {name}: {value:.2f} ms")

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    results = {
        "preset": preset.name,
        "parameters": ours.parameter_count(),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "repeats": repeats,
        "matmul_gflop_per_s": round(matmul, 1),
        "train_gflop_per_sequence": round(train_flops / 1e9, 2),
        "predict_gflop_per_sequence": round(infer_flops / 1e9, 2),
        "training": training,
        "training_variants": variants,
        "inference": latency,
        "layout_variants_fwd_bwd_batch8_ms": layouts,
        "torch": torch.__version__,
        **machine_record(load),
    }
    target = REPO / "benchmarks" / "results" / f"{device.type}.json"
    merge_results("model", results, target)
    print(f"model_bench: results merged into {target.relative_to(REPO)} (1-min load {load:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
