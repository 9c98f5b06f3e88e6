"""Python's cyclic garbage collector runs on the GUI thread only.

Left automatic, a collection runs in whichever thread crosses the allocation threshold:
often a worker (the engine import, a search trial, the renderer). It then destroys the Qt
widgets of closed windows and dialogs caught in reference cycles, off the GUI thread.
Shiboken defers such deletions to the GUI thread, and under the test suite that path
deadlocked (a QMenu's ~QObject waiting on a Qt mutex while the worker waited for the GIL)
or crashed the process (a segfault in the main thread's next collection; the aborts of
two CI runs). pyqtgraph's GarbageCollector turns automatic collection off and collects
on a GUI-thread timer, with the same generation thresholds.
"""

from __future__ import annotations

from typing import Any

_collector: Any = None


def collect_on_the_gui_thread(interval_s: float = 1.0) -> None:
    """Idempotent; call on the GUI thread once a QApplication exists."""
    global _collector
    if _collector is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _collector = GarbageCollector(interval=interval_s)
