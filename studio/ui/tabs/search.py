"""Search tab: a hyperparameter search (studio.core.search) over a preset or a loaded
config, with a live table of trials, the optimisation history, every trial's
intermediate values and the parameter importances.

Left: the base config, the space (a form from the field metadata, or a space TOML), the
study's settings and Start / Stop / Resume. The search runs on its own thread
(SearchController); its events only update ``self.trials`` and the table, and the plots
redraw on a short timer, so a fast study never floods the event loop. "Open best in
Explore" and "Train best config" emit signals the main window connects.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core import config as C
from studio.core.presets import DEFAULT_PRESET, all_presets
from studio.ui.search_worker import SearchController
from studio.ui.widgets.progress import ProgressBar
from studio.ui.widgets.search_plots import SearchPlots
from studio.ui.widgets.space_form import SpaceForm

REDRAW_MS = 200
ROW_HEIGHT = 22
COLUMNS = ("Trial", "State", "Value", "Steps", "Parameters")
STATE_COLOURS = {"PRUNED": "#757575", "FAIL": "#b00020", "RUNNING": "#e65100"}
OBJECTIVES = {"fid": "FID (live evaluator)", "nll": "held-out bits/dim (likelihood models)"}
MIN_FOR_IMPORTANCE = 3  # as studio.core.search (not imported here: it is loaded with the engine)


@dataclass
class TrialRow:
    number: int
    state: str
    params: dict[str, Any]
    value: float | None = None
    intermediate: dict[int, float] = field(default_factory=dict)
    run_dir: Path | None = None
    message: str = ""
    step: int = 0  # steps trained (the running trial's progress)

    @property
    def last_value(self) -> float | None:
        return self.intermediate[max(self.intermediate)] if self.intermediate else None

    @property
    def last_step(self) -> int:
        return max(self.intermediate) if self.intermediate else self.step


class SearchTab(QWidget):
    errorOccurred = Signal(str)
    openRequested = Signal(object)  # a run directory for the explorer
    trainRequested = Signal(object)  # a Config for the Model tab and a new run

    def __init__(self, runs_root: str | Path = "runs", parent: QWidget | None = None):
        super().__init__(parent)
        self.runs_root = Path(runs_root)
        self.controller = SearchController(self)
        self.base: C.Config | None = None
        self.base_source = ""
        self.trials: dict[int, TrialRow] = {}
        self.metric = "value"
        self.study_dir: Path | None = None
        self.importance_values: dict[str, float] = {}
        self._table_rows: dict[int, int] = {}
        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(REDRAW_MS)
        self._redraw.timeout.connect(self._refresh_plots)

        splitter = QSplitter()
        splitter.addWidget(self._build_controls())
        splitter.addWidget(self._build_results())
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([400, 880])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self._connect()
        self.set_preset(DEFAULT_PRESET)
        self._on_state("idle")

    # -- building -----------------------------------------------------------------------------
    def _build_controls(self) -> QWidget:
        self.preset = QComboBox()
        self.preset.addItems(list(all_presets()))
        self.preset.setToolTip("The config each trial starts from; the space's fields vary")
        self.preset.activated.connect(lambda _i: self.set_preset(self.preset.currentText()))
        self.load_base_button = QPushButton("Load config…")
        self.base_label = QLabel()
        self.base_label.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.preset, 1)
        row.addWidget(self.load_base_button)
        base_box = QGroupBox("Base config")
        base_layout = QVBoxLayout(base_box)
        base_layout.addLayout(row)
        base_layout.addWidget(self.base_label)

        self.space_form = SpaceForm()

        self.study = QLineEdit()
        self.study.setToolTip("The study's name: its trials go to runs/<name>/trial-NNN")
        self.trials_spin = _spin(1, 100_000, 20, "Finished (complete or pruned) trials the study should reach")
        self.steps_spin = _spin(1, 10_000_000, 1000, "Training steps of each trial")
        self.report_spin = _spin(0, 10_000_000, 0, "Steps between reports to the pruner; 0 = a tenth of a trial")
        self.report_spin.setSpecialValueText("auto")
        self.objective = QComboBox()
        for key, text in OBJECTIVES.items():
            self.objective.addItem(text, key)
        self.pruner = QComboBox()
        self.pruner.addItem("median", "median")
        self.pruner.addItem("Hyperband", "hyperband")
        self.storage = QLineEdit()
        self.storage.setPlaceholderText(f"sqlite:///{self.runs_root}/<study>/study.db")
        self.storage.setToolTip("Any Optuna storage URL; a PostgreSQL server lets several machines share one study")
        study_box = QGroupBox("Study")
        form = QFormLayout(study_box)
        for label, widget in (("Name", self.study), ("Trials", self.trials_spin), ("Steps per trial", self.steps_spin),
                              ("Report every", self.report_spin), ("Objective", self.objective),
                              ("Pruner", self.pruner), ("Storage", self.storage)):
            form.addRow(label, widget)

        self.start_button = QPushButton("▶ Start")
        self.start_button.setObjectName("search-start")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the running trial now (it is kept as failed: 'stopped'); Resume continues")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue the named study with the base config and space it was run with")
        buttons = QHBoxLayout()
        for b in (self.start_button, self.stop_button, self.resume_button):
            buttons.addWidget(b)
        self.unavailable = QLabel()
        self.unavailable.setWordWrap(True)
        self.unavailable.setStyleSheet("color: #b00020;")
        self.unavailable.setVisible(False)

        body = QWidget()
        v = QVBoxLayout(body)
        for w in (base_box, self.space_form, study_box):
            v.addWidget(w)
        v.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        host = QWidget()  # the buttons stay in view below the scrolling settings
        layout = QVBoxLayout(host)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.unavailable)
        host.setMinimumWidth(360)
        return host

    def _build_results(self) -> QWidget:
        self.status = QLabel("Choose a base config and a space, then Start.")
        self.status.setWordWrap(True)
        self.progress = ProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.progress.setFixedWidth(220)
        top = QHBoxLayout()
        top.addWidget(self.status, 1)
        top.addWidget(self.progress)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()
        for col in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.plots = SearchPlots()

        self.open_best_button = QPushButton("Open best in Explore")
        self.train_best_button = QPushButton("Train best config")
        self.train_best_button.setToolTip("The base config with the best trial's values, at the base config's steps")
        self.best_label = QLabel()
        bottom = QHBoxLayout()
        bottom.addWidget(self.best_label, 1)
        bottom.addWidget(self.open_best_button)
        bottom.addWidget(self.train_best_button)

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.plots)
        split.setSizes([230, 470])
        host = QWidget()
        layout = QVBoxLayout(host)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        layout.addLayout(bottom)
        return host

    def _connect(self) -> None:
        self.load_base_button.clicked.connect(self._load_base_dialog)
        self.space_form.load_button.clicked.connect(self._load_space_dialog)
        self.start_button.clicked.connect(lambda: self.start(resume=False))
        self.resume_button.clicked.connect(lambda: self.start(resume=True))
        self.stop_button.clicked.connect(self.stop)
        self.open_best_button.clicked.connect(self._open_best)
        self.train_best_button.clicked.connect(self._train_best)
        c = self.controller
        c.opened.connect(self.on_opened)
        c.trialStarted.connect(self.on_trial_started)
        c.progress.connect(self.on_progress)
        c.report.connect(self.on_report)
        c.trialEnded.connect(self.on_trial_ended)
        c.importances.connect(self.on_importances)
        c.finished.connect(self.on_finished)
        c.failed.connect(self.on_failed)
        c.stateChanged.connect(self._on_state)

    # -- the base config and the space ----------------------------------------------------------
    def set_preset(self, name: str) -> None:
        preset = all_presets()[name]
        self.preset.setCurrentText(name)
        self.set_base_config(preset.config, f"preset {name}: {preset.description}")

    def set_base_config(self, cfg: C.Config, source: str) -> None:
        """Search around ``cfg``: the form offers its fields; the study is named after it."""
        self.base, self.base_source = cfg, source
        self.base_label.setText(source)
        self.space_form.clear_file()
        self.space_form.set_base(cfg)
        self.steps_spin.setValue(cfg.train.steps)
        self.study.setText(f"{cfg.model.family}-search")

    def load_base(self, path: str | Path) -> C.Config:
        cfg = C.load_config(path)
        self.set_base_config(cfg, f"config {path}")
        return cfg

    def _load_base_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load a base config", "", "TOML config (*.toml);;All files (*)")
        if path:
            try:
                self.load_base(path)
            except C.ConfigError as exc:
                self.errorOccurred.emit(str(exc))

    def _load_space_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load a search space", "", "TOML space (*.toml);;All files (*)")
        if path and self.base is not None:
            try:
                self.space_form.load_file(path, self.base)
            except C.ConfigError as exc:
                self.errorOccurred.emit(str(exc))

    def settings(self, resume: bool) -> Any:
        from studio.core.search import SearchSettings

        return SearchSettings(
            study=self.study.text().strip(), trials=self.trials_spin.value(), steps=self.steps_spin.value(),
            objective=self.objective.currentData(), report_every=self.report_spin.value() or None,
            pruner=self.pruner.currentData(), storage=self.storage.text().strip() or None,
            runs_root=self.runs_root, resume=resume)

    # -- control --------------------------------------------------------------------------------
    def start(self, resume: bool = False) -> bool:
        """Start a new study (or continue the named one); False when it cannot start."""
        from studio.core.search import optuna_available

        if self.controller.active or self.base is None:
            return False
        if not optuna_available():
            self._show_unavailable()
            return False
        try:
            space = self.space_form.space(self.base)
            settings = self.settings(resume)
        except C.ConfigError as exc:
            self.errorOccurred.emit(str(exc))
            return False
        self._clear()
        self.study_dir = settings.study_dir
        verb = "Resuming" if resume else "Starting"
        self.status.setText(f"{verb} study {settings.study}: loading the data…")
        return self.controller.start(self.base, space, settings)

    def stop(self) -> None:
        if self.controller.active:
            self.status.setText("Stopping the running trial…")
            self.controller.stop()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        self._redraw.stop()
        return self.controller.shutdown(timeout_ms)

    def _show_unavailable(self) -> None:
        from studio.core.search import INSTALL_HINT

        self.unavailable.setText(f"Hyperparameter search needs Optuna: {INSTALL_HINT}")
        self.unavailable.setVisible(True)

    def _on_state(self, state: str) -> None:
        idle = state == "idle"
        self.start_button.setEnabled(idle)
        self.resume_button.setEnabled(idle)
        self.stop_button.setEnabled(state == "running")
        for w in (self.preset, self.load_base_button, self.space_form, self.study, self.trials_spin,
                  self.steps_spin, self.report_spin, self.objective, self.pruner, self.storage):
            w.setEnabled(idle)
        self.progress.setVisible(not idle)
        self._update_best()

    # -- events from the search -----------------------------------------------------------------
    def on_opened(self, e: Any) -> None:
        self.metric = e.metric
        self.study_dir = Path(e.study_dir)
        # A resumed study runs as it was started: the form shows what it runs with.
        self.steps_spin.setValue(e.steps)
        self.report_spin.setValue(e.report_every)
        self.objective.setCurrentIndex(self.objective.findData("fid" if e.metric == "fid_eval" else "nll"))
        self.table.setHorizontalHeaderItem(2, QTableWidgetItem(e.metric))
        self.plots.set_metric(e.metric)
        done = f", {e.done} of {e.trials} trials done" if e.done else ""
        self.status.setText(f"Study {e.study}{done}: {e.steps} steps a trial, {e.metric} every "
                            f"{e.report_every} steps")

    def on_trial_started(self, e: Any) -> None:
        row = TrialRow(e.number, "RUNNING", dict(e.params), run_dir=Path(e.run_dir))
        self._upsert(row)
        self.progress.setRange(0, e.steps)
        self.progress.setValue(0)
        self.progress.setFormat(f"trial {e.number}: %v / %m")

    def on_progress(self, e: Any) -> None:
        row = self.trials.get(e.number)
        if row is not None:
            row.step = e.step
            self.progress.setValue(e.step)

    def on_report(self, e: Any) -> None:
        row = self.trials.get(e.number)
        if row is not None:
            row.intermediate[e.step] = e.value
            self._upsert(row)

    def on_trial_ended(self, e: Any) -> None:
        row = TrialRow(e.number, e.state, dict(e.params), e.value, dict(e.intermediate), e.run_dir, e.message)
        self._upsert(row)
        self._update_best()

    def on_importances(self, e: Any) -> None:
        self.importance_values = dict(e.values)
        self._schedule()

    def on_finished(self, e: Any) -> None:
        if e.stopped:
            text = f"Stopped; {e.finished} trials finished. Resume continues the study."
        else:
            text = f"Done: {e.finished} trials finished."
        if e.best_config is not None:
            text += f" Best config: {e.best_config}"
        self.status.setText(text)

    def on_failed(self, message: str) -> None:
        self.status.setText(f"⚠ {message}")
        self.errorOccurred.emit(message)

    # -- the table and plots --------------------------------------------------------------------
    def _clear(self) -> None:
        self.trials.clear()
        self._table_rows.clear()
        self.table.setRowCount(0)
        self.importance_values = {}
        self.plots.clear()
        self.best_label.setText("")

    def _upsert(self, row: TrialRow) -> None:
        self.trials[row.number] = row
        index = self._table_rows.get(row.number)
        if index is None:
            index = self._table_rows[row.number] = self.table.rowCount()
            self.table.insertRow(index)
        value = row.value if row.value is not None else row.last_value
        shown = "–" if value is None else f"{value:.4g}"
        if row.value is None and value is not None:
            shown = f"({shown})"  # the last report of an unfinished trial
        params = "  ".join(f"{k}={_fmt(v)}" for k, v in row.params.items())
        cells = (str(row.number), row.state, shown, str(row.last_step), params)
        for col, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if col < 4:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            colour = STATE_COLOURS.get(row.state)
            if colour:
                item.setForeground(QColor(colour))
            item.setToolTip(row.message or str(row.run_dir or ""))
            self.table.setItem(index, col, item)
        if row.state == "RUNNING":
            self.table.scrollToItem(self.table.item(index, 0))
        self._schedule()

    def _schedule(self) -> None:
        if not self._redraw.isActive():
            self._redraw.start()

    def _refresh_plots(self) -> None:
        self.plots.show_trials(self.trials.values())
        self.plots.set_importances(self.importance_values, MIN_FOR_IMPORTANCE)

    # -- the best trial -------------------------------------------------------------------------
    def best(self) -> TrialRow | None:
        done = [r for r in self.trials.values() if r.state == "COMPLETE" and r.value is not None]
        return min(done, key=lambda r: r.value) if done else None

    def _update_best(self) -> None:
        best = self.best()
        self.open_best_button.setEnabled(best is not None and best.run_dir is not None)
        self.train_best_button.setEnabled(best is not None and self.controller.state == "idle")
        for number, index in self._table_rows.items():
            bold = best is not None and number == best.number
            for col in range(len(COLUMNS)):
                item = self.table.item(index, col)
                if item is not None:
                    font = QFont(item.font())
                    font.setBold(bold)
                    item.setFont(font)
        if best is not None:
            self.best_label.setText(f"Best: trial {best.number}, {self.metric} = {best.value:.4g}")

    def best_config(self) -> C.Config | None:
        """What the search wrote as best.toml, else the base with the best trial's values."""
        best = self.best()
        if best is None:
            return None
        path = self.study_dir / "best.toml" if self.study_dir is not None else None
        if path is not None and path.is_file():
            return C.load_config(path)
        from studio.core.search_space import apply_params

        return apply_params(self.base, best.params) if self.base is not None else None

    def _open_best(self) -> None:
        best = self.best()
        if best is not None and best.run_dir is not None:
            self.openRequested.emit(best.run_dir)

    def _train_best(self) -> None:
        try:
            cfg = self.best_config()
        except C.ConfigError as exc:
            self.errorOccurred.emit(str(exc))
            return
        if cfg is not None:
            self.trainRequested.emit(dataclasses.replace(cfg))


def _spin(lo: int, hi: int, value: int, tip: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(lo, hi)
    spin.setValue(value)
    spin.setGroupSeparatorShown(True)
    spin.setToolTip(tip)
    return spin


def _fmt(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
