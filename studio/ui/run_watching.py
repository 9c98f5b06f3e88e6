"""Opening a run directory in the window and following what another process writes to it.

A mixin of MainWindow (studio.ui.main_window), which owns the tabs, the timer and the
settings these methods use: File → Open run and Open recent run, the prompt when the
run's settings differ from the form's, and the poll that feeds the Train tab from
metrics.jsonl and the sample PNGs while another process (the CLI, a cluster job) trains.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from studio.core.config import Config, ConfigError
from studio.core.train.runinfo import summarize
from studio.ui.run_follower import RunFollower, sample_step
from studio.ui.timeline import read_png
from studio.ui.workers import StepChunk


class RunWatching:
    """File → Open run, the recent-runs menu, and following an opened run on disk."""

    def _enable_recent(self) -> None:
        """Without a disk read: the menu is filled when it opens."""
        self.recent_menu.setEnabled(bool(self.settings.recent_runs))

    def _fill_recent(self) -> None:
        """One entry per run (paths resolved): its name, family, step and date."""
        self.recent_menu.clear()
        for run in self.settings.recent_runs:
            summary = summarize(run)
            if summary is None:
                continue  # deleted since
            action = self._action(self.recent_menu, summary.label(), lambda r=run: self.open_run(r))
            action.setToolTip(run)
            action.setStatusTip(run)

    def _open_run_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a run folder", str(self.runs_root))
        if folder:
            self.open_run(folder)

    def open_run(self, path: str | Path, follow: bool = True, ask: bool = True) -> bool:
        """Show a run's curves and grids and follow what another process adds to it.

        The Model and Dataset tabs keep the user's settings: when the run's differ, the
        user is asked (``ask``) whether to show the run's instead (File → Use the opened
        run's settings does it later). Continue trains with the run's own config either way.
        """
        from studio.core.config import load_config

        run = Path(path)
        if self.training.active:
            return self._when_idle(lambda: self.open_run(path, follow, ask), "open another run")
        if not (run / "config.toml").is_file():
            self.report_error(f"{run}: not a run directory (no config.toml)")
            return False
        try:
            cfg = load_config(run / "config.toml")
        except ConfigError as exc:
            self.report_error(str(exc))
            return False
        self.stop_following()
        self._offer_run_settings(cfg, ask)
        self.current_run = run
        labels = self._class_names(cfg.data) if cfg.conditional else []
        if cfg.conditional and not labels:
            labels = [str(i) for i in range(10)] if cfg.data.dataset.startswith("mnist") else []
        self.train_tab.begin(cfg.train.steps, cfg.train.batch_size, labels, f"Run: {run}", cfg.family.loss_labels)
        self._metrics_reference(cfg)
        self.train_tab.metrics_panel.status_label.setText(
            "Metrics from the run's log, when it has them (runs trained in this window with live metrics on). "
            "Continue training here to compute them."
        )
        self.follower = RunFollower(run)
        self.poll_run()
        self.settings.add_recent_run(run)
        self._enable_recent()
        self.continue_action.setEnabled(True)
        self._explore_follows_run = True
        if (run / "checkpoints" / "last.safetensors").exists():
            self.explore_tab.load(run)  # Explore shows the opened run too, not the model before it
        self._update_continue()
        if follow:
            self.train_tab.set_state("watching", can_start=self.engine_ready)
            self.train_tab.status.setText(self._opened_status(run))
            self.follow_timer.start()
            self.tabs.setCurrentWidget(self.train_tab)
        return True

    def _opened_status(self, run: Path) -> str:
        summary = summarize(run)
        if summary is None or summary.saved_step is None:
            return "Opened: no checkpoint yet"
        if summary.resumable:
            return f"Stopped at step {summary.saved_step:,} of {summary.total_steps:,}: Continue trains it further"
        return f"Finished: {summary.saved_step:,} steps"

    def _offer_run_settings(self, cfg: Config, ask: bool) -> None:
        """The form keeps the user's settings; say so (or ask) when the run's differ."""
        try:
            same = self.config() == cfg
        except ConfigError:
            same = False
        self.opened_config = None if same else cfg
        self.use_run_settings_action.setEnabled(not same)
        if same or not ask:
            return
        note = ("This run was trained with other settings than the Model and Dataset tabs show "
                f"(steps {cfg.train.steps:,}, dataset {cfg.data.dataset}, family {cfg.model.family}).")
        self.statusBar().showMessage("The Model and Dataset tabs keep your settings: File → Use the opened run's "
                                     "settings shows the run's", 10000)
        if not self.show_dialogs:
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Open run", f"{note}\n\nShow the run's settings there instead "
                          "of yours? (Continue trains with the run's own settings either way.)",
                          QMessageBox.StandardButton.NoButton, self)
        box.setObjectName("run-settings-dialog")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        use = box.addButton("Use the run's settings", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(box.addButton("Keep mine", QMessageBox.ButtonRole.RejectRole))
        box.buttonClicked.connect(lambda button: self.use_run_settings() if button is use else None)
        box.open()

    def use_run_settings(self) -> None:
        """Show the opened run's config in the Model and Dataset tabs."""
        if self.opened_config is None:
            return
        self.apply_config(self.opened_config)
        self.opened_config = None
        self.use_run_settings_action.setEnabled(False)
        self.statusBar().showMessage("The Model and Dataset tabs show the opened run's settings", 8000)

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


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")
