"""The window paints on its own thread: Qt's pool threads do not wake while curves redraw."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="thread counters are Linux's")

POOLED = "Thread (pooled)"  # the name Qt gives its pool's threads


def pooled_wakeups_while_plotting(redraws: int = 10) -> int:
    """Redraw a large, growing loss plot; the wake-ups of Qt's pool threads meanwhile."""
    import numpy as np
    from PySide6.QtWidgets import QApplication

    from studio.ui.painting import thread_wakeups
    from studio.ui.widgets.loss_plot import LossPlot

    app = QApplication.instance() or QApplication([])
    plot = LossPlot()
    plot.resize(1200, 700)
    plot.set_x_extent(1000)
    plot.show()
    before = thread_wakeups()[POOLED]
    for i in range(redraws):
        plot.append(np.arange(i * 10, i * 10 + 10), {"d": np.linspace(1, 2, 10), "g": np.linspace(2, 3, 10)})
        plot.refresh()
        plot.plot.viewport().repaint()
        app.processEvents()
    plot.close()
    return thread_wakeups()[POOLED] - before


def test_curves_redraw_without_waking_qts_paint_threads(qapp):
    from studio.ui.painting import NO_POOL

    assert os.environ.get(NO_POOL) == "1"  # set by the session fixture, as MainWindow does
    assert pooled_wakeups_while_plotting() == 0


def test_qts_paint_threads_do_wake_when_allowed():
    """The same redraws in a process where Qt may use its pool: they wake it (so the test
    above would see a window that lets them)."""
    if (os.cpu_count() or 1) < 2:
        pytest.skip("Qt uses no pool on one core")
    env = {k: v for k, v in os.environ.items() if k != "QT_NO_GUI_THREADPOOL"}
    env["QT_QPA_PLATFORM"] = "offscreen"
    here = Path(__file__).resolve().parent
    code = f"import sys; sys.path.insert(0, {str(here)!r}); import test_painting as t; print(t.pooled_wakeups_while_plotting())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True)
    assert int(out.stdout.strip().splitlines()[-1]) > 0
