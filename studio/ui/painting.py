"""The window paints on its own thread, and leaves the other cores to the training.

Qt 6 splits a large fill (a plot's background, a scaled image) across a thread pool of
its own, a thread per core. While a run trains in the child process on every core, each
split wakes those pool threads, which then wait for a core the training holds, and the
GUI thread waits for them. In ``benchmarks/gui_responsiveness.py`` (a 300-step cgan run,
4 rounds each, one after the other) they woke ~700 times a second; without them the
worst event-loop lag went from 48.3 to 17.4 ms and GUI/CLI from 0.90x to 1.04x of the
medians (later runs: 0.92-1.01x). ``benchmarks/wakeup_cost.py`` shows what a small
bursty load costs a 2-thread run. Painting on the GUI thread alone costs it about the
same few milliseconds a redraw.
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
