"""Reporting a run's objective to an Optuna trial, and stopping the run when it is pruned.

``TrialReporter`` is the callback a hyperparameter search (studio.core.search) gives each
trial's Trainer: on every Metrics event carrying the objective it calls
``trial.report(value, step)``, then ``trial.should_prune()``; when the pruner says so it
stops the trainer at the next step (saving a checkpoint, so a pruned trial's run can be
opened like any other) and the search ends the trial as PRUNED.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from studio.core.train import events as ev
from studio.core.train.callbacks import Callback


class TrialReporter(Callback):
    """Reports ``metric`` of each Metrics event to the trial and stops the trainer when the
    pruner says so (the trainer saves a checkpoint first: a pruned run can be opened)."""

    def __init__(self, trial: Any, metric: str, on_report: Callable[[int, float], None] = lambda s, v: None):
        self.trial = trial
        self.metric = metric
        self.on_report = on_report
        self.last: float | None = None
        self.pruned_at: int | None = None

    def on_event(self, trainer: Any, event: ev.Event) -> None:
        if not isinstance(event, ev.Metrics) or self.metric not in event.values:
            return
        value = float(event.values[self.metric])
        if not math.isfinite(value):
            return
        self.last = value
        self.trial.report(value, event.step)
        self.on_report(event.step, value)
        if self.pruned_at is None and self.trial.should_prune():
            self.pruned_at = event.step
            trainer.stop(save=True)
