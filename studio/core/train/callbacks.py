"""The trainer's side effects, as callbacks with state.

The Trainer runs steps; everything else is a callback: the Step events, metrics.jsonl,
sample grids, checkpoints, NaN/inf detection and (optionally) the live metrics. Hooks:

- ``on_setup(trainer)``: the data is loaded, nothing is built or written yet (long
  preparations that a stop may cancel, e.g. the live metrics' evaluator);
- ``on_start(trainer)``: after set-up (and restore), before the first step;
- ``on_step(trainer, info)``: after each step; ``info.values`` holds the losses as
  floats on logged steps (None otherwise: converting would synchronise a GPU);
- ``on_event(trainer, event)``: every event the run yields, whoever made it (the
  metrics log writes Step and Metrics records; so does TensorBoard);
- ``on_end(trainer, stopped)``: the loop is over without a failure;
- ``close(trainer)``: always, last (release files and threads).

The hooks that may produce events return an iterable of them. A callback's
``state_dict()`` is saved in the resume state under its ``name`` and handed back to
``load_state_dict`` on resume. ``rank_zero_only`` callbacks write files: in a
multi-process run only rank 0 has them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from studio.core.errors import WriteError
from studio.core.fileio import atomic_write_bytes
from studio.core.train import events as ev
from studio.core.train.grid import grid_layout, make_grid, png_bytes
from studio.core.train.rundir import MetricsLog

if TYPE_CHECKING:
    from studio.core.train.trainer import Trainer

GRID_COLUMNS = 8


@dataclass
class StepInfo:
    step: int  # steps completed (1-based)
    losses: dict[str, torch.Tensor]
    last: bool  # the run's final step
    values: dict[str, float] | None = None  # floats, on logged steps only


class Callback:
    name = ""  # key of its state in the resume state
    rank_zero_only = False

    def on_setup(self, trainer: Trainer) -> Iterable[ev.Event]:
        return ()

    def on_start(self, trainer: Trainer) -> Iterable[ev.Event]:
        return ()

    def on_step(self, trainer: Trainer, info: StepInfo) -> Iterable[ev.Event]:
        return ()

    def on_event(self, trainer: Trainer, event: ev.Event) -> None:
        pass

    def on_end(self, trainer: Trainer, stopped: bool) -> Iterable[ev.Event]:
        return ()

    def close(self, trainer: Trainer) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def first_non_finite(losses: dict[str, torch.Tensor | float]) -> tuple[str, float] | None:
    for name, value in losses.items():
        v = float(value)
        if not math.isfinite(v):
            return name, v
    return None


class NonFiniteGuard(Callback):
    """Fails the run when a logged loss is NaN or infinite (checked on logged steps, and by
    the checkpointer before it writes: a diverged model is never saved over a good one)."""

    name = "guard"

    def on_step(self, trainer: Trainer, info: StepInfo) -> Iterable[ev.Event]:
        if info.values is not None and (bad := first_non_finite(info.values)):
            return [trainer.fail_loss(*bad)]
        return ()


class StepEvents(Callback):
    """A Step event on every logged step, with images/s over the steps since the last one."""

    name = "steps"

    def __init__(self) -> None:
        self._since = time.perf_counter()
        self._images = 0

    def _reset(self) -> None:
        self._since, self._images = time.perf_counter(), 0

    def on_start(self, trainer: Trainer) -> Iterable[ev.Event]:
        self._reset()
        return ()

    def on_event(self, trainer: Trainer, event: ev.Event) -> None:
        if isinstance(event, ev.Resumed):
            self._reset()  # a pause is not slow training

    def on_step(self, trainer: Trainer, info: StepInfo) -> Iterable[ev.Event]:
        self._images += trainer.config.train.batch_size
        if info.values is None:
            return ()
        now = time.perf_counter()
        ips = self._images / max(now - self._since, 1e-9)
        self._since, self._images = now, 0
        return [ev.Step(info.step, info.values, ips)]


class MetricsLogger(Callback):
    """metrics.jsonl: one line per Step, Metrics and LearningRate event, flushed as written,
    each with its wall-clock ``time`` (Unix seconds: runs compared on a time axis)."""

    name = "metrics_log"
    rank_zero_only = True

    def __init__(self) -> None:
        self._log: MetricsLog | None = None

    def on_start(self, trainer: Trainer) -> Iterable[ev.Event]:
        self._log = MetricsLog(trainer.run.metrics_path)
        return ()

    def on_event(self, trainer: Trainer, event: ev.Event) -> None:
        if self._log is None:
            return
        if isinstance(event, ev.Step):
            record = {"step": event.step, "kind": "step", "losses": event.losses,
                      "images_per_sec": round(event.images_per_sec, 1)}
        elif isinstance(event, ev.Metrics):
            record = metrics_record(event)
        elif isinstance(event, ev.LearningRate):
            record = {"step": event.step, "kind": "lr", "lr": event.lr, "previous": event.previous,
                      "note": f"learning rate changed from {event.previous:g} to {event.lr:g} after step {event.step}"}
        else:
            return
        self._log.write({**record, "time": round(time.time(), 3)})

    def close(self, trainer: Trainer) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def metrics_record(metrics: ev.Metrics) -> dict[str, Any]:
    record: dict[str, Any] = {"step": metrics.step, "kind": "metrics", "values": metrics.values}
    if metrics.class_histogram is not None:
        record["class_histogram"] = [round(float(v), 5) for v in metrics.class_histogram]
    return record


class SampleGrids(Callback):
    """Every ``sample_every`` steps: a grid of the sampling model from fixed noise (one row
    per class when conditional), written as a PNG and yielded as a Samples event.

    ``every_s`` > 0 adds grids by wall time: one more whenever that long has passed since
    the last, as long as grids stay within ``budget`` of the training time (a slow model
    still shows progress every few seconds). The step cadence stays as it is, so with
    ``every_s`` = 0 (the default; the window sets it) the grids are deterministic.
    """

    name = "grids"
    rank_zero_only = True

    def __init__(self, every_s: float = 0.0, budget: float = 0.10, clock: Any = time.perf_counter) -> None:
        self.every_s = every_s
        self.budget = budget
        self.clock = clock
        self._began = self._last = 0.0  # when training (and the last grid) started
        self._spent = 0.0  # seconds spent drawing grids
        self._count = 0
        self._paused_at: float | None = None
        self.z: torch.Tensor | None = None
        self.labels: torch.Tensor | None = None
        self.seed = 0
        self.preview = None  # the family's own grid (Family.preview_grid), e.g. an upscaler's
        self.real: torch.Tensor | None = None  # the fixed real images it is shown

    def on_start(self, trainer: Trainer) -> Iterable[ev.Event]:
        model = trainer.model
        n, self.labels = grid_layout(model.num_classes, GRID_COLUMNS)
        self.seed = trainer.config.train.seed + 2
        self._began = self._last = self.clock()
        self._spent, self._count = 0.0, 0
        self.preview = trainer.config.family.preview_grid_function()
        if self.preview is not None:
            data = trainer.data
            idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(self.seed))[:GRID_COLUMNS]
            self.real = data.images[idx.to(data.images.device)].float().div(255).cpu()
            return ()
        if model.latent_shape is not None:
            # The same noise every time (one column's noise shared by every class row), so
            # the grids show the model changing, not the noise.
            rows = GRID_COLUMNS if self.labels is not None else n
            fixed = model.sample_latent(rows, torch.Generator().manual_seed(self.seed))
            self.z = fixed.repeat(model.num_classes, *[1] * (fixed.dim() - 1)) if self.labels is not None else fixed
        return ()

    def grid(self, trainer: Trainer):
        model = trainer.sampling_model
        if self.preview is not None:
            with torch.no_grad():
                return make_grid(self.preview(model, self.real), nrow=len(self.real))
        n = len(self.labels) if self.labels is not None else GRID_COLUMNS * GRID_COLUMNS
        options = dict(trainer.config.family.preview_options)
        images = model.sample(n, self.labels, torch.Generator().manual_seed(self.seed), z=self.z, **options)
        return make_grid(images, nrow=GRID_COLUMNS)

    def on_step(self, trainer: Trainer, info: StepInfo) -> Iterable[ev.Event]:
        if info.step % trainer.config.train.sample_every and not info.last and not self._time_due():
            return ()
        began = self.clock()
        grid = self.grid(trainer)
        path = trainer.run.sample_path(info.step)
        atomic_write_bytes(path, png_bytes(grid))
        self._last = self.clock()
        self._spent += self._last - began
        self._count += 1
        return [ev.Samples(info.step, grid, path)]

    def on_event(self, trainer: Trainer, event: ev.Event) -> None:
        if isinstance(event, ev.Paused):
            self._paused_at = self.clock()
        elif isinstance(event, ev.Resumed) and self._paused_at is not None:
            paused = self.clock() - self._paused_at  # a pause is neither training time nor a wait for a grid
            self._began += paused
            self._last += paused
            self._paused_at = None

    def _time_due(self) -> bool:
        """A grid by wall time: ``every_s`` since the last one, and the grids' share of the
        training time, this one included at their average cost, within the budget."""
        if self.every_s <= 0:
            return False
        now = self.clock()
        if now - self._last < self.every_s:
            return False
        cost = self._spent / self._count if self._count else 0.0
        return self._spent + cost <= self.budget * (now - self._began + cost)


class Checkpointer(Callback):
    """Checkpoints every ``checkpoint_every`` steps, on request, and at the end.

    Weights and resume state, committed as one unit (studio.core.train.manifest);
    nothing is written when a loss is not finite, so the last good checkpoint survives a
    divergence, and a write that fails (a full disk) ends the run with the previous
    checkpoint still committed.
    """

    name = "checkpoints"
    rank_zero_only = True

    def on_step(self, trainer: Trainer, info: StepInfo) -> Iterable[ev.Event]:
        due = info.step % trainer.config.train.checkpoint_every == 0 and not info.last
        if not (due or trainer.take_save_request()):
            return ()
        return [self.save(trainer, info.losses)]

    def on_end(self, trainer: Trainer, stopped: bool) -> Iterable[ev.Event]:
        if trainer.step == 0 or (stopped and not trainer.save_on_stop):
            return ()
        return [self.save(trainer, trainer.last_losses)]

    def save(self, trainer: Trainer, losses: dict[str, torch.Tensor]) -> ev.Event:
        if bad := first_non_finite(losses):
            return trainer.fail_loss(*bad)
        try:
            return trainer.save_checkpoint()
        except WriteError as exc:
            return trainer.fail_write(exc)


def default_callbacks(extra: Iterable[Callback] = ()) -> list[Callback]:
    """What every run does, with ``extra`` before the checkpointer (so a checkpoint holds
    their state after this step); the order is the order of their events within a step.
    TensorBoard is among them, writing only when ``train.tensorboard`` is on, and the
    held-out likelihood of exact-likelihood models (each unless ``extra`` brings its own)."""
    from studio.core.train.heldout import HeldoutLikelihood
    from studio.core.train.tensorboard import TensorBoard
    from studio.core.train.threads import ThreadTuner

    extra = list(extra)
    own = {c.name for c in extra}
    tensorboard = [] if TensorBoard.name in own else [TensorBoard()]
    heldout = [] if HeldoutLikelihood.name in own else [HeldoutLikelihood.default()]
    return [ThreadTuner(), NonFiniteGuard(), StepEvents(), MetricsLogger(), SampleGrids(), *heldout, *extra,
            *tensorboard, Checkpointer()]
