"""One-off background tasks (dataset previews, downloads, GIF export, the engine import,
the explorer's Measure): each on its own QThread, registered like every other thread
(studio.ui.workers), its result and progress delivered on the main thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from studio.ui.workers import _message, _start_thread


class TaskWorker(QObject):
    """Runs ``fn(progress, cancelled)`` once; ``progress(done, total)`` is thread-safe."""

    progress = Signal(object, object)  # done, total (int or None)
    result = Signal(object)
    failed = Signal(str)
    done = Signal()

    def __init__(self, fn: Callable[[Callable[[int, int | None], None], Callable[[], bool]], Any]):
        super().__init__()
        self._fn = fn
        self.cancel_event = threading.Event()

    @Slot()
    def run(self) -> None:
        try:
            value = self._fn(lambda d, t: self.progress.emit(d, t), self.cancel_event.is_set)
        except BaseException as exc:  # noqa: BLE001
            self.failed.emit(_message(exc))
        else:
            self.result.emit(value)
        finally:
            self.done.emit()


class _Relay(QObject):
    """Lives on the main thread, so a worker's signals reach the callbacks there.

    (PySide6 runs a plain lambda connected to a worker's signal on the worker's thread.)
    """

    def __init__(self, parent: QObject, on_result: Any, on_error: Any, on_progress: Any, forget: Any):
        super().__init__(parent)
        self._on_result, self._on_error, self._on_progress, self._forget = on_result, on_error, on_progress, forget

    @Slot(object)
    def result(self, value: Any) -> None:
        if self._on_result is not None:
            self._on_result(value)

    @Slot(str)
    def failed(self, message: str) -> None:
        if self._on_error is not None:
            self._on_error(message)

    @Slot(object, object)
    def progress(self, done: Any, total: Any) -> None:
        if self._on_progress is not None:
            self._on_progress(done, total)

    @Slot()
    def finished(self) -> None:
        self._forget(self)


class TaskRunner(QObject):
    """Starts TaskWorkers and keeps them until their threads end (one owner for shutdown)."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._tasks: dict[_Relay, tuple[TaskWorker, QThread]] = {}
        self._closed = False

    def run(
        self,
        fn: Callable[..., Any],
        on_result: Callable[[Any], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        on_progress: Callable[[Any, Any], None] | None = None,
        name: str = "task",
    ) -> TaskWorker | None:
        """Run ``fn`` on a new thread; None (nothing runs) after shutdown."""
        if self._closed:
            return None
        worker = TaskWorker(fn)
        relay = _Relay(self, on_result, on_error, on_progress, self._forget)
        worker.result.connect(relay.result)
        worker.failed.connect(relay.failed)
        worker.progress.connect(relay.progress)
        thread = _start_thread(worker, name)
        thread.finished.connect(relay.finished)
        self._tasks[relay] = (worker, thread)
        return worker

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    def cancel_all(self) -> None:
        for worker, _thread in self._tasks.values():
            worker.cancel_event.set()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel what can be cancelled and wait (an import of torch cannot be)."""
        self._closed = True
        self.cancel_all()
        ended = True
        for relay, (_worker, thread) in list(self._tasks.items()):
            if thread.wait(timeout_ms):  # one still running is kept: destroying it would abort
                self._tasks.pop(relay)
                relay.deleteLater()
            else:
                ended = False
        return ended

    def _forget(self, relay: _Relay) -> None:
        entry = self._tasks.pop(relay, None)
        if entry is not None:
            entry[1].wait()
            relay.deleteLater()
