"""The window paints on its own thread, and leaves the other cores to the training.

Qt 6 splits a large fill (a plot's background, a scaled image) across a thread pool of
its own, a thread per core. While a run trains in the child process on every core, each
split wakes those pool threads, and each wake-up takes a core from one of the child's
training threads for a moment, stalling the other one at its next barrier. In
``benchmarks/gui_responsiveness.py`` a 300-step cgan run woke them ~800 times a second;
a load of 1% of a core that wakes 100 times a second cost a 2-thread run ~7% of its
speed here. Painting on the GUI thread alone costs it the same few milliseconds a
redraw, and no wake-ups.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

NO_POOL = "QT_NO_GUI_THREADPOOL"  # Qt reads it when it first needs the pool (QGuiApplicationPrivate::qtGuiThreadPool)


def paint_on_the_gui_thread() -> None:
    """Turn Qt's parallel fills off for this process, unless the user set the variable.

    Call before the first paint: Qt creates its pool (or decides not to) on first use.
    """
    os.environ.setdefault(NO_POOL, "1")


def thread_wakeups() -> Counter:
    """Voluntary context switches of this process's threads, by thread name (Linux; else empty).

    Each one is a wake-up after a wait. Qt names its pool's threads "Thread (pooled)".
    """
    counts: Counter = Counter()
    for task in Path("/proc/self/task").glob("*"):
        try:
            name = (task / "comm").read_text().strip()
            status = (task / "status").read_text()
        except OSError:  # the thread ended while we read
            continue
        for line in status.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                counts[name] += int(line.split()[1])
    return counts
