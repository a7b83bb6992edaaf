"""Training engine shared by the Moving MNIST harness and `nowcast train`.

One `Trainer` runs sequence-to-sequence rollouts with scheduled sampling, an L1+L2 loss, AdamW
with a cosine schedule and optional time-reversed augmentation, on one CPU or GPU or under
`torchrun` with DistributedDataParallel. It validates and checkpoints every `every` iterations,
stops early on a validation plateau, and resumes a run bit-identically from its last checkpoint.

Run folder layout: `last/` (resumable), `best/` (lowest validation score), `metrics.csv`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim import AdamW
from torch.optim.lr_scheduler import CosineAnnealingLR

from nowcast.core import ConfigError, DataMissingError
from nowcast.models import (
    STATE_FILE,
    CheckpointMeta,
    PresetLike,
    SequenceConfig,
    TrainingRecipe,
    build_from_config,
    load_preset,
    load_training_state,
    load_weights,
    resolve_checkpoint,
    resolve_device,
    save_checkpoint,
)
from nowcast.training.distributed import DistContext, init_distributed
from nowcast.training.loss import sequence_loss
from nowcast.training.metrics_log import MetricsLog
from nowcast.training.progress import TrainingProgress
from nowcast.training.sampling import ScheduledSampler

log = logging.getLogger(__name__)

BatchSource = Callable[[int, torch.Generator], Tensor] | Iterable[Tensor]
"""A callable (iteration, generator) -> global batch (B, T, C, H, W), or an iterable of them;
one with a `shard` method (`ShardedBatchSource`) is asked for this rank's part only."""


@runtime_checkable
class ShardedBatchSource(Protocol):
    """A batch source that reads only one rank's contiguous part of each global batch."""

    batch_size: int

    def shard(
        self, iteration: int, generator: torch.Generator, rank: int, world_size: int
    ) -> Tensor:
        """Rank `rank`'s part of global batch `iteration`, drawn with the shared generator."""
        ...


Weighting = Callable[[Tensor], Tensor]
"""Model-scale target frames -> per-pixel loss weights (balanced losses)."""

Validator = Callable[[nn.Module], float]
"""Scores the model (lower is better); called on rank 0 in eval mode without gradients."""


@dataclass
class FitResult:
    """What a `fit` call did: losses since iteration 0 (resumed history included)."""

    iteration: int
    losses: list[float]
    validations: list[tuple[int, float]] = field(default_factory=list)
    best_metric: float | None = None
    best_iteration: int | None = None
    stopped_early: bool = False
    out_dir: Path = Path(".")
    seconds: float = 0.0
    """Training wall time up to the last iteration (its checkpoint included), summed over
    resumed sessions (rank 0's count)."""


@dataclass
class _Schedule:
    """Per-fit stateful helpers whose state a checkpoint carries."""

    scheduler: CosineAnnealingLR
    sampler: ScheduledSampler
    data_rng: torch.Generator


@dataclass
class _RunState:
    """Bookkeeping that a checkpoint carries across a resume."""

    iteration: int = 0
    losses: list[float] = field(default_factory=list)
    validations: list[tuple[int, float]] = field(default_factory=list)
    best_metric: float = math.inf
    best_iteration: int | None = None
    stale: int = 0


class Trainer:
    """Fits a forecaster on batches of (B, T, C, H, W) sequences; see the module docstring."""

    def __init__(
        self,
        model: nn.Module,
        recipe: TrainingRecipe,
        out_dir: str | Path,
        device: str | torch.device = "auto",
        *,
        sequence: SequenceConfig,
        preset_name: str | None = None,
        normalisation: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        seed: int = 0,
        amp: bool = False,
        compile: bool = False,
        progress: bool = True,
        weighting: Weighting | None = None,
    ) -> None:
        self.weighting = weighting
        self.dist, self.device = init_distributed(resolve_device(device))
        self.model = model.to(self.device)
        self.recipe = recipe
        self.sequence = sequence
        self.out_dir = Path(out_dir)
        self.preset_name = preset_name
        self.normalisation = dict(normalisation or {})
        self.extra = dict(extra or {})
        self.seed = seed
        self.amp = amp
        self.show_progress = progress and self.dist.is_main
        wrapped: nn.Module = self.model
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            wrapped = DistributedDataParallel(self.model, device_ids=ids)
        self.forward_model: Callable[..., Tensor] = torch.compile(wrapped) if compile else wrapped
        self.optimizer = AdamW(self.model.parameters(), lr=recipe.lr)

    @classmethod
    def from_preset(
        cls,
        preset: PresetLike,
        out_dir: str | Path,
        device: str | torch.device = "auto",
        *,
        seed: int = 0,
        **options: Any,
    ) -> Trainer:
        """A trainer for a preset's model (initialised from `seed`), recipe and sequence shape."""
        preset = load_preset(preset)
        torch.manual_seed(seed)
        model = build_from_config(preset.model)
        return cls(
            model,
            preset.training,
            out_dir,
            device,
            sequence=preset.sequence,
            preset_name=preset.name,
            seed=seed,
            **options,
        )

    def fit(
        self,
        batch_source: BatchSource,
        iterations: int | None = None,
        *,
        validate: Validator | None = None,
        every: int = 100,
        patience: int | None = None,
        resume: bool = False,
    ) -> FitResult:
        """Train to `iterations` (default: the recipe's), validating and checkpointing `every`.

        With `resume`, continue from `out_dir/last` when it exists; callable batch sources then
        continue bit-identically (their generator state is checkpointed), iterables restart.
        Stops early after `patience` validations without improvement.
        """
        if every < 1:
            raise ValueError(f"every must be at least 1, got {every}")
        total = iterations or self.recipe.iterations
        schedule = _Schedule(
            CosineAnnealingLR(self.optimizer, T_max=total),
            ScheduledSampler(total, self.recipe.sampling_stop, self.seed + 1),
            torch.Generator().manual_seed(self.seed),
        )
        run = _RunState()
        if resume and self._has_checkpoint():
            run = self._restore(total, schedule)
            log.info("resumed %s at iteration %d of %d", self.out_dir, run.iteration, total)
        metrics = MetricsLog(self.out_dir, run.iteration) if self.dist.is_main else None
        bar = TrainingProgress(total, run.iteration, self.show_progress)
        read = _batch_reader(batch_source, schedule.data_rng, self.dist)
        sharded = isinstance(batch_source, ShardedBatchSource)
        started, saved_at, stopped_early = time.perf_counter(), run.iteration, False
        before = elapsed = metrics.elapsed_s if metrics is not None else 0.0
        try:
            while run.iteration < total:
                tick = time.perf_counter()
                batch = read(run.iteration)
                if batch is None:
                    log.warning("batch source ran out after %d iterations", run.iteration)
                    break
                lr = self.optimizer.param_groups[0]["lr"]
                objective = self.recipe.loss_at(run.iteration, total)
                loss = self._train_iteration(
                    batch, schedule.sampler, run.iteration, objective, sharded
                )
                schedule.scheduler.step()
                run.iteration += 1
                run.losses.append(loss)
                size = batch.shape[0] * (self.dist.world_size if sharded else 1)
                rate = size / (time.perf_counter() - tick)
                row: dict[str, Any] = {
                    "iteration": run.iteration,
                    "loss": loss,
                    "lr": lr,
                    "teacher_prob": schedule.sampler.probability(run.iteration - 1),
                    "objective": objective,
                    "seq_per_s": rate,
                }
                if run.iteration % every == 0 or run.iteration == total:
                    stopped_early = self._checkpoint(run, schedule, validate, every, patience, row)
                    saved_at = run.iteration
                elapsed = row["elapsed_s"] = before + time.perf_counter() - started
                if metrics is not None:
                    metrics.write(row)
                bar.update(run.iteration, loss, lr, rate)
                if stopped_early:
                    log.info("early stop at iteration %d", run.iteration)
                    break
            if saved_at != run.iteration:
                self._save_last(run, schedule, {})
        finally:
            bar.close()
            if metrics is not None:
                metrics.close()
        return FitResult(
            iteration=run.iteration,
            losses=run.losses,
            validations=run.validations,
            best_metric=None if run.best_iteration is None else run.best_metric,
            best_iteration=run.best_iteration,
            stopped_early=stopped_early,
            out_dir=self.out_dir,
            seconds=elapsed,
        )

    def _train_iteration(
        self,
        batch: Tensor,
        sampler: ScheduledSampler,
        iteration: int,
        objective: str,
        sharded: bool = False,
    ) -> float:
        """One optimiser step on this rank's shard (two with reverse augmentation); global loss.

        `sharded`: the batch is this rank's part already, not the global batch.
        """
        batch = torch.as_tensor(batch, dtype=torch.float32)
        if batch.ndim != 5 or batch.shape[1] != self.sequence.total_frames:
            raise ConfigError(
                f"batches must be (B, {self.sequence.total_frames}, C, H, W) for "
                f"{self.sequence.input_frames} in + {self.sequence.output_frames} out, "
                f"got {tuple(batch.shape)}"
            )
        steps = self.sequence.output_frames - 1
        size = batch.shape[0] * (self.dist.world_size if sharded else 1)
        mask = sampler.mask(iteration, size, steps)
        frames = (batch if sharded else self.dist.shard(batch)).to(self.device, non_blocking=True)
        if mask is not None:
            mask = self.dist.shard(mask).to(self.device, non_blocking=True)
        loss = self._step(frames, mask, objective)
        if self.recipe.reverse_augment:
            loss = (loss + self._step(frames.flip(1), mask, objective)) / 2
        return float(self.dist.mean(loss).item())

    def _step(self, frames: Tensor, mask: Tensor | None, objective: str) -> Tensor:
        """Forward (no-data inputs as 0), loss on every predicted frame's valid pixels,
        backward and one AdamW update."""
        self.optimizer.zero_grad(set_to_none=True)
        valid = torch.isfinite(frames)
        everywhere = bool(valid.all())
        inputs = frames if everywhere else torch.nan_to_num(frames)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            prediction = self.forward_model(inputs, self.sequence.input_frames, mask)
        target_valid = None if everywhere else valid[:, 1:]
        weights = None
        if self.weighting is not None and "balanced" in objective:
            weights = self.weighting(frames[:, 1:])
        loss = sequence_loss(prediction, frames[:, 1:], objective, target_valid, weights)
        loss.backward()
        if self.recipe.clip_grad is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.recipe.clip_grad)
        self.optimizer.step()
        return loss.detach()

    def _validate(self, validate: Validator) -> float:
        """Rank 0 scores the model in eval mode; every rank gets the score."""
        value = torch.zeros((), dtype=torch.float64, device=self.device)
        if self.dist.is_main:
            self.model.eval()
            with torch.no_grad():
                value.fill_(float(validate(self.model)))
            self.model.train()
        return float(self.dist.broadcast(value).item())

    def _checkpoint(
        self,
        run: _RunState,
        schedule: _Schedule,
        validate: Validator | None,
        every: int,
        patience: int | None,
        row: dict[str, Any],
    ) -> bool:
        """Validate, write best/last checkpoints; True when patience has run out."""
        recent = run.losses[-every:]
        scores = {"loss": sum(recent) / len(recent)}
        if validate is not None:
            score = self._validate(validate)
            row["val"] = scores["val"] = score
            run.validations.append((run.iteration, score))
            if score < run.best_metric:
                run.best_metric, run.best_iteration, run.stale = score, run.iteration, 0
                if self.dist.is_main:
                    save_checkpoint(self.out_dir / "best", self.model, self._meta(run, scores))
            else:
                run.stale += 1
        self._save_last(run, schedule, scores)
        return patience is not None and run.stale >= patience

    def _save_last(self, run: _RunState, schedule: _Schedule, scores: dict[str, float]) -> None:
        """Write the resumable `last` checkpoint (rank 0 only)."""
        if not self.dist.is_main:
            return
        state = {
            "iteration": run.iteration,
            "total": schedule.scheduler.T_max,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": schedule.scheduler.state_dict(),
            "sampler": schedule.sampler.state_dict(),
            "data_rng": schedule.data_rng.get_state(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "losses": torch.tensor(run.losses, dtype=torch.float64),
            "validations": torch.tensor(run.validations, dtype=torch.float64).reshape(-1, 2),
            "best_metric": run.best_metric,
            "best_iteration": -1 if run.best_iteration is None else run.best_iteration,
            "stale": run.stale,
        }
        save_checkpoint(self.out_dir / "last", self.model, self._meta(run, scores), state)

    def _meta(self, run: _RunState, scores: dict[str, float]) -> CheckpointMeta:
        """Sidecar for a checkpoint written now."""
        return CheckpointMeta(
            model=self.model.config,
            sequence=self.sequence,
            preset=self.preset_name,
            normalisation=self.normalisation,
            iteration=run.iteration,
            metrics=scores,
            extra=self.extra,
        )

    def _has_checkpoint(self) -> bool:
        """Whether `out_dir/last` holds a resumable checkpoint."""
        try:
            return (resolve_checkpoint(self.out_dir / "last") / STATE_FILE).is_file()
        except DataMissingError:
            return False

    def _restore(self, total: int, schedule: _Schedule) -> _RunState:
        """Load weights, optimiser, schedule, sampler and RNG states from `out_dir/last`."""
        state = load_training_state(self.out_dir / "last")
        if int(state["total"]) != total:
            raise ConfigError(
                f"{self.out_dir / 'last'} belongs to a {state['total']}-iteration run; "
                f"resume it with the same number of iterations, not {total}"
            )
        load_weights(self.model, self.out_dir / "last")
        self.optimizer.load_state_dict(state["optimizer"])
        schedule.scheduler.load_state_dict(state["scheduler"])
        schedule.sampler.load_state_dict(state["sampler"])
        schedule.data_rng.set_state(state["data_rng"])
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        best_iteration = int(state["best_iteration"])
        return _RunState(
            iteration=int(state["iteration"]),
            losses=state["losses"].tolist(),
            validations=[(int(i), float(v)) for i, v in state["validations"].tolist()],
            best_metric=float(state["best_metric"]),
            best_iteration=None if best_iteration < 0 else best_iteration,
            stale=int(state["stale"]),
        )


def _batch_reader(
    source: BatchSource, generator: torch.Generator, dist: DistContext
) -> Callable[[int], Any]:
    """Uniform access to a batch source: sharded sources read this rank's part, callables get
    the generator, iterables are cycled.

    A one-shot iterator that runs out yields None, which ends the fit.
    """
    if isinstance(source, ShardedBatchSource):
        return lambda iteration: source.shard(iteration, generator, dist.rank, dist.world_size)
    if callable(source):
        return lambda iteration: source(iteration, generator)
    iterator = iter(source)

    def read(_: int) -> Any:
        nonlocal iterator
        batch = next(iterator, None)
        if batch is None:
            iterator = iter(source)
            batch = next(iterator, None)
        return batch

    return read
