"""The main window: five tabs, and the one owner of every background thread (its menus:
menus.py; opening and following runs: run_watching.py; starting and ending runs:
run_control.py).

Threads: one training worker (TrainController), one render thread for the explorer
(RenderController), the Search tab's search (SearchController) and short tasks
(TaskRunner: dataset previews, downloads, GIF export, the engine import at start-up).
``shutdown()`` is the single path that stops them all; ``closeEvent`` calls it, so
closing mid-training stops the run at the next step, which saves a checkpoint, and
waits for the threads before the window goes away. A programmatic ``close()`` does not
ask first; the window's close button does while a run trains.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtGui import QCloseEvent, QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMainWindow, QTabWidget

from studio.core.config import Config, DataConfig
from studio.ui.dialogs import show_error
from studio.ui.gui_thread_gc import collect_on_the_gui_thread, freeze_the_loaded
from studio.ui.menus import WindowMenus
from studio.ui.painting import paint_on_the_gui_thread
from studio.ui.renderer import RenderController
from studio.ui.run_control import PendingStart, RunControl
from studio.ui.run_follower import RunFollower
from studio.ui.run_watching import RunWatching
from studio.ui.settings import Settings
from studio.ui.tabs.dataset import DatasetTab
from studio.ui.tabs.explore import ExploreTab
from studio.ui.tabs.model import ModelTab
from studio.ui.tabs.search import SearchTab
from studio.ui.tabs.train import TrainTab
from studio.ui.tasks import TaskRunner
from studio.ui.workers import TrainController

log = logging.getLogger(__name__)

# The Train tab redraws what changed this often, from the latest data. Curves at 4 Hz: the
# loss plot was ~70% of the window's Python time while training (~3 ms a redraw), and on a
# 2-core machine each burst, and each wake-up, takes a core from a training thread
# (benchmarks/wakeup_cost.py); the timer itself ticked at 20 Hz, idle or not, to redraw at 4.
VIEW_FPS = 4
FOLLOW_MS = 500  # how often an opened run's files are polled
DEFAULT_SIZE = (1280, 800)
FRAME = (8, 40)  # room for a window manager's borders and title bar
SCREEN_SHARE = 0.85  # of a large screen, the first time the window opens


class MainWindow(WindowMenus, RunWatching, RunControl, QMainWindow):
    def __init__(
        self,
        settings: Settings | None = None,
        runs_root: str | Path = "runs",
        defer_engine: bool = False,
        show_dialogs: bool = True,
    ):
        super().__init__()
        collect_on_the_gui_thread()  # before any worker thread starts (see gui_thread_gc)
        paint_on_the_gui_thread()  # before the first paint (see painting)
        self.setWindowTitle("Latent Studio")
        self.settings = settings or Settings()
        self.runs_root = Path(runs_root)
        self.show_dialogs = show_dialogs
        self.errors: list[str] = []  # every message shown to the user, oldest first
        self.engine_ready = False
        self.current_run: Path | None = None  # the run trained or watched in the Train tab
        self.follower: RunFollower | None = None
        self._explore_on_checkpoint = False
        self._explore_follows_run = True
        self._closed = False
        self._pending: PendingStart | None = None
        self._after_stop: Callable[[], Any] | None = None  # what to do once the stopped run has ended
        self._train_after_download = False
        self.opened_config: Config | None = None  # the opened run's, when the form kept the user's settings
        self.compare_dialog: Any = None

        self.tasks = TaskRunner(self)
        self.training = TrainController(self)
        self.renderer = RenderController(self)

        self.dataset_tab = DatasetTab(self.tasks, self.settings)
        self.model_tab = ModelTab()
        self.train_tab = TrainTab(self.tasks)
        self.explore_tab = ExploreTab(self.renderer, self.tasks)
        self.search_tab = SearchTab(self.runs_root)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.dataset_tab, "Dataset")
        self.tabs.addTab(self.model_tab, "Model")
        self.tabs.addTab(self.train_tab, "Train")
        self.tabs.addTab(self.explore_tab, "Explore")
        self.tabs.addTab(self.search_tab, "Search")
        self.tabs.setCurrentWidget(self.train_tab)
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self.setCentralWidget(self.tabs)
        self._connect()
        self._build_menus()
        self.model_tab.set_data_config(self.dataset_tab.data_config())
        self.train_tab.metrics_panel.live.setChecked(self.settings.live_metrics)
        self.train_tab.metrics_panel.live.toggled.connect(self._on_live_metrics)
        self._remember_plot_settings()
        self._show_form_lr()

        self.view_timer = QTimer(self)
        self.view_timer.setInterval(1000 // VIEW_FPS)
        self.view_timer.timeout.connect(self.train_tab.refresh)
        self.view_timer.start()
        self.follow_timer = QTimer(self)
        self.follow_timer.setInterval(FOLLOW_MS)
        self.follow_timer.timeout.connect(self.poll_run)

        geometry = self.settings.geometry
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(*self._default_size())
        self._update_start()
        self.statusBar().showMessage("Loading PyTorch…" if defer_engine else "Ready")
        if not defer_engine:
            self.finish_init()

    def _default_size(self) -> tuple[int, int]:
        """Most of the screen, DEFAULT_SIZE at least, and never more than fits with the frame
        the window manager adds (a 1280x720 laptop gets all of it)."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            return DEFAULT_SIZE
        space = screen.availableGeometry()
        width = max(DEFAULT_SIZE[0], int(space.width() * SCREEN_SHARE))
        height = max(DEFAULT_SIZE[1], int(space.height() * SCREEN_SHARE))
        return min(width, space.width() - FRAME[0]), min(height, space.height() - FRAME[1])

    # -- wiring -------------------------------------------------------------------------------
    def _connect(self) -> None:
        for tab in (self.dataset_tab, self.model_tab, self.train_tab, self.explore_tab, self.search_tab):
            tab.errorOccurred.connect(self.report_error)
        self.dataset_tab.dataChanged.connect(self._on_data_changed)
        self.dataset_tab.downloadFinished.connect(self._on_download_finished)
        self.model_tab.dataConfigLoaded.connect(self.dataset_tab.set_data_config)
        self.model_tab.configChanged.connect(self._on_config_changed)
        t, c = self.train_tab, self.training
        t.startRequested.connect(self.start_training)
        t.continueRequested.connect(self.continue_run)
        t.pauseRequested.connect(c.pause)
        t.resumeRequested.connect(c.resume)
        t.stepRequested.connect(c.step_once)
        t.stopRequested.connect(c.stop)
        t.checkpointRequested.connect(c.save_checkpoint)
        t.lrRequested.connect(c.set_lr)
        t.compareRequested.connect(self.compare_runs)
        t.messageShown.connect(lambda text: self.statusBar().showMessage(text, 8000))
        c.started.connect(self._on_started)
        c.steps.connect(t.on_steps)
        c.samples.connect(t.on_samples)
        c.metrics.connect(t.on_metrics)
        c.monitor.connect(self._on_monitor)
        c.checkpoint.connect(self._on_checkpoint)
        c.learningRate.connect(t.on_learning_rate)
        c.finished.connect(self._on_finished)
        c.failed.connect(self._on_failed)
        c.stateChanged.connect(self._on_state)
        self.explore_tab.currentModelRequested.connect(self.explore_current)
        self.search_tab.openRequested.connect(self.open_checkpoint)
        self.search_tab.trainRequested.connect(self.train_config)

    # -- start-up -------------------------------------------------------------------------------
    def finish_init(self, *_args: Any) -> None:
        """Second half of start-up, once torch and the engine are imported."""
        if self.engine_ready or self._closed:
            return
        from studio.core.models import FAMILIES

        self.engine_ready = True
        freeze_the_loaded("engine")  # torch and the engine are in: full collections skip them
        self.model_tab.set_families(FAMILIES)
        self.dataset_tab.engine_ready()
        self._update_start()
        self.statusBar().showMessage("Ready: click ▶ Train to train the selected model on the selected dataset", 8000)

    def _update_start(self) -> None:
        idle = not self.training.active
        state = self.train_tab.state if self.train_tab.state == "watching" and idle else self.training.state
        self.train_tab.set_state(state, can_start=self.engine_ready and idle)

    def _on_config_changed(self) -> None:
        self._update_start()
        if not self.training.active:
            self._show_form_lr()

    def _show_form_lr(self) -> None:
        """The Train tab's learning-rate field shows the form's until a run changes it."""
        widget = self.model_tab.fields.get("train.lr")
        text = widget.text() if widget is not None and hasattr(widget, "text") else ""
        self.train_tab.lr_edit.setText(text)

    def _on_data_changed(self, data: DataConfig) -> None:
        self.model_tab.set_data_problem(self.dataset_tab.problem())
        self.model_tab.set_data_config(data)

    def _remember_plot_settings(self) -> None:
        """The loss plot's smoothing and log scale, as the user last left them."""
        plot = self.train_tab.loss_plot
        plot.smoothing.setValue(self.settings.smoothing)
        plot.log_scale.setChecked(self.settings.log_scale)
        plot.smoothing.valueChanged.connect(lambda v: setattr(self.settings, "smoothing", v))
        plot.log_scale.toggled.connect(lambda on: setattr(self.settings, "log_scale", on))

    # -- errors ---------------------------------------------------------------------------------
    def report_error(self, message: str, title: str = "Latent Studio") -> None:
        """Show a user-facing error without blocking; tests read ``errors``."""
        log.warning("%s", message)
        self.errors.append(message)
        self.statusBar().showMessage(message.splitlines()[0] if message else "", 10000)
        if self.show_dialogs and not self._closed:
            show_error(self, title, message)

    # -- configuration --------------------------------------------------------------------------
    def config(self) -> Config:
        """The config a Train click would use (Model tab + Dataset tab); raises ConfigError."""
        self.model_tab.set_data_config(self.dataset_tab.data_config())
        return self.model_tab.config()

    def apply_config(self, cfg: Config) -> None:
        self.dataset_tab.set_data_config(cfg.data)
        self.model_tab.set_config(cfg)

    def train_config(self, cfg: Config) -> bool:
        """Show a config in the Dataset and Model tabs and train it (Search: Train best config)."""
        self.apply_config(cfg)
        return self.start_training()

    # -- exploring ------------------------------------------------------------------------------
    def explore_current(self) -> None:
        """Load the Train tab's model into the explorer (a fresh checkpoint when training)."""
        self._explore_follows_run = True
        self.tabs.setCurrentWidget(self.explore_tab)
        if self.training.active and self.training.state == "running":
            self._explore_on_checkpoint = True
            self.training.save_checkpoint()
            self.explore_tab.source_label.setText("Saving a checkpoint of the current model…")
            return
        if self.current_run is not None and (self.current_run / "checkpoints" / "last.safetensors").exists():
            self.explore_tab.load(self.current_run)
            return
        self.report_error("No model yet: train one (Train tab), or open a run or a checkpoint.")

    def open_checkpoint(self, path: str | Path) -> None:
        self._explore_follows_run = False
        self.tabs.setCurrentWidget(self.explore_tab)
        self.explore_tab.load(path)

    def _on_tab_changed(self, _index: int) -> None:
        if (
            self.tabs.currentWidget() is self.explore_tab
            and self.explore_tab.info is None
            and self.current_run is not None
            and (self.current_run / "checkpoints" / "last.safetensors").exists()
        ):
            self.explore_tab.load(self.current_run)

    def compare_runs(self) -> None:
        """The Compare runs dialog over the runs folder, the current run selected."""
        from studio.ui.compare import CompareDialog

        if self.compare_dialog is None:
            self.compare_dialog = CompareDialog(self.runs_root, self)
            self.compare_dialog.messageShown.connect(lambda text: self.statusBar().showMessage(text, 8000))
        else:
            self.compare_dialog.refresh()
        if self.current_run is not None:
            self.compare_dialog.select([self.current_run.name])
        self.compare_dialog.show()
        self.compare_dialog.raise_()

    def _open_checkpoint_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a checkpoint or an ensemble", str(self.runs_root),
            "Checkpoints and ensembles (*.safetensors *.toml);;All files (*)"
        )
        if path:
            self.open_checkpoint(path)

    # -- shutdown -------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop every thread (the run saves a checkpoint), then remember the session."""
        if self._closed:
            return
        self._closed = True
        self.view_timer.stop()
        self.follow_timer.stop()
        self.explore_tab.play_timer.stop()
        if not self.training.shutdown(timeout_ms=30_000):
            log.error("the training thread did not stop within 30 s")
        if not self.search_tab.shutdown(timeout_ms=30_000):
            log.error("the search thread did not stop within 30 s")
        if not self.renderer.shutdown():
            log.error("the explorer's render thread did not stop within 5 s")
        if not self.tasks.shutdown():
            log.error("a background task did not stop within 30 s")
        self.settings.last_dataset = self.dataset_tab.selected
        self.settings.geometry = self.saveGeometry()
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        # The window manager's close button asks first; a programmatic close() does not.
        if event.spontaneous() and not self._closed and not self._confirm_stop("quit"):
            event.ignore()
            return
        self.shutdown()
        event.accept()
