"""Qt fixtures: a main window with its own settings file and runs folder, tiny configs
set through the Model tab's own widgets, and a guard that fails any test which leaves
a thread running."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, QtMsgType, qInstallMessageHandler
from ui_helpers import TINY

from studio.ui.settings import Settings
from studio.ui.workers import running_threads


@pytest.fixture(scope="session", autouse=True)
def garbage_collected_on_the_gui_thread(qapp):
    """As in the app (MainWindow does the same): from the first widget test on, not only
    from the first window's. Painting on the GUI thread alone, likewise."""
    from studio.ui.gui_thread_gc import collect_on_the_gui_thread
    from studio.ui.painting import paint_on_the_gui_thread

    collect_on_the_gui_thread()
    paint_on_the_gui_thread()


@pytest.fixture(scope="session", autouse=True)
def evaluator_ready(cheap_evaluator):
    """Every window test finds the cheap evaluator cached, since live metrics are on by default."""
    return cheap_evaluator


@pytest.fixture(autouse=True)
def fatal_qt_messages_are_printed(pytestconfig):
    """Qt's fatal and critical messages (all, with STUDIO_TEST_QT_LOG=1) reach the terminal
    at once, then pytest-qt's capture.

    A qFatal aborts the process and pytest-qt's handler only records messages, so without
    this an abort would print nothing but the faulthandler's stacks. They go where those
    go: pytest's own copy of the terminal's stderr, taken before it captured fd 2.
    """
    from _pytest.faulthandler import fault_handler_stderr_fd_key

    fd = pytestconfig.stash.get(fault_handler_stderr_fd_key, 2)
    previous = None

    def handler(kind, context, message):
        if kind in (QtMsgType.QtFatalMsg, QtMsgType.QtCriticalMsg) or os.environ.get("STUDIO_TEST_QT_LOG"):
            os.write(fd, f"\nQt {kind.name}: {message} ({context.file}:{context.line})\n".encode())
        if previous is not None:
            previous(kind, context, message)

    previous = qInstallMessageHandler(handler)
    yield
    qInstallMessageHandler(previous)


@pytest.fixture(autouse=True)
def no_threads_left_running():
    before = set(threading.enumerate())
    yield
    qthreads = [t.objectName() for t in running_threads()]
    python_threads = [
        t.name
        for t in threading.enumerate()
        if t not in before and t.is_alive() and not isinstance(t, threading._DummyThread)
    ]
    if qthreads or python_threads:
        pytest.fail(f"the test left threads running: {qthreads + python_threads}")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def make_window(qtbot, tmp_path: Path, settings: Settings):
    """A factory for shown main windows (engine loaded, dataset preview in), closed afterwards."""
    from studio.ui.main_window import MainWindow

    made = []

    def make(wait_preview: bool = True, size: tuple[int, int] | None = (1280, 800), **kwargs) -> MainWindow:
        window = MainWindow(settings=kwargs.pop("settings", settings), runs_root=tmp_path / "runs", **kwargs)
        window.training.grid_seconds = 0.0  # grids on the step cadence only: tests count them
        qtbot.addWidget(window)
        if size is not None:
            window.resize(*size)
        window.show()
        made.append(window)
        if wait_preview:
            qtbot.waitUntil(lambda: window.dataset_tab.preview is not None, timeout=20_000)
        return window

    yield make
    for window in made:
        window.close()


@pytest.fixture
def window(make_window):
    return make_window()


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory):
    """Run directories of tiny headless trainings (cgan MLP, DCGAN and a 2-D VAE), made once."""
    from studio.core.presets import preset
    from studio.core.train.trainer import Trainer

    root = tmp_path_factory.mktemp("tiny-runs")
    runs = {}
    overrides = {key.split(".")[1]: v for key, v in TINY.items() if key.startswith("train.")}
    for name, steps in (("cgan-mlp", 20), ("cgan", 10), ("vae-2d", 60)):
        cfg = preset(name).with_overrides(model={"width": 8}, train={**overrides, "steps": steps})
        events = list(Trainer(cfg, root / name).steps())
        assert type(events[-1]).__name__ == "Finished", events[-1]
        runs[name] = root / name
    return runs
