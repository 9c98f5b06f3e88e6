"""Python's cyclic garbage collector runs on the GUI thread only.

Left automatic, a collection runs in whichever thread crosses the allocation threshold:
often a worker (the engine import, a search trial, the renderer). It then destroys the Qt
widgets of closed windows and dialogs caught in reference cycles, off the GUI thread.
Shiboken defers such deletions to the GUI thread, and under the test suite that path
deadlocked (a QMenu's ~QObject waiting on a Qt mutex while the worker waited for the GIL)
or crashed the process (a segfault in the main thread's next collection; the aborts of
two CI runs). So automatic collection is off, and a GUI-thread timer collects instead,
with the interpreter's generation thresholds (as pyqtgraph's GarbageCollector does).

Unlike that one, it freezes what is long-lived (``gc.freeze()``): with torch and the
engine in (~450k objects) a full collection took 150-300 ms on the GUI thread, a freeze
the person sees. The window freezes the objects alive once torch and the engine are in
and once its first run has started (the start imports more of torch), and every full
collection freezes its survivors; the next full collection scans only what came after
(0.1 ms against 157 ms here). Frozen objects are still freed when their reference count
drops; only cycles among them stay, which is little.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QTimer

_collector: GuiThreadCollector | None = None
_frozen_after: set[str] = set()


class GuiThreadCollector:
    def __init__(self, interval_s: float = 1.0):
        self.thresholds = gc.get_threshold()
        self.full_collections = 0
        gc.disable()
        self.timer = QTimer(QCoreApplication.instance())
        self.timer.timeout.connect(self.check)
        self.timer.start(int(interval_s * 1000))

    def check(self) -> None:
        """Collect the generations whose counts passed their thresholds, youngest first."""
        count0, count1, count2 = gc.get_count()
        t0, t1, t2 = self.thresholds
        if count0 <= t0:
            return
        if count1 <= t1:
            gc.collect(0)
        elif count2 <= t2:
            gc.collect(1)
        else:
            self.collect_all()

    def collect_all(self) -> None:
        gc.collect(2)
        gc.freeze()  # the survivors are long-lived: later full collections skip them
        self.full_collections += 1


def collect_on_the_gui_thread(interval_s: float = 1.0) -> GuiThreadCollector:
    """Idempotent; call on the GUI thread once a QApplication exists."""
    global _collector
    if _collector is None:
        _collector = GuiThreadCollector(interval_s)
    return _collector


def freeze_the_loaded(moment: str) -> None:
    """Once per process and ``moment`` ("engine": torch and the engine imported; "run":
    the first run started, whose start imports more of torch): keep every object alive
    now out of later collections. Freezing costs nothing; what garbage is alive then
    stays, which is little at these two moments."""
    if moment not in _frozen_after:
        _frozen_after.add(moment)
        gc.freeze()
