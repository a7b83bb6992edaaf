"""`nowcast train` / `finetune` as functions: archive windows -> trainer -> checkpoint + card."""

from __future__ import annotations

import logging
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from nowcast.core import (
    METRICS,
    ConfigError,
    DataMissingError,
    LeadTimeScores,
    __version__,
    iso,
    parse_duration,
    short_duration,
    use_free_cpus,
    whole_steps,
)
from nowcast.ingest import PipelineConfig, load_pipeline, pipeline_groups
from nowcast.models import (
    CheckpointMeta,
    GridMismatchError,
    Preset,
    SequenceConfig,
    TrainingRecipe,
    build_from_config,
    check_space,
    checkpoint_folder,
    list_presets,
    load_model,
    load_preset,
    load_weights,
    read_meta,
    recorded_space,
    resolve_checkpoint,
    stored_values,
    training_space,
)
from nowcast.settings import Settings
from nowcast.store import Archive
from nowcast.training.card import TrainingCard, write_card
from nowcast.training.distributed import DistContext, shutdown_distributed
from nowcast.training.engine import FitResult, Trainer, Validator
from nowcast.training.intensity import model_rain_rate, rain_weighting
from nowcast.training.loader import LoaderBatches
from nowcast.training.retimed import RetimedArchive, TrainingArchive, training_archive
from nowcast.training.windows import (
    SPLITS,
    Split,
    TrainingBatches,
    Window,
    WindowReader,
    WindowSpec,
    find_windows,
    merge_splits,
    require_windows,
    split_windows,
    without_intervals,
)

log = logging.getLogger(__name__)

EVAL_WINDOWS = 64
VAL_SCORES = ("mse", "csi")
CSI_THRESHOLD = 1.0  # mm/h: the `csi` validation score is 1 - CSI at this rain rate
TEST_WINDOWS = 256
FINETUNE_ITERATIONS = 1000


@dataclass(frozen=True)
class TrainRequest:
    """What the user asked for: data, model, recipe overrides and where to write."""

    pipeline: str
    also: tuple[str, ...] = ()  # more pipelines trained on together, in one rain-rate space
    preset: str | None = None
    parent: Path | None = None
    iterations: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    freeze_layers: int = 0
    device: str | None = None
    out: Path | None = None
    stride: int = 1
    step: str | None = None  # one sampling step for every pipeline (each its own stride)
    every: int = 50
    patience: int | None = 5
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    resume: bool = False
    seed: int = 0
    amp: bool = False
    compile: bool = False
    progress: bool = True
    val_score: str = "mse"
    workers: int | None = None  # loader worker processes (default: training.loader_workers)
    # valid-time intervals no window may touch (a day held out by cross-validation)
    exclude: tuple[tuple[pd.Timestamp, pd.Timestamp], ...] = ()


@dataclass
class TrainResult:
    """Where the run went and the card's numbers."""

    out_dir: Path
    checkpoint: Path
    card: TrainingCard | None = None  # None on every rank but the first


def archive_groups(archive: Archive, pipeline: str) -> list[str]:
    """The pipeline's group, or all its storm groups."""
    groups = pipeline_groups(archive, pipeline)
    if not groups:
        raise DataMissingError(
            f"the archive at {archive.path} holds nothing for pipeline {pipeline} "
            f"(run `nowcast ingest --pipeline {pipeline}` first)"
        )
    return groups


def check_request(request: TrainRequest, configs: list[PipelineConfig]) -> None:
    """Refuse an unknown validation score, `--step` beside `--stride`, or a step the pipelines'
    windows are no multiple of, before anything is read or retimed."""
    if request.val_score not in VAL_SCORES:
        raise ConfigError(f"--val-score must be one of {', '.join(VAL_SCORES)}")
    if request.step is None:
        return
    if request.stride != 1:
        raise ConfigError("give --step or --stride, not both")
    for each in configs:
        window_spec(each, request.step, 1)


def pipeline_stride(cadence: pd.Timedelta, request: TrainRequest) -> int:
    """Frames to step over at this cadence: `--stride`, or `--step` divided by the cadence (a
    group whose cadence the step is no multiple of is seen at the step: `training_archive`)."""
    if request.step is None:
        return request.stride
    return whole_steps(parse_duration(request.step), cadence) or 1


def with_parent_step(request: TrainRequest, parent: CheckpointMeta | None) -> TrainRequest:
    """A fine-tune keeps its `parent`'s sampling step unless --step or --stride says otherwise."""
    if parent is None or request.step is not None or request.stride != 1:
        return request
    step = parent.extra.get("step")
    return replace(request, step=step) if step else request


def window_spec(config: PipelineConfig, cadence: Any, stride: int) -> WindowSpec:
    """Frames in and out from the pipeline's history and horizon at cadence x stride."""
    if stride < 1:
        raise ConfigError(f"--stride must be 1 or more, not {stride}")
    step = parse_duration(cadence) * stride
    frames_in = whole_steps(config.forecast.history, step)
    frames_out = whole_steps(config.forecast.horizon, step)
    if frames_in is None or frames_out is None:
        raise ConfigError(
            f"history {short_duration(config.forecast.history)} and horizon "
            f"{short_duration(config.forecast.horizon)} are not whole multiples of the sampling "
            f"step {short_duration(step)}; choose another --stride or --step"
        )
    return WindowSpec(frames_in, frames_out, step)


def check_grid(model: nn.Module, shape: tuple[int, int], pipeline: str) -> None:
    """Refuse a model that cannot run on the pipeline's grid, and say what to change."""
    height, width = shape
    try:
        model.check_frames(torch.zeros(1, 1, model.config.channels, height, width))
    except GridMismatchError as error:
        raise ConfigError(
            f"the preset cannot run on pipeline {pipeline}'s {height}x{width} grid: {error}"
        ) from None


def freeze_layers(model: nn.Module, count: int) -> None:
    """Freeze the embedding and the first `count` recurrent layers for fine-tuning."""
    cells = getattr(model, "cells", [])
    if count < 0 or count > len(cells):
        raise ConfigError(f"--freeze-layers must be between 0 and {len(cells)}, not {count}")
    if count == 0:
        return
    frozen = [model.embed, *list(cells)[:count]]
    for module in frozen:
        for parameter in module.parameters():
            parameter.requires_grad_(False)


def validation_loss(
    reader: WindowReader,
    windows: Sequence[Window],
    spec: WindowSpec,
    rate: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> Validator:
    """A validator on fixed validation windows: MSE over valid pixels, or with `rate` (model
    scale -> mm/h) 1 - CSI at 1 mm/h, so early stopping can follow rain detection skill.

    Each call reads the windows through the reader in training-batch-sized runs (its cache
    keeps the chunks it can), so no validation batch is held between calls and ranks that never
    validate never read them.
    """
    chosen = windows[:: max(1, len(windows) // EVAL_WINDOWS)][:EVAL_WINDOWS]

    def score(model: nn.Module) -> float:
        device = next(model.parameters()).device
        error, pixels, hits, events = 0.0, 0, 0.0, 0.0
        for batch in reader.batches(chosen):
            history = torch.nan_to_num(batch[:, : spec.input_frames]).to(device)
            predicted = model.predict(history, spec.output_frames).float().cpu()
            truth = batch[:, spec.input_frames :]
            valid = torch.isfinite(truth)
            if rate is None:
                error += float(((predicted - truth)[valid].double() ** 2).sum())
                pixels += int(valid.sum())
                continue
            forecast = rate(predicted)[valid] >= CSI_THRESHOLD
            observed = rate(truth)[valid] >= CSI_THRESHOLD
            hits += float((forecast & observed).sum())
            events += float((forecast | observed).sum())
        if rate is None:
            return error / pixels if pixels else float("nan")
        return 1.0 - hits / events if events else 0.0

    return score


def test_scores(
    model: nn.Module,
    reader: WindowReader,
    windows: Sequence[Window],
    spec: WindowSpec,
    dist: DistContext | None = None,
) -> dict[str, dict[str, list[float]]]:
    """Per-lead MSE/MAE/SSIM/PSNR of the model and of persistence on the test windows.

    Under DDP each rank scores every world_size-th window and the running sums are added up
    over ranks, so every rank returns the scores of all of them, read in runs of the reader's
    batch size. Pixels without data are zero in both fields, so they add no error.
    """
    dist = dist or DistContext()
    chosen = windows[:: max(1, len(windows) // TEST_WINDOWS)][:TEST_WINDOWS]
    mine = chosen[dist.rank :: dist.world_size]
    scores = {"model": LeadTimeScores(), "persistence": LeadTimeScores()}
    device = next(model.parameters()).device
    model.eval()
    for batch in reader.batches(mine):
        target = batch[:, spec.input_frames :, 0].numpy()
        missing = np.isnan(target)
        truth = np.where(missing, np.float32(0), target)
        history = torch.nan_to_num(batch[:, : spec.input_frames]).to(device)
        with torch.inference_mode():
            predicted = model.predict(history, spec.output_frames)[:, :, 0].float().cpu().numpy()
        scores["model"].update(np.where(missing, np.float32(0), predicted), truth)
        last = np.nan_to_num(batch[:, spec.input_frames - 1 : spec.input_frames, 0].numpy())
        repeated = np.repeat(last, spec.output_frames, axis=1)
        scores["persistence"].update(np.where(missing, np.float32(0), repeated), truth)
    for board in scores.values():
        reduce_scores(board, dist, spec.output_frames)
    return {name: board.per_frame() for name, board in scores.items() if board.count}


def reduce_scores(board: LeadTimeScores, dist: DistContext, leads: int) -> None:
    """Add every rank's running sums and count into `board` (in place; no-op for one process)."""
    if not dist.enabled:
        return
    sums = np.stack([np.broadcast_to(board.sums.get(name, 0.0), (leads,)) for name in METRICS])
    packed = torch.from_numpy(np.append(sums.ravel(), board.count).astype(np.float64))
    total = dist.total(packed).numpy()
    board.sums = {name: total[i * leads : (i + 1) * leads] for i, name in enumerate(METRICS)}
    board.count = int(round(total[-1]))


def _parent_model(
    path: Path, meta: CheckpointMeta, preset_name: str | None
) -> tuple[Preset, nn.Module, dict[str, Any]]:
    """For finetune: the parent's model (sidecar `meta`) with its weights, and its preset's
    recipe when known.

    With `preset_name` the weights must fit that preset's model (else a clear mismatch error).
    """
    if preset_name:
        preset = load_preset(preset_name)
    else:
        recipe = TrainingRecipe(iterations=FINETUNE_ITERATIONS)
        if meta.preset in list_presets():
            recipe = load_preset(meta.preset).training
        preset = Preset(name=meta.preset or meta.model.arch, model=meta.model, training=recipe)
    model = build_from_config(preset.model)
    load_weights(model, path)
    parent = {
        "path": str(resolve_checkpoint(path)),
        "preset": meta.preset,
        "iteration": meta.iteration,
        "pipeline": meta.extra.get("pipeline"),
    }
    return preset, model, parent


def pipeline_split(
    archive: TrainingArchive, groups: list[str], spec: WindowSpec, request: TrainRequest
) -> Split:
    """One pipeline's windows split into train, validation and test."""
    windows = without_intervals(find_windows(archive, groups, spec), spec, request.exclude)
    if not windows:
        return Split({name: windows for name in SPLITS}, "time")
    return split_windows(windows, spec, request.val_fraction, request.test_fraction)


def fit_then_stop_workers(
    trainer: Trainer, source: TrainingBatches | LoaderBatches, iterations: int, **options: Any
) -> FitResult:
    """`trainer.fit` on `source`, then its loader workers stopped (error or not), so they
    hold no caches while the test windows are scored."""
    try:
        return trainer.fit(source, iterations, **options)
    finally:
        if isinstance(source, LoaderBatches):
            source.close()


def run_train(settings: Settings, request: TrainRequest) -> TrainResult:
    """Train (or fine-tune, with `parent`) on the pipeline's archive windows; write the card."""
    started = time.perf_counter()
    parent_meta = None if request.parent is None else read_meta(request.parent)
    request = with_parent_step(request, parent_meta)
    config = load_pipeline(settings, request.pipeline, source=False)
    configs = [config, *(load_pipeline(settings, name, source=False) for name in request.also)]
    check_request(request, configs)
    archive = Archive.require(settings.archive)
    owned = {each.name: archive_groups(archive, each.name) for each in configs}
    source = training_archive(archive, [g for own in owned.values() for g in own], request.step)
    groups: list[str] = []
    splits: list[Split] = []
    strides: dict[str, int] = {}
    spec: WindowSpec | None = None
    for each in configs:
        own = owned[each.name]
        cadence = source.cadence(own[0])
        strides[each.name] = pipeline_stride(cadence, request)
        own_spec = window_spec(each, cadence, strides[each.name])
        if spec is not None and own_spec != spec:
            raise ConfigError(
                f"pipeline {each.name} gives {own_spec.input_frames} + "
                f"{own_spec.output_frames} frames every {short_duration(own_spec.step)}, "
                f"{config.name} {spec.input_frames} + {spec.output_frames} every "
                f"{short_duration(spec.step)}: train them together only with equal windows"
            )
        spec = own_spec
        groups += own
        splits.append(pipeline_split(source, own, spec, request))
    split = merge_splits(splits)
    require_windows(split, "+".join(c.name for c in configs), spec)
    stored = [stored_values(archive, group) for group in groups]
    parent: dict[str, Any] | None = None
    space = training_space(groups, stored)
    if request.parent is not None and parent_meta is not None:
        preset, model, parent = _parent_model(request.parent, parent_meta, request.preset)
        space = recorded_space(parent_meta.normalisation) or space
        check_space(space, groups, stored)
    else:
        preset = load_preset(request.preset or config.model.preset)
        torch.manual_seed(request.seed)
        model = build_from_config(preset.model)
    reader = WindowReader(source, spec, settings.training.cache_mb, space)
    rain = (space.transform, space.units or stored[0].units, stored[0].cadence)
    check_grid(model, reader.read(split.windows["train"][0]).shape[-2:], config.name)
    freeze_layers(model, request.freeze_layers)
    recipe = preset.training.model_copy(
        update={
            key: value
            for key, value in (
                ("iterations", request.iterations),
                ("batch_size", request.batch_size),
                ("lr", request.lr),
            )
            if value is not None
        }
    )
    sequence = SequenceConfig(input_frames=spec.input_frames, output_frames=spec.output_frames)
    out_dir = request.out or checkpoint_folder(settings, config.name)
    data = {
        "pipeline": config.name,
        "pipelines": [c.name for c in configs],
        "groups": groups,
        "cadence": short_duration(archive.cadence(groups[0])),
        "stride": strides[config.name],
        "strides": strides,
        "step": short_duration(spec.step),
        "retimed": sorted(source.series) if isinstance(source, RetimedArchive) else [],
        "split": split.describe(spec),
        "excluded": [[iso(first), iso(last)] for first, last in request.exclude],
    }
    use_free_cpus()
    trainer = Trainer(
        model,
        recipe,
        out_dir,
        request.device or settings.device,
        sequence=sequence,
        preset_name=preset.name,
        normalisation=space.record(),
        extra={**data, "parent": parent},
        seed=request.seed,
        amp=request.amp,
        compile=request.compile,
        progress=request.progress,
        weighting=rain_weighting(*rain) if "balanced" in recipe.loss else None,
    )
    rate = model_rain_rate(*rain) if request.val_score == "csi" else None
    workers = settings.training.loader_workers if request.workers is None else request.workers
    batches = TrainingBatches(
        reader, split.windows["train"], recipe.batch_size, recipe.crop, recipe.flips, recipe.gain
    )
    source = LoaderBatches(batches, workers) if workers else batches
    try:
        fit = fit_then_stop_workers(
            trainer,
            source,
            recipe.iterations,
            validate=validation_loss(reader, split.windows["val"], spec, rate),
            every=min(request.every, recipe.iterations),
            patience=request.patience,
            resume=request.resume,
        )
        trainer.dist.barrier()  # rank 0 has written best/ and last/
        checkpoint = resolve_checkpoint(out_dir)
        deployed, _ = load_model(checkpoint, trainer.device)
        scores = test_scores(deployed, reader, split.windows["test"], spec, trainer.dist)
    finally:
        shutdown_distributed()
    card: TrainingCard | None = None
    if trainer.dist.is_main:
        card = {
            "name": out_dir.name,
            "preset": preset.name,
            "model": preset.model.model_dump(),
            "parameters": sum(p.numel() for p in model.parameters()),
            "sequence": sequence.model_dump(),
            "recipe": recipe.model_dump(),
            "freeze_layers": request.freeze_layers,
            "data": data,
            "parent": parent,
            "iterations_done": fit.iteration,
            "stopped_early": fit.stopped_early,
            "best_validation_mse": fit.best_metric,
            "validation_score": request.val_score,
            "best_iteration": fit.best_iteration,
            "final_training_loss": fit.losses[-1] if fit.losses else None,
            "test_scores_per_lead": scores,
            "test_scores_checkpoint": checkpoint.name,
            "hardware": {
                "device": str(trainer.device),
                "world_size": trainer.dist.world_size,
                "cpu_count": os.cpu_count(),
                "platform": platform.platform(),
                "torch": torch.__version__,
            },
            "wall_time_s": round(time.perf_counter() - started, 1),
            "checkpoint": str(checkpoint),
            "code_version": __version__,
        }
        write_card(out_dir, card)
    return TrainResult(out_dir=out_dir, checkpoint=checkpoint, card=card)
