"""The explorer's renderer: one thread that serves the Explore tab's requests, newest first.

Each channel ("image", "strip", "map", ...) keeps only its latest request, and a
cancellable job polls ``JobContext.should_stop`` so that a newer request, a model load,
Cancel or closing the window ends it within one step. The thread is registered in
``workers.LIVE_THREADS`` like every worker thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from studio.ui.workers import _message, _start_thread, _use_torch_threads


@dataclass(frozen=True)
class RenderResult:
    channel: str  # "load", "image", "strip", "map", "encode", ...
    seq: int  # the request's sequence number
    value: Any  # ExplorerInfo, uint8 arrays, or a tuple of them
    ms: float  # how long the model took


@dataclass(frozen=True)
class RenderProgress:
    """How far a cancellable job has come, with an optional preview of its partial result."""

    channel: str
    seq: int
    fraction: float  # 0..1
    message: str
    preview: Any = None


PREVIEW_EVERY_S = 0.05  # a job's progress reaches the window at most ~20 times a second


class JobContext:
    """What a cancellable job is handed besides the explorer (``job(explorer, ctx)``).

    ``should_stop()`` turns true once a newer request arrives on the job's channel, a
    model load is queued, Cancel is clicked for the channel, or the window closes: the
    job's sampler polls it and gives up within one step. ``progress(fraction, message,
    preview)`` is thread-safe and throttled, except for the last step (fraction 1).
    """

    def __init__(self, worker: RenderWorker, channel: str, seq: int):
        self._worker, self.channel, self.seq = worker, channel, seq
        self._last_emit = 0.0

    def should_stop(self) -> bool:
        return self._worker.superseded(self.channel, self.seq)

    def progress(self, fraction: float, message: str = "", preview: Any = None) -> None:
        now = time.perf_counter()
        if fraction < 1 and now - self._last_emit < PREVIEW_EVERY_S:
            return
        self._last_emit = now
        self._worker.progress.emit(RenderProgress(self.channel, self.seq, float(fraction), message, preview))


class RenderWorker(QObject):
    """Serves the explorer, one request at a time, newest first.

    Each channel keeps only its latest request: while a slider moves, the requests that
    arrive during a render replace one another, and only the last is drawn (the stale
    ones are dropped, as in the StyleGAN3 visualizer). A "load" replaces the model and
    drops every pending request for the old one.

    A cancellable job (``submit(..., cancellable=True)``) is called as ``job(explorer, ctx)``
    with a JobContext; once its ``should_stop`` has turned true the job's end (a result or
    an exception) is reported as ``cancelled`` rather than as a result or an error.
    """

    result = Signal(object)  # RenderResult
    error = Signal(str, str)  # channel, message
    progress = Signal(object)  # RenderProgress
    cancelled = Signal(str, int)  # channel, seq
    done = Signal()

    ORDER = ("load", "image", "encode", "strip", "map")  # other channels after these, in arrival order

    def __init__(self) -> None:
        super().__init__()
        self._cond = threading.Condition()
        self._pending: dict[str, tuple[int, Callable[..., Any], bool]] = {}
        self._cancelled: set[tuple[str, int]] = set()
        self._running: tuple[str, int] | None = None
        self._stopping = False
        self.explorer: Any = None

    def submit(self, channel: str, seq: int, job: Callable[..., Any], cancellable: bool = False) -> None:
        with self._cond:
            if channel == "load":
                self._pending.clear()
            self._pending.pop(channel, None)  # re-inserted last: arrival order among the unordered
            self._pending[channel] = (seq, job, cancellable)
            self._cond.notify()

    def cancel(self, channel: str, seq: int) -> None:
        """Drop request ``seq`` of ``channel`` if it waits; make it stop if it runs."""
        with self._cond:
            pending = self._pending.get(channel)
            dropped = pending is not None and pending[0] == seq
            if dropped:
                del self._pending[channel]
            elif self._running == (channel, seq):
                self._cancelled.add((channel, seq))
        if dropped:
            self.cancelled.emit(channel, seq)

    def superseded(self, channel: str, seq: int) -> bool:
        with self._cond:
            return (self._stopping or channel in self._pending or "load" in self._pending
                    or (channel, seq) in self._cancelled)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._pending.clear()
            self._cond.notify()

    def _next(self) -> tuple[str, int, Callable[..., Any], bool] | None:
        with self._cond:
            while not self._pending and not self._stopping:
                self._cond.wait()
            if self._stopping:
                return None
            channel = next((c for c in self.ORDER if c in self._pending), next(iter(self._pending)))
            seq, job, cancellable = self._pending.pop(channel)
            self._running = (channel, seq)
            return channel, seq, job, cancellable

    @Slot()
    def run(self) -> None:
        try:
            _use_torch_threads(1)
            while (request := self._next()) is not None:
                self._serve(*request)
                with self._cond:
                    self._cancelled.discard(request[:2])
                    self._running = None
        finally:
            self.done.emit()

    def _serve(self, channel: str, seq: int, job: Callable[..., Any], cancellable: bool) -> None:
        start = time.perf_counter()
        ctx = JobContext(self, channel, seq) if cancellable else None
        try:
            if channel != "load" and self.explorer is None:
                raise RuntimeError("no model is loaded in the explorer")
            value = job(self.explorer) if ctx is None else job(self.explorer, ctx)
        except BaseException as exc:  # noqa: BLE001 - report, keep serving
            if ctx is not None and ctx.should_stop():
                self._end_cancelled(channel, seq)
            else:
                self.error.emit(channel, _message(exc))
            return
        if ctx is not None and ctx.should_stop():
            self._end_cancelled(channel, seq)
            return
        if channel == "load":
            self.explorer = value
            value = value.info
        self.result.emit(RenderResult(channel, seq, value, (time.perf_counter() - start) * 1000))

    def _end_cancelled(self, channel: str, seq: int) -> None:
        with self._cond:
            self._cancelled.discard((channel, seq))
        self.cancelled.emit(channel, seq)


class RenderController(QObject):
    """Owns the render thread (started on first use)."""

    result = Signal(object)
    error = Signal(str, str)
    progress = Signal(object)  # RenderProgress of a cancellable job
    cancelled = Signal(str, int)  # channel, seq: a cancellable job stopped before its end

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._worker: RenderWorker | None = None
        self._thread: QThread | None = None
        self._seq = 0
        self._closed = False

    def submit(self, channel: str, job: Callable[..., Any], cancellable: bool = False) -> int:
        """Queue ``job(explorer)`` (``job(explorer, ctx)`` when cancellable: a JobContext
        with should_stop and progress); for "load", ``job(None)`` returns the new Explorer.

        After shutdown (a result still queued when the window closed may ask for more)
        nothing is queued and -1 is returned.
        """
        if self._closed:
            return -1
        if self._worker is None:
            self._worker = RenderWorker()
            self._worker.result.connect(self.result)
            self._worker.error.connect(self.error)
            self._worker.progress.connect(self.progress)
            self._worker.cancelled.connect(self.cancelled)
            self._thread = _start_thread(self._worker, "render-worker")
        self._seq += 1
        self._worker.submit(channel, self._seq, job, cancellable)
        return self._seq

    def cancel(self, channel: str, seq: int) -> None:
        """Stop request ``seq`` of ``channel`` (Cancel): ``cancelled`` follows once it has ended."""
        if self._worker is not None:
            self._worker.cancel(channel, seq)

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        self._closed = True
        if self._thread is None:
            return True
        self._worker.stop()
        ended = self._thread.wait(timeout_ms)
        if ended:  # a QThread destroyed while it runs aborts the process (qFatal)
            self._worker = None
            self._thread = None
        return ended
