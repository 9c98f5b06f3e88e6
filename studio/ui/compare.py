"""Compare runs: the runs under the runs folder side by side.

A table of every run (family, key hyperparameters from config.toml, the last logged
losses and metrics from metrics.jsonl, its training time), and two plots that overlay
the selected runs' curves: one loss and one metric, on a step or a training-time axis
(records with a ``time`` field; older runs have none and are left out of that axis).
The selected runs' curves export as one CSV (long format: run, kind, series, step,
seconds, value). Everything is read from the run directories (studio.core.train.runinfo).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.train.runinfo import Curves, RunSummary, find_runs, read_curves
from studio.ui.widgets.loss_plot import PALETTE
from studio.ui.widgets.plots import titled_plot
from studio.ui.widgets.series import ema

PARAM_COLUMNS = (("data.dataset", "dataset"), ("model.arch", "arch"), ("model.latent_dim", "latent"),
                 ("train.batch_size", "batch"), ("train.lr", "lr"))
SMOOTHING = 0.8  # the loss overlay's EMA weight when Smooth is ticked


def format_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "–"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def last_values(series: dict[str, list[float]]) -> dict[str, float]:
    """Each series' last finite value."""
    out = {}
    for name, values in series.items():
        finite = [v for v in values if math.isfinite(v)]
        if finite:
            out[name] = finite[-1]
    return out


def write_csv(path: str | Path, runs: list[tuple[str, Curves]]) -> Path:
    """Every loss and metric point of ``runs`` as rows of run, kind, series, step, seconds, value."""
    out = Path(path)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["run", "kind", "series", "step", "seconds", "value"])
        for name, curves in runs:
            for kind, steps, seconds, series in (("loss", curves.steps, curves.seconds, curves.losses),
                                                 ("metric", curves.metric_steps, curves.metric_seconds, curves.metrics)):
                for key, values in series.items():
                    for step, at, value in zip(steps, seconds, values, strict=True):
                        if math.isfinite(value):
                            writer.writerow([name, kind, key, step, "" if at is None else f"{at:.3f}", f"{value:.6g}"])
    return out


class CompareDialog(QDialog):
    """Non-modal: the window stays usable while it is open."""

    messageShown = Signal(str)

    def __init__(self, runs_root: str | Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("compare-dialog")
        self.setWindowTitle("Compare runs")
        self.runs_root = Path(runs_root)
        self.runs: list[RunSummary] = []
        self._curves: dict[Path, Curves] = {}

        self.root_label = QLabel()
        self.refresh_button = QPushButton("Refresh")
        self.folder_button = QPushButton("Folder…")
        self.refresh_button.clicked.connect(self.refresh)
        self.folder_button.clicked.connect(self._pick_root)
        top = QHBoxLayout()
        top.addWidget(self.root_label, 1)
        top.addWidget(self.refresh_button)
        top.addWidget(self.folder_button)

        self.table = QTableWidget(0, 0)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setSortingEnabled(False)
        self.table.setToolTip("Select several runs (Ctrl- or Shift-click) to overlay their curves")
        self.table.itemSelectionChanged.connect(self._draw)

        self.x_axis = QComboBox()
        self.x_axis.addItem("step", "step")
        self.x_axis.addItem("training time (s)", "time")
        self.x_axis.setToolTip("Training time: wall clock from the first record, leaving out pauses and the time "
                               "between a stop and a resume")
        self.loss_choice = QComboBox()
        self.metric_choice = QComboBox()
        self.smooth = QCheckBox("Smooth")
        self.smooth.setChecked(True)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self._export_dialog)
        for widget in (self.x_axis, self.loss_choice, self.metric_choice):
            widget.currentIndexChanged.connect(self._draw)
        self.smooth.toggled.connect(self._draw)
        controls = QHBoxLayout()
        for label, widget in (("x axis", self.x_axis), ("loss", self.loss_choice), ("metric", self.metric_choice)):
            controls.addWidget(QLabel(label))
            controls.addWidget(widget)
        controls.addWidget(self.smooth)
        controls.addStretch(1)
        controls.addWidget(self.export_button)

        self.loss_plot = titled_plot("Loss", legend_offset=(-10, 10))
        self.metric_plot = titled_plot("Metric", legend_offset=(-10, 10))
        plots = QSplitter()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.metric_plot)
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(self.table)
        holder = QWidget()
        holder_layout = QVBoxLayout(holder)
        holder_layout.setContentsMargins(0, 0, 0, 0)
        holder_layout.addLayout(controls)
        holder_layout.addWidget(plots, 1)
        body.addWidget(holder)
        body.setSizes([220, 360])
        self.note = QLabel()
        self.note.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(body, 1)
        layout.addWidget(self.note)
        self.resize(1000, 640)
        self.refresh()

    # -- the table ---------------------------------------------------------------------
    def refresh(self) -> None:
        """Read the runs folder again (runs that finished or started meanwhile)."""
        self.root_label.setText(f"Runs in <b>{self.runs_root}</b>")
        self.runs = find_runs(self.runs_root)
        self._curves = {run.path: read_curves(run.path) for run in self.runs}
        losses = sorted({k for c in self._curves.values() for k in c.losses})
        metrics = sorted({k for c in self._curves.values() for k in c.metrics})
        headers = ["run", "family", "steps", *[h for _k, h in PARAM_COLUMNS],
                   *[f"{k} (last)" for k in losses], *metrics, "time"]
        self.table.blockSignals(True)
        self.table.clear()
        self.table.setColumnCount(len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        self.table.setRowCount(len(self.runs))
        for row, run in enumerate(self.runs):
            curves = self._curves[run.path]
            final_losses, final_metrics = last_values(curves.losses), last_values(curves.metrics)
            step = "–" if run.saved_step is None else f"{run.saved_step:,}"
            cells = [run.name, run.family, f"{step} / {run.total_steps:,}",
                     *[_cell(run.params.get(key)) for key, _h in PARAM_COLUMNS],
                     *[_cell(final_losses.get(k)) for k in losses], *[_cell(final_metrics.get(k)) for k in metrics],
                     format_duration(curves.duration)]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(str(run.path) if col == 0 else text)
                self.table.setItem(row, col, item)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.blockSignals(False)
        self._fill_choice(self.loss_choice, losses)
        self._fill_choice(self.metric_choice, metrics)
        self._draw()

    @staticmethod
    def _fill_choice(combo: QComboBox, names: list[str]) -> None:
        current = combo.currentText()
        combo.blockSignals(True)
        combo.clear()
        combo.addItems(names)
        if current in names:
            combo.setCurrentText(current)
        combo.blockSignals(False)

    def select(self, names: list[str]) -> None:
        """Select the runs of these names (tests; the window preselects the current run)."""
        self.table.clearSelection()
        mode = self.table.selectionMode()
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
        for row, run in enumerate(self.runs):
            if run.name in names:
                self.table.selectRow(row)
        self.table.setSelectionMode(mode)

    def selected(self) -> list[RunSummary]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.runs[r] for r in rows if r < len(self.runs)]

    # -- the plots ---------------------------------------------------------------------
    def _draw(self, *_args: Any) -> None:
        runs = self.selected()
        self.export_button.setEnabled(bool(runs))
        by_time = self.x_axis.currentData() == "time"
        untimed = []
        for plot, choice, kind in ((self.loss_plot, self.loss_choice, "loss"),
                                   (self.metric_plot, self.metric_choice, "metric")):
            item = plot.getPlotItem()
            item.clear()
            item.legend.clear()
            item.setLabel("bottom", "training time (s)" if by_time else "step")
            key = choice.currentText()
            item.setTitle(f"{'Loss' if kind == 'loss' else 'Metric'}: {key}" if key else kind, size="10pt")
            for i, run in enumerate(runs):
                x, y = self._xy(run, kind, key, by_time)
                if x is None:
                    untimed.append(run.name)
                    continue
                if len(x):
                    pen = pg.mkPen(PALETTE[i % len(PALETTE)], width=2)
                    symbol = "o" if kind == "metric" else None
                    item.plot(x, y, pen=pen, name=run.name, symbol=symbol, symbolSize=5,
                              symbolBrush=PALETTE[i % len(PALETTE)], symbolPen=None)
        missing = sorted(set(untimed))
        if not self.runs:
            self.note.setText(f"No runs in {self.runs_root} yet: train one, or choose another folder.")
        elif missing:
            self.note.setText(f"No times logged in {', '.join(missing)} (trained before runs logged them): "
                              "shown on the step axis only.")
        else:
            self.note.setText("")

    def _xy(self, run: RunSummary, kind: str, key: str, by_time: bool) -> tuple[np.ndarray | None, np.ndarray]:
        curves = self._curves.get(run.path) or read_curves(run.path)
        steps, seconds, series = ((curves.steps, curves.seconds, curves.losses) if kind == "loss"
                                  else (curves.metric_steps, curves.metric_seconds, curves.metrics))
        values = np.asarray(series.get(key, []), dtype=np.float64)
        if not len(values):
            return np.zeros(0), values
        if by_time:
            if any(s is None for s in seconds):
                return None, values
            x = np.asarray(seconds, dtype=np.float64)
        else:
            x = np.asarray(steps, dtype=np.float64)
        if kind == "loss" and self.smooth.isChecked():
            values = ema(values, SMOOTHING, None)
        return x, values

    # -- export ------------------------------------------------------------------------
    def export_csv(self, path: str | Path) -> Path:
        runs = self.selected()
        if not runs:
            raise ValueError("select one or more runs first")
        out = write_csv(path, [(run.name, self._curves.get(run.path) or read_curves(run.path)) for run in runs])
        self.note.setText(f"Saved {out}")
        self.messageShown.emit(f"Saved {out}")
        return out

    def _export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export curves", "runs.csv", "CSV (*.csv)")
        if path:
            try:
                self.export_csv(path)
            except (OSError, ValueError) as exc:
                self.note.setText(f"{path}: {exc}")

    def _pick_root(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "A folder of runs", str(self.runs_root))
        if folder:
            self.runs_root = Path(folder)
            self.refresh()


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
