"""Live metrics as a trainer callback: the evaluator's cheap figures every N steps, on a budget.

``LiveMetrics`` prepares the dataset's ``LiveMonitor`` before the run (loading, or
training once, the evaluator: its progress is yielded as MonitorStatus events and a
stop cancels it), then every ``every`` steps scores the sampling model and yields a
Metrics event. ``BudgetedMonitor`` skips a check whenever it would take the monitor's
share of the training time over the budget (10%). The budget's counters are the
callback's state: they survive a resume. The CLI (``--live-metrics``) and the window
attach the same callback.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from studio.core.live_keys import LIVE_N, MONITOR_BUDGET
from studio.core.train import events as ev
from studio.core.train.callbacks import Callback, StepInfo

if TYPE_CHECKING:
    from studio.core.train.trainer import Trainer


class BudgetedMonitor:
    """Wraps a monitor ``(model, step) -> Metrics``; measures its share of the training time.

    A call is skipped (None) when the time already spent plus the last call's time would
    exceed ``budget`` of the training wall time so far; the first call always runs.
    ``budget=None`` never skips. Pauses do not count as training time.
    """

    def __init__(self, monitor: Any, budget: float | None = MONITOR_BUDGET, clock: Callable[[], float] = time.perf_counter):
        self.monitor = monitor
        self.budget = budget
        self.skipped = 0
        self.calls = 0
        self.seconds = 0.0
        self.last_seconds = 0.0
        self.prior_wall = 0.0  # training time before a resume
        self._clock = clock
        self._started: float | None = None
        self._paused_at: float | None = None
        self._paused_total = 0.0

    def start(self) -> None:
        self._started = self._clock()
        self._paused_at, self._paused_total = None, 0.0

    def pause(self) -> None:
        if self._paused_at is None:
            self._paused_at = self._clock()

    def resume(self) -> None:
        if self._paused_at is not None:
            self._paused_total += self._clock() - self._paused_at
            self._paused_at = None

    def wall(self) -> float:
        if self._started is None:
            return self.prior_wall
        now = self._paused_at if self._paused_at is not None else self._clock()
        return self.prior_wall + max(0.0, now - self._started - self._paused_total)

    def __call__(self, model: Any, step: int) -> Any:
        if self._started is None:
            self.start()
        if self.budget is not None and self.calls:
            expected = self.last_seconds
            if self.seconds + expected > self.budget * (self.wall() + expected):
                self.skipped += 1
                return None
        began = self._clock()
        result = self.monitor(model, step)
        self.last_seconds = self._clock() - began
        self.seconds += self.last_seconds
        self.calls += 1
        return result

    def status(self, every: int) -> ev.MonitorStatus:
        return ev.MonitorStatus("running", every=every, n=int(getattr(self.monitor, "n", 0)), seconds=self.seconds,
                                wall=self.wall(), calls=self.calls, skipped=self.skipped, budget=self.budget)

    def state_dict(self) -> dict[str, Any]:
        return {"calls": self.calls, "skipped": self.skipped, "seconds": self.seconds,
                "last_seconds": self.last_seconds, "wall": self.wall()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.calls, self.skipped = int(state.get("calls", 0)), int(state.get("skipped", 0))
        self.seconds, self.last_seconds = float(state.get("seconds", 0.0)), float(state.get("last_seconds", 0.0))
        self.prior_wall = float(state.get("wall", 0.0))


def _message(exc: BaseException) -> str:
    from studio.core.errors import USER_ERRORS

    return str(exc) if isinstance(exc, USER_ERRORS) else f"{type(exc).__name__}: {exc}"


class LiveMetrics(Callback):
    """Evaluator metrics of the sampling model every ``every`` steps (default: the grid's
    cadence) and at the last step. A monitor that cannot be prepared is reported and the
    run trains without it; ``prepare`` is replaceable (tests, another metric set)."""

    name = "live_metrics"
    rank_zero_only = True

    def __init__(self, every: int = 0, n: int = LIVE_N, budget: float | None = MONITOR_BUDGET,
                 prepare: Callable[..., Any] | None = None, cache_root: Any = None):
        self.every = every
        self.n = n
        self.budget = budget
        self._prepare = prepare
        self.cache_root = cache_root
        self.budgeted: BudgetedMonitor | None = None
        self._pending_state: dict[str, Any] = {}

    # -- before the run: the evaluator ---------------------------------------------------
    def on_setup(self, trainer: Trainer) -> Iterator[ev.Event]:
        """Prepare the monitor on a thread, yielding its progress; a stop cancels it."""
        from studio.core.metrics.evaluator import EvaluatorCancelled

        if getattr(trainer.config.family.model_class(), "is_upscaler", False):
            yield ev.MonitorStatus("off", "No live metrics: an upscaler makes no samples to score; "
                                          "its PSNR against bicubic is logged with the losses.")
            return
        prepare = self._prepare
        if prepare is None:
            import studio.core.metrics as metrics

            prepare = metrics.prepare_monitor
        updates: queue.Queue = queue.Queue()
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                outcome["monitor"] = prepare(
                    trainer.config, trainer.data, n=self.n, cache_root=self.cache_root,
                    progress=lambda f, m: updates.put(ev.MonitorStatus("preparing", m, float(f))),
                    should_stop=trainer.stop_requested)
            except BaseException as exc:  # noqa: BLE001 - a monitor failure must not stop the run
                outcome["error"] = exc

        yield ev.MonitorStatus("preparing", "Preparing the evaluator…")
        thread = threading.Thread(target=work, name="evaluator-prepare", daemon=True)
        thread.start()
        while thread.is_alive() or not updates.empty():
            with contextlib.suppress(queue.Empty):
                yield updates.get(timeout=0.05)
        thread.join()
        error = outcome.get("error")
        if trainer.stop_requested():
            yield ev.MonitorStatus("cancelled", "Stopped while preparing the evaluator: nothing was trained.")
            return
        if isinstance(error, EvaluatorCancelled):
            yield ev.MonitorStatus("failed", "Live metrics are off: the evaluator's training was stopped.")
        elif error is not None:
            yield ev.MonitorStatus("failed", f"Live metrics are off for this run: {_message(error)}")
        elif outcome.get("monitor") is None:
            name = getattr(trainer.data, "name", trainer.config.data.dataset)
            yield ev.MonitorStatus("off", f"No live metrics: {name} has no class labels, and the metrics are "
                                          "computed by a classifier of the dataset's classes (the evaluator).")
        else:
            yield self._attach(trainer, outcome["monitor"])

    def _attach(self, trainer: Trainer, live: Any) -> ev.MonitorStatus:
        self.every = int(self.every or trainer.config.train.sample_every)
        self.budgeted = BudgetedMonitor(live, self.budget)
        self.budgeted.load_state_dict(self._pending_state)
        share = live.reference.data_hist.detach().cpu().numpy().astype(np.float64)
        floor = {} if getattr(live, "caveat", "") else dict(live.floor)  # no floor a model "beats"
        return ev.MonitorStatus("ready", getattr(live, "caveat", ""), every=self.every, n=live.n, floor=floor,
                                class_names=tuple(live.class_names), data_share=share, budget=self.budget)

    # -- during the run ----------------------------------------------------------------
    def on_start(self, trainer: Trainer) -> Iterable[ev.Event]:
        if self.budgeted is not None:
            self.budgeted.start()
        return ()

    def on_event(self, trainer: Trainer, event: ev.Event) -> None:
        if self.budgeted is None:
            return
        if isinstance(event, ev.Paused):
            self.budgeted.pause()
        elif isinstance(event, ev.Resumed):
            self.budgeted.resume()

    def on_step(self, trainer: Trainer, info: StepInfo) -> Iterable[ev.Event]:
        if self.budgeted is None or (info.step % self.every and not info.last):
            return ()
        metrics = self.budgeted(trainer.sampling_model, info.step)
        if metrics is None:
            return ()
        return [metrics, self.budgeted.status(self.every)]

    def state_dict(self) -> dict[str, Any]:
        return self.budgeted.state_dict() if self.budgeted is not None else dict(self._pending_state)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._pending_state = dict(state)
        if self.budgeted is not None:
            self.budgeted.load_state_dict(state)
