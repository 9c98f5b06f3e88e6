"""Background threads: the training worker, and what every worker thread shares (the
explorer's renderer: studio.ui.renderer; one-off tasks: studio.ui.tasks).

Every QThread made here is registered in ``LIVE_THREADS`` until it has finished, so the
main window can wait for all of them on close and the tests can fail a test that
leaves one running. Signals carry floats, strings, dataclasses and numpy arrays only.

Control of a running trainer (pause, resume, one step, stop, save now, a new learning
rate) does not go through the
worker's event loop (it is busy iterating ``Trainer.steps()``): the Trainer's methods
are thread-safe flags, so the main thread calls them directly.

Live metrics are the core's ``LiveMetrics`` callback (studio.core.train.live_metrics),
given to the Trainer by the window when the box is ticked; the worker only forwards its
MonitorStatus and Metrics events.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from studio.core.live_keys import LIVE_N as MONITOR_N
from studio.core.live_keys import MONITOR_BUDGET
from studio.core.train.events import MonitorStatus

LIVE_THREADS: weakref.WeakSet[QThread] = weakref.WeakSet()
STEP_FLUSH_S = 0.05  # Step events are batched: at most ~20 signals a second (a child's: one per batch it sends)
GRID_SECONDS = 10.0  # the window's runs show a fresh sample grid at least this often (within a budget)
# The training child's niceness: the CLI's. Nice 5 once made room for a run's start, when
# the main thread painted for tens of ms there; since that work went, a lower priority
# only cost training speed (benchmarks/gui_responsiveness.py, 5-7 runs of 10 rounds each:
# GUI/CLI 0.954x of the medians at nice 5, 0.970x at 0; max lag 13-26 ms either way).
CHILD_NICE = 0
_torch_threads = 0  # torch's default intra-op thread count, read before the renderer lowers it


def _use_torch_threads(n: int) -> None:
    """Set this thread's torch (OpenMP/MKL) thread count.

    ``torch.set_num_threads`` sets the calling thread's OpenMP team size, and the default
    for threads that start using torch later; each worker therefore sets its own. The
    renderer runs on one thread: its frames take a few milliseconds either way, and a
    second thread pool, even idle, cost the training worker about a fifth of its speed on
    a 2-core machine (benchmarks/gui_responsiveness.py).
    """
    global _torch_threads
    import torch

    if not _torch_threads:
        _torch_threads = torch.get_num_threads()
    torch.set_num_threads(n or _torch_threads)


def running_threads() -> list[QThread]:
    return [t for t in list(LIVE_THREADS) if t.isRunning()]


def _start_thread(worker: QObject, name: str) -> QThread:
    thread = QThread()
    thread.setObjectName(name)
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    # Direct: quit from the worker's thread, so a main thread blocked in wait() still ends it.
    worker.done.connect(thread.quit, Qt.ConnectionType.DirectConnection)
    LIVE_THREADS.add(thread)
    thread.start()
    return thread


def _message(exc: BaseException) -> str:
    from studio.core.errors import USER_ERRORS

    return str(exc) if isinstance(exc, USER_ERRORS) else f"{type(exc).__name__}: {exc}"


# -- training -----------------------------------------------------------------------


@dataclass(frozen=True)
class StepChunk:
    """Several Step events in one signal: their steps and each loss as numpy arrays."""

    steps: np.ndarray  # int64 (n,)
    losses: dict[str, np.ndarray]  # name -> float64 (n,)
    images_per_sec: float  # of the last step in the chunk
    step: int  # the last step


def event_groups(source: Any):
    """The source's events in the groups they arrive in: each ``poll()`` of a child
    (ChildTraining: a batch of steps is one group), else one group per event."""
    if hasattr(source, "poll"):
        while not source.done:
            yield source.poll(0.1)
    else:
        for event in source.steps():
            yield [event]


def chunk_steps(events: list[Any]) -> StepChunk:
    names: list[str] = []
    for e in events:
        names += [k for k in e.losses if k not in names]
    losses = {k: np.array([e.losses.get(k, np.nan) for e in events], dtype=np.float64) for k in names}
    steps = np.array([e.step for e in events], dtype=np.int64)
    return StepChunk(steps, losses, float(events[-1].images_per_sec), int(events[-1].step))


class TrainWorker(QObject):
    """Iterates the source's events (event_groups) on the training thread and re-emits each.

    ``source`` is a ChildTraining (the window's runs: the Trainer in a child process,
    studio.core.train.child) or anything with the Trainer's ``steps()``. The live
    metrics' progress and cost arrive as MonitorStatus events (``monitor`` signal).
    """

    started = Signal(object)  # events.Started
    steps = Signal(object)  # StepChunk
    samples = Signal(object)  # events.Samples
    metrics = Signal(object)  # events.Metrics
    monitor = Signal(object)  # MonitorStatus
    checkpoint = Signal(object)  # events.Checkpoint
    learningRate = Signal(object)  # events.LearningRate
    paused = Signal(int)
    resumed = Signal(int)
    finished = Signal(object)  # events.Finished
    failed = Signal(str)  # events.Failed or an exception the trainer let through
    done = Signal()  # the loop is over, whatever the outcome

    def __init__(self) -> None:
        super().__init__()
        self.cancel = threading.Event()  # Stop requested (the trainer's own stop does the work)

    @Slot(object)
    def run(self, trainer: Any) -> None:
        from studio.core.train import events as ev

        routes = {
            ev.Started: self.started, ev.Samples: self.samples, ev.Metrics: self.metrics,
            ev.MonitorStatus: self.monitor, ev.Checkpoint: self.checkpoint, ev.Finished: self.finished,
            ev.LearningRate: self.learningRate,
        }
        pending: list[Any] = []
        last_flush = time.perf_counter()

        def flush() -> None:
            nonlocal last_flush
            if pending:
                self.steps.emit(chunk_steps(pending))
                pending.clear()
            last_flush = time.perf_counter()

        try:
            if not getattr(trainer, "has_live_metrics", False):
                self.monitor.emit(MonitorStatus("off", "Live metrics are off (tick the box to compute them next run)."))
            for group in event_groups(trainer):
                for event in group:
                    if isinstance(event, ev.Step):
                        pending.append(event)
                        continue
                    flush()
                    if isinstance(event, ev.Paused):
                        self.paused.emit(event.step)
                    elif isinstance(event, ev.Resumed):
                        self.resumed.emit(event.step)
                    elif isinstance(event, ev.Failed):
                        self.failed.emit(event.message)
                    elif type(event) in routes:
                        routes[type(event)].emit(event)
                if time.perf_counter() - last_flush >= STEP_FLUSH_S:
                    flush()
        except BaseException as exc:  # noqa: BLE001 - a worker must never die silently
            flush()
            self.failed.emit(_message(exc))
        finally:
            flush()
            self.done.emit()


class TrainController(QObject):
    """Owns the training thread and re-exposes the worker's signals on the main thread.

    ``start(job)`` starts a TrainJob in a child process (ChildTraining) and the worker
    thread streams its events; pause, resume, one step, stop, "save now" and a new
    learning rate are commands sent down to the child from the main thread. If the child dies, a Failed event says how, and
    the run directory holds the last checkpoint to continue from.
    """

    started = Signal(object)
    steps = Signal(object)
    samples = Signal(object)
    metrics = Signal(object)
    monitor = Signal(object)  # MonitorStatus
    checkpoint = Signal(object)
    learningRate = Signal(object)
    paused = Signal(int)
    resumed = Signal(int)
    finished = Signal(object)
    failed = Signal(str)
    stateChanged = Signal(str)  # "idle", "running", "paused", "stopping"
    _runRequested = Signal(object)  # queued to the worker's thread

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.trainer: Any = None
        self._thread: QThread | None = None
        self._worker: TrainWorker | None = None
        self._busy = False
        self.state = "idle"
        self._closed = False
        # Live metrics of the next run (read by start()): on, MONITOR_N samples a check,
        # at most MONITOR_BUDGET of the training time (None: no budget, every check runs).
        self.live_metrics = True
        self.monitor_n = MONITOR_N
        self.monitor_budget: float | None = MONITOR_BUDGET
        self.grid_seconds = GRID_SECONDS  # 0: grids on the step cadence only (deterministic)
        self.child_nice = CHILD_NICE

    @property
    def active(self) -> bool:
        """A run is in progress (from start() until its loop has ended)."""
        return self._busy

    def start(self, job: Any) -> None:
        """Train a TrainJob in a child process (or iterate an object with ``steps()``,
        in this process, e.g. a constructed Trainer)."""
        from studio.core.train.child import ChildTraining, TrainJob

        if self._closed:
            raise RuntimeError("the window is closing")
        if self._busy:
            raise RuntimeError("a training run is already active")
        if self._thread is None:
            self._start_thread()
        if isinstance(job, TrainJob):
            job = replace(job, live_metrics=self.live_metrics, monitor_n=self.monitor_n, budget=self.monitor_budget,
                          grid_seconds=self.grid_seconds, nice=self.child_nice)
            job = ChildTraining(job)
        self.trainer = job
        self._busy = True
        self._worker.cancel.clear()
        self._set_state("running")
        self._runRequested.emit(job)

    def _start_thread(self) -> None:
        worker = TrainWorker()
        thread = QThread()
        thread.setObjectName("train-worker")
        worker.moveToThread(thread)
        for name in ("started", "steps", "samples", "metrics", "monitor", "checkpoint", "learningRate", "paused",
                     "resumed", "finished", "failed"):
            getattr(worker, name).connect(getattr(self, name))
        worker.paused.connect(self._on_paused)
        worker.resumed.connect(self._on_resumed)
        worker.done.connect(self._on_done)
        self._runRequested.connect(worker.run)  # the worker lives on the thread: queued
        LIVE_THREADS.add(thread)
        thread.start()
        self._worker, self._thread = worker, thread

    def pause(self) -> None:
        if self.trainer is not None and self.state == "running":
            self.trainer.pause()

    def resume(self) -> None:
        if self.trainer is not None and self.state == "paused":
            self.trainer.resume()

    def stop(self) -> None:
        if self.trainer is not None and self._busy:
            if self._worker is not None:
                self._worker.cancel.set()  # a monitor being prepared stops too
            self.trainer.stop()
            self._set_state("stopping")

    def save_checkpoint(self) -> None:
        if self.trainer is not None and self._busy:
            self.trainer.request_checkpoint()

    def step_once(self) -> None:
        """One step, staying paused (only while paused)."""
        if self.trainer is not None and self.state == "paused":
            self.trainer.step_once()

    def set_lr(self, lr: float) -> None:
        if self.trainer is not None and self._busy and self.state != "stopping":
            self.trainer.set_lr(lr)

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Stop the run (the trainer saves a checkpoint), end the thread; True when it ended.

        A child that does not end within the time is killed (its last checkpoint stays).
        """
        self._closed = True
        if self._thread is None:
            return True
        self.stop()
        self._thread.quit()  # the event loop ends once the running loop (if any) returns
        ended = self._thread.wait(timeout_ms)  # the child has saved and said it is done
        child = self.trainer if hasattr(self.trainer, "join") else None
        if child is not None:
            child.join(0.5)  # after its last message only the interpreter's teardown is left
        if ended:
            self._busy = False
            self._set_state("idle")
            self._worker = None
            self._thread = None
        return ended

    @Slot(int)
    def _on_paused(self, _step: int) -> None:
        self._set_state("paused")

    @Slot(int)
    def _on_resumed(self, _step: int) -> None:
        self._set_state("running")

    @Slot()
    def _on_done(self) -> None:
        self._busy = False
        self._set_state("idle")

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.stateChanged.emit(state)
