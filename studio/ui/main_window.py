"""The main window: five tabs, the menus, and the one owner of every background thread.

Threads: one training worker (TrainController), one render thread for the explorer
(RenderController), the Search tab's search (SearchController) and short tasks
(TaskRunner: dataset previews, downloads, GIF export, the engine import at start-up).
``shutdown()`` is the single path that stops them all; ``closeEvent`` calls it, so
closing mid-training stops the run at the next step, which saves a checkpoint, and
waits for the threads before the window goes away.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu, QTabWidget

from studio.core.config import Config, ConfigError, DataConfig
from studio.ui.dialogs import show_about, show_error
from studio.ui.run_follower import RunFollower, sample_step
from studio.ui.settings import Settings
from studio.ui.tabs.dataset import DatasetTab
from studio.ui.tabs.explore import ExploreTab
from studio.ui.tabs.model import ModelTab
from studio.ui.tabs.search import SearchTab
from studio.ui.tabs.train import TrainTab
from studio.ui.timeline import read_png
from studio.ui.workers import RenderController, StepChunk, TaskRunner, TrainController

log = logging.getLogger(__name__)

VIEW_FPS = 20  # views redraw at most this often, from the latest data
FOLLOW_MS = 500  # how often an opened run's files are polled
DEFAULT_SIZE = (1280, 800)


class MainWindow(QMainWindow):
    def __init__(
        self,
        settings: Settings | None = None,
        runs_root: str | Path = "runs",
        defer_engine: bool = False,
        show_dialogs: bool = True,
    ):
        super().__init__()
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

        self.view_timer = QTimer(self)
        self.view_timer.setInterval(1000 // VIEW_FPS)
        self.view_timer.timeout.connect(self.train_tab.refresh)
        self.view_timer.start()
        self.follow_timer = QTimer(self)
        self.follow_timer.setInterval(FOLLOW_MS)
        self.follow_timer.timeout.connect(self.poll_run)

        geometry = self.settings.geometry
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(*DEFAULT_SIZE)
        self._update_start()
        self.statusBar().showMessage("Loading PyTorch…" if defer_engine else "Ready")
        if not defer_engine:
            self.finish_init()

    # -- wiring -------------------------------------------------------------------------------
    def _connect(self) -> None:
        for tab in (self.dataset_tab, self.model_tab, self.train_tab, self.explore_tab, self.search_tab):
            tab.errorOccurred.connect(self.report_error)
        self.dataset_tab.dataChanged.connect(self.model_tab.set_data_config)
        self.model_tab.dataConfigLoaded.connect(self.dataset_tab.set_data_config)
        self.model_tab.configChanged.connect(self._update_start)
        t, c = self.train_tab, self.training
        t.startRequested.connect(self.start_training)
        t.pauseRequested.connect(c.pause)
        t.resumeRequested.connect(c.resume)
        t.stopRequested.connect(c.stop)
        t.checkpointRequested.connect(c.save_checkpoint)
        c.started.connect(self._on_started)
        c.steps.connect(t.on_steps)
        c.samples.connect(t.on_samples)
        c.metrics.connect(t.on_metrics)
        c.monitor.connect(t.on_monitor)
        c.checkpoint.connect(self._on_checkpoint)
        c.finished.connect(self._on_finished)
        c.failed.connect(self._on_failed)
        c.stateChanged.connect(self._on_state)
        self.explore_tab.currentModelRequested.connect(self.explore_current)
        self.search_tab.openRequested.connect(self.open_checkpoint)
        self.search_tab.trainRequested.connect(self.train_config)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "&New run", self.new_run, QKeySequence.StandardKey.New)
        self._action(file_menu, "&Open run…", self._open_run_dialog, QKeySequence.StandardKey.Open)
        self.recent_menu = file_menu.addMenu("Open &recent run")
        self._action(file_menu, "Open &checkpoint…", self._open_checkpoint_dialog)
        self.continue_action = self._action(file_menu, "C&ontinue training the opened run", self.continue_run)
        file_menu.addSeparator()
        self._action(file_menu, "&Load config…", self.model_tab._load_dialog)
        self._action(file_menu, "&Save config…", self.model_tab._save_dialog, QKeySequence.StandardKey.Save)
        export = file_menu.addMenu("&Export")
        self._action(export, "Sample grid as PNG…", self.train_tab._export_png_dialog)
        self._action(export, "Training evolution as GIF…", self.train_tab._export_gif_dialog)
        self._action(export, "Explorer image as PNG…", lambda: self.explore_tab._save_dialog(self.explore_tab.image_view, "sample.png"))
        self._action(export, "Interpolation strip as PNG…", lambda: self.explore_tab._save_dialog(self.explore_tab.strip_view, "interpolation.png"))
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&About Latent Studio", lambda: show_about(self))
        self._fill_recent()
        self.continue_action.setEnabled(False)

    def _action(self, menu: QMenu, text: str, slot: Any, shortcut: Any = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        return action

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        runs = self.settings.recent_runs
        for run in runs:
            self._action(self.recent_menu, run, lambda r=run: self.open_run(r))
        self.recent_menu.setEnabled(bool(runs))

    # -- start-up -------------------------------------------------------------------------------
    def finish_init(self, *_args: Any) -> None:
        """Second half of start-up, once torch and the engine are imported."""
        if self.engine_ready or self._closed:
            return
        from studio.core.models import FAMILIES

        self.engine_ready = True
        self.model_tab.set_families(FAMILIES)
        self.dataset_tab.engine_ready()
        self._update_start()
        self.statusBar().showMessage("Ready: click ▶ Train to train the selected model on the selected dataset", 8000)

    def _update_start(self) -> None:
        idle = not self.training.active
        state = self.train_tab.state if self.train_tab.state == "watching" and idle else self.training.state
        self.train_tab.set_state(state, can_start=self.engine_ready and idle)

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

    # -- training -------------------------------------------------------------------------------
    def start_training(self) -> bool:
        if self.training.active or not self.engine_ready or self._closed:
            return False
        try:
            cfg = self.config()
        except ConfigError as exc:
            self.tabs.setCurrentWidget(self.model_tab)
            self.report_error(str(exc), "Invalid configuration")
            return False
        from studio.core.train.child import TrainJob

        job = TrainJob(cfg, runs_root=str(Path(self.runs_root).resolve()))
        return self._run(job, cfg, "Starting: loading data and building the model…")

    def continue_run(self, run_dir: str | Path | None = None) -> bool:
        """Train an existing run further from its last checkpoint (File → Continue)."""
        target = Path(run_dir) if run_dir is not None else self.current_run
        if target is None or self.training.active or not self.engine_ready:
            return False
        from studio.core.config import load_config
        from studio.core.errors import USER_ERRORS, StudioError
        from studio.core.train.child import TrainJob
        from studio.core.train.rundir import RunDir

        try:  # the run's config, checked here so a bad run is one message, not a child's failure
            if not RunDir(target).config_path.exists():
                raise StudioError(f"{target}: not a run directory (no config.toml)")
            cfg = load_config(RunDir(target).config_path)
        except USER_ERRORS as exc:
            self.report_error(str(exc))
            return False
        self.open_run(target, follow=False)
        job = TrainJob(None, str(Path(target).resolve()), str(Path(self.runs_root).resolve()), resume=True)
        return self._run(job, cfg, f"Continuing {target}…", keep_views=True)

    def _run(self, job: Any, cfg: Config, title: str, keep_views: bool = False) -> bool:
        self.stop_following()
        if not keep_views:
            labels = self._class_names(cfg.data) if cfg.conditional else []
            self.train_tab.begin(cfg.train.steps, cfg.train.batch_size, labels, title)
            self._metrics_reference(cfg)
        self._explore_follows_run = True
        self.training.live_metrics = self.train_tab.metrics_panel.live.isChecked()
        self.training.start(job)
        self.tabs.setCurrentWidget(self.train_tab)
        return True

    def _class_names(self, data: DataConfig) -> list[str]:
        preview = self.dataset_tab.preview
        if preview is not None and preview.name in (data.dataset, Path(data.dataset).name):
            return list(preview.class_names)
        return []

    def _on_live_metrics(self, on: bool) -> None:
        self.settings.live_metrics = on  # read by the next run

    def _metrics_reference(self, cfg: Config) -> None:
        """The metrics panel's interval and, from the Dataset tab's preview, the data's class shares
        (a live monitor sends its own when it is ready)."""
        panel = self.train_tab.metrics_panel
        panel.set_interval(cfg.train.sample_every)
        preview = self.dataset_tab.preview
        if preview is not None and self._class_names(cfg.data) and len(preview.counts):
            panel.set_reference(list(preview.class_names), np.asarray(preview.counts, dtype=np.float64))

    def _on_started(self, event: Any) -> None:
        self.current_run = Path(event.run_dir)
        self.train_tab.on_started(event)
        if event.class_names:
            self.train_tab.grid_view.set_row_labels(list(event.class_names))
        self.settings.add_recent_run(event.run_dir)
        self._fill_recent()
        self.continue_action.setEnabled(False)

    def _on_checkpoint(self, event: Any) -> None:
        self.train_tab.on_checkpoint(event)
        if self._explore_on_checkpoint:
            self._explore_on_checkpoint = False
            self.explore_tab.load(event.path)

    def _on_finished(self, event: Any) -> None:
        self.train_tab.on_finished(event)
        self.statusBar().showMessage(f"{'Stopped' if event.stopped else 'Finished'} at step {event.step:,}", 8000)
        if self.current_run is not None and self._explore_follows_run and not self._closed:
            self._explore_on_checkpoint = False
            self.explore_tab.load(self.current_run)

    def _on_failed(self, message: str) -> None:
        self.train_tab.on_failed(message)
        self.report_error(message, "Training failed")

    def _on_state(self, state: str) -> None:
        self._update_start()
        if state == "idle":
            self.continue_action.setEnabled(self.current_run is not None)

    def new_run(self) -> None:
        """Forget the run shown in the Train tab; the next Train click starts afresh."""
        if self.training.active:
            self.report_error("Stop the current run before starting a new one.")
            return
        self.stop_following()
        self.current_run = None
        self.train_tab.begin(0, 1, [], "")
        self.train_tab.status.setText("Ready: click Train to start.")
        self.tabs.setCurrentWidget(self.model_tab)
        self._update_start()

    # -- watching runs on disk ------------------------------------------------------------------
    def open_run(self, path: str | Path, follow: bool = True) -> bool:
        """Show a run's curves and grids and follow what another process adds to it."""
        from studio.core.config import load_config

        run = Path(path)
        if self.training.active:
            self.report_error("Stop the current run before opening another one.")
            return False
        if not (run / "config.toml").is_file():
            self.report_error(f"{run}: not a run directory (no config.toml)")
            return False
        try:
            cfg = load_config(run / "config.toml")
        except ConfigError as exc:
            self.report_error(str(exc))
            return False
        self.stop_following()
        self.apply_config(cfg)
        self.current_run = run
        labels = self._class_names(cfg.data) if cfg.conditional else []
        if cfg.conditional and not labels:
            labels = [str(i) for i in range(10)] if cfg.data.dataset.startswith("mnist") else []
        self.train_tab.begin(cfg.train.steps, cfg.train.batch_size, labels, f"Run: {run}")
        self._metrics_reference(cfg)
        self.train_tab.metrics_panel.status_label.setText(
            "Metrics from the run's log, when it has them (runs trained in this window with live metrics on). "
            "Continue training here to compute them."
        )
        self.follower = RunFollower(run)
        self.poll_run()
        self.settings.add_recent_run(run)
        self._fill_recent()
        self.continue_action.setEnabled(True)
        self._explore_follows_run = True
        if (run / "checkpoints" / "last.safetensors").exists():
            self.explore_tab.load(run)  # Explore shows the opened run too, not the model before it
        if follow:
            self.train_tab.set_state("watching", can_start=self.engine_ready)
            self.follow_timer.start()
            self.tabs.setCurrentWidget(self.train_tab)
        return True

    def stop_following(self) -> None:
        self.follow_timer.stop()
        self.follower = None
        if self.train_tab.state == "watching":
            self.train_tab.set_state("idle", can_start=self.engine_ready)

    def poll_run(self) -> None:
        """Read what the followed run wrote since the last poll."""
        if self.follower is None:
            return
        from studio.core.train import events as ev

        records, samples = self.follower.poll()
        steps = [r for r in records if r.get("kind") == "step" and isinstance(r.get("losses"), dict)]
        if steps:
            names: list[str] = []
            for r in steps:
                names += [k for k in r["losses"] if k not in names]
            chunk = StepChunk(
                np.array([r.get("step", 0) for r in steps], dtype=np.int64),
                {k: np.array([_num(r["losses"].get(k)) for r in steps]) for k in names},
                _num(steps[-1].get("images_per_sec")),
                int(steps[-1].get("step", 0)),
            )
            self.train_tab.on_steps(chunk)
        for r in records:
            if r.get("kind") == "metrics" and isinstance(r.get("values"), dict):
                hist = r.get("class_histogram")
                self.train_tab.on_metrics(ev.Metrics(
                    int(r.get("step", 0)),
                    {k: _num(v) for k, v in r["values"].items()},
                    None if hist is None else np.asarray(hist, dtype=np.float64),
                ))
        for path in samples:
            grid = read_png(path)
            if grid is not None:
                self.train_tab.add_grid(sample_step(path), grid, path)

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

    def _open_run_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a run folder", str(self.runs_root))
        if folder:
            self.open_run(folder)

    def _open_checkpoint_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a checkpoint", str(self.runs_root), "Checkpoints (*.safetensors);;All files (*)"
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
        self.renderer.shutdown()
        self.tasks.shutdown()
        self.settings.last_dataset = self.dataset_tab.selected
        self.settings.geometry = self.saveGeometry()
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        self.shutdown()
        event.accept()


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")
