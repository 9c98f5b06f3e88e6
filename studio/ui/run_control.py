"""Starting, continuing and ending runs in the window, and what their events change.

A mixin of MainWindow (studio.ui.main_window), which owns the tabs, the TrainController
and the settings these methods use. While a run trains, quitting and anything that
would start or show another run first ask "Stop and save" or "Cancel" (``_when_idle``);
with ``show_dialogs=False`` (tests, scripts) nothing asks and the run is stopped and
saved. A run only replaces what the Train tab shows once it has started (``_on_started``):
a start that fails leaves the last run's curves on screen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QMessageBox

from studio.core.config import Config, ConfigError, DataConfig
from studio.core.train.runinfo import summarize
from studio.ui.gui_thread_gc import freeze_the_loaded


@dataclass
class PendingStart:
    """A run asked for and not started yet: what ``begin`` needs once it has."""

    cfg: Config
    title: str
    keep_views: bool
    statuses: list[Any] = field(default_factory=list)  # MonitorStatus events before Started


class RunControl:
    """Train, Continue, New run and Quit, and the slots of the training worker's events."""

    def start_training(self) -> bool:
        """Train a new run of the form's config; False when nothing started (yet)."""
        if not self.engine_ready or self._closed:
            return False
        if self.training.active:
            return self._when_idle(self.start_training, "start a new run")
        try:
            cfg = self.config()
        except ConfigError as exc:
            self.tabs.setCurrentWidget(self.model_tab)
            self.report_error(str(exc), "Invalid configuration")
            return False
        problem = self.dataset_tab.problem()
        if problem:
            self._dataset_missing(problem)
            return False
        from studio.core.train.child import TrainJob

        job = TrainJob(cfg, runs_root=str(Path(self.runs_root).resolve()))
        return self._run(job, cfg, "Starting: loading data and building the model…")

    def _dataset_missing(self, problem: str) -> None:
        """The dataset is not on disk: one message, with what to do about it in the window."""
        self.errors.append(problem)
        self.statusBar().showMessage(problem, 10000)
        self.model_tab.set_data_problem(problem)
        self.tabs.setCurrentWidget(self.dataset_tab)
        if not self.show_dialogs:
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "The dataset is not on disk", problem,
                          QMessageBox.StandardButton.NoButton, self)
        box.setObjectName("dataset-dialog")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        download = box.addButton("Download and train", QMessageBox.ButtonRole.AcceptRole) \
            if self.dataset_tab.downloadable() else None
        folder = box.addButton("Choose an image folder…", QMessageBox.ButtonRole.ActionRole)
        box.addButton(QMessageBox.StandardButton.Cancel)

        def chosen(button: Any) -> None:
            if download is not None and button is download:
                self.download_and_train()
            elif button is folder:
                self.dataset_tab.pick_folder()

        box.buttonClicked.connect(chosen)
        box.open()

    def download_and_train(self) -> None:
        """Download the selected dataset (Dataset tab, with progress), then start the run."""
        self._train_after_download = True
        self.tabs.setCurrentWidget(self.dataset_tab)
        self.dataset_tab.start_download()

    def _on_download_finished(self, name: str, ok: bool) -> None:
        if self._train_after_download:
            self._train_after_download = False
            if ok and name == self.dataset_tab.selected and not self.dataset_tab.problem():
                self.start_training()

    # -- a run in progress: ask before replacing it --------------------------------------------
    def _confirm_stop(self, what: str) -> bool:
        """May the run in progress be stopped (with a checkpoint) to ``what``? True when idle."""
        if not self.training.active or not self.show_dialogs:
            return True
        step = self.train_tab.step
        box = QMessageBox(QMessageBox.Icon.Question, "A run is training",
                          f"A run is training (step {step:,} of {self.train_tab.total_steps:,}). "
                          f"Stop it, saving a checkpoint, and {what}?",
                          QMessageBox.StandardButton.NoButton, self)
        box.setObjectName("stop-dialog")
        stop = box.addButton("Stop and save", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(box.addButton(QMessageBox.StandardButton.Cancel))
        box.exec()
        return box.clickedButton() is stop

    def _when_idle(self, action: Callable[[], Any], what: str) -> bool:
        """Run ``action`` now when no run trains, else (if the user agrees) once the run has
        stopped and saved. Returns False when it did not run now."""
        if not self.training.active:
            return bool(action())
        if not self._confirm_stop(what):
            return False
        self._after_stop = action
        self.training.stop()
        self.statusBar().showMessage("Stopping the run (saving a checkpoint)…", 8000)
        return False

    def request_quit(self) -> None:
        """File → Quit: ask first while a run trains."""
        if self._confirm_stop("quit"):
            self.close()

    def continue_run(self, run_dir: str | Path | None = None) -> bool:
        """Train an existing run further from its last checkpoint (Continue)."""
        target = Path(run_dir) if run_dir is not None else self.current_run
        if target is None or not self.engine_ready:
            return False
        if self.training.active:
            return self._when_idle(lambda: self.continue_run(target), "continue the opened run")
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
        self.open_run(target, follow=False, ask=False)
        job = TrainJob(None, str(Path(target).resolve()), str(Path(self.runs_root).resolve()), resume=True)
        return self._run(job, cfg, f"Continuing {target}…", keep_views=True)

    def _run(self, job: Any, cfg: Config, title: str, keep_views: bool = False) -> bool:
        """Start ``job``; the views change once it has started (``_on_started``)."""
        self.stop_following()
        self._pending = PendingStart(cfg, title, keep_views)
        self.train_tab.show_starting(title)
        self.train_tab.set_continuable(None)
        self._explore_follows_run = True
        self.training.live_metrics = self.train_tab.metrics_panel.live.isChecked()
        self.training.start(job)
        self.tabs.setCurrentWidget(self.train_tab)
        return True

    def _on_monitor(self, status: Any) -> None:
        """Live metrics' statuses; those before the start only show in the progress bar."""
        if self._pending is not None:
            self._pending.statuses.append(status)
            self.train_tab.on_preparing(status)
        else:
            self.train_tab.on_monitor(status)

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
        freeze_the_loaded("run")  # what the first start imported: full collections skip it
        pending, self._pending = self._pending, None
        if pending is not None:
            cfg = pending.cfg
            if not pending.keep_views:
                labels = self._class_names(cfg.data) if cfg.conditional else []
                self.train_tab.begin(cfg.train.steps, cfg.train.batch_size, labels, pending.title,
                                     cfg.family.loss_labels)
                self._metrics_reference(cfg)
            for status in pending.statuses:  # the evaluator's preparation, for the metrics panel
                self.train_tab.metrics_panel.on_status(status)
        self.current_run = Path(event.run_dir)
        self.opened_config = None
        self.use_run_settings_action.setEnabled(False)
        self.train_tab.on_started(event)
        if event.class_names:
            self.train_tab.grid_view.set_row_labels(list(event.class_names))
        self.settings.add_recent_run(event.run_dir)
        self._enable_recent()
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
        if self._pending is not None:  # it never started: the last run stays on screen
            self._pending = None
            self.train_tab.restore_after_failed_start("Could not start: see the message")
            self.report_error(message, "Training could not start")
            return
        self.train_tab.on_failed(message)
        self.report_error(message, "Training failed")

    def _on_state(self, state: str) -> None:
        self._update_start()
        if state != "idle":
            return
        if self._pending is not None:  # ended before its start without a failure: stopped meanwhile
            cancelled = any(s.state == "cancelled" for s in self._pending.statuses)
            self._pending = None
            self.train_tab.restore_after_failed_start(
                "Stopped while preparing the evaluator" if cancelled else "Stopped before the run started")
        self.continue_action.setEnabled(self.current_run is not None)
        self._update_continue()
        self._show_form_lr()
        action, self._after_stop = self._after_stop, None
        if action is not None and not self._closed:
            QTimer.singleShot(0, action)

    def _update_continue(self) -> None:
        """Continue shows when the current run has a checkpoint short of its steps."""
        summary = summarize(self.current_run) if self.current_run is not None else None
        if summary is None or not summary.resumable or self.training.active:
            self.train_tab.set_continuable(None)
            return
        self.train_tab.set_continuable(f"Continue {summary.name} from its checkpoint at step "
                                       f"{summary.saved_step:,} of {summary.total_steps:,}")

    def new_run(self) -> None:
        """Forget the run shown in the Train tab; the next Train click starts afresh."""
        if self.training.active:
            self._when_idle(self.new_run, "start a new run")
            return
        self.stop_following()
        self.current_run = None
        self.opened_config = None
        self.use_run_settings_action.setEnabled(False)
        self.train_tab.begin(0, 1, [], "")
        self.train_tab.set_continuable(None)
        self.train_tab.status.setText("Ready: click Train to start.")
        self.tabs.setCurrentWidget(self.model_tab)
        self._update_start()
