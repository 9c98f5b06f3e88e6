"""The Search tab's background thread: one QThread per search session running
``Search.run()`` (studio.core.search), its events re-emitted as Qt signals.

The thread is registered in ``LIVE_THREADS`` (studio.ui.workers) like every other, so
the window's shutdown waits for it and the tests fail a test that leaves it running.
Stop goes straight to ``Search.stop()``, a thread-safe flag that also stops the running
trial's trainer at its next step: the worker's event loop is busy inside the search.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from studio.ui.workers import _message, _start_thread, _use_torch_threads

PROGRESS_EVERY_S = 0.1  # a trial's step progress reaches the window at most 10 times a second


class SearchWorker(QObject):
    """Runs one search session; ``resume`` continues a study with its stored base and space."""

    opened = Signal(object)  # StudyOpened
    trialStarted = Signal(object)  # TrialStarted
    progress = Signal(object)  # TrialProgress (throttled)
    report = Signal(object)  # TrialReport
    trialEnded = Signal(object)  # TrialEnded
    importances = Signal(object)  # Importances
    finished = Signal(object)  # SearchDone
    failed = Signal(str)
    done = Signal()

    def __init__(self, base: Any, space: Any, settings: Any):
        super().__init__()
        self.base, self.space, self.settings = base, space, settings
        self.search: Any = None
        self._stop_requested = False
        self._last_progress = 0.0

    def stop(self) -> None:
        """Any thread: end the running trial at its next step; start no more."""
        self._stop_requested = True
        if self.search is not None:
            self.search.stop()

    @Slot()
    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # noqa: BLE001 - a worker must never die silently
            self.failed.emit(_message(exc))
        finally:
            self.done.emit()

    def _run(self) -> None:
        from studio.core.search import Search, require_optuna, stored_inputs

        optuna = require_optuna()
        optuna.logging.set_verbosity(optuna.logging.ERROR)  # the tab shows every trial's state
        if self.settings.resume:  # as the study was run: its base, space, objective and steps
            stored = stored_inputs(self.settings)
            if stored is not None:
                self.base, self.space = stored.base, stored.space
                self.settings = dataclasses.replace(self.settings, **stored.options)
        _use_torch_threads(self.base.train.threads)
        self.search = Search(self.base, self.space, self.settings, on_event=self._emit)
        if self._stop_requested:
            self.search.stop()
        self.search.run()

    def _emit(self, event: Any) -> None:
        from studio.core import search as s

        if isinstance(event, s.TrialProgress):
            now = time.perf_counter()
            if now - self._last_progress < PROGRESS_EVERY_S and event.step < event.total:
                return
            self._last_progress = now
        routes = {s.StudyOpened: self.opened, s.TrialStarted: self.trialStarted, s.TrialProgress: self.progress,
                  s.TrialReport: self.report, s.TrialEnded: self.trialEnded, s.Importances: self.importances,
                  s.SearchDone: self.finished}
        signal = routes.get(type(event))
        if signal is not None:
            signal.emit(event)


class SearchController(QObject):
    """Starts search sessions and re-exposes their signals on the main thread."""

    opened = Signal(object)
    trialStarted = Signal(object)
    progress = Signal(object)
    report = Signal(object)
    trialEnded = Signal(object)
    importances = Signal(object)
    finished = Signal(object)
    failed = Signal(str)
    stateChanged = Signal(str)  # "idle", "running", "stopping"

    SIGNALS = ("opened", "trialStarted", "progress", "report", "trialEnded", "importances", "finished", "failed")

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.state = "idle"
        self._worker: SearchWorker | None = None
        self._thread: QThread | None = None
        self._closed = False

    @property
    def active(self) -> bool:
        return self._thread is not None

    def start(self, base: Any, space: Any, settings: Any) -> bool:
        if self._closed or self.active:
            return False
        worker = SearchWorker(base, space, settings)
        for name in self.SIGNALS:
            getattr(worker, name).connect(getattr(self, name))
        self._worker = worker
        self._thread = _start_thread(worker, "search-worker")
        self._thread.finished.connect(self._on_thread_finished)
        self._set_state("running")
        return True

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            self._set_state("stopping")

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Stop the search (the running trial saves a checkpoint) and wait for its thread."""
        self._closed = True
        if self._thread is None:
            return True
        self.stop()
        ended = self._thread.wait(timeout_ms)
        if ended:
            self._on_thread_finished()
        return ended

    @Slot()
    def _on_thread_finished(self) -> None:
        if self._thread is not None:
            self._thread.wait()
        self._worker = None
        self._thread = None
        self._set_state("idle")

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.stateChanged.emit(state)
