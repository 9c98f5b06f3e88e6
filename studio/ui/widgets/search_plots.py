"""The Search tab's plots: the optimisation history (each trial's value and the best so
far), every trial's intermediate values over the steps (pruned ones end early, dashed)
and the parameter importances (horizontal bars, once enough trials are complete).

``update(trials, metric)`` redraws from the tab's rows; the tab calls it throttled.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QStackedLayout, QVBoxLayout, QWidget

from studio.core.live_keys import METRIC_LABELS
from studio.ui.widgets.plots import titled_plot

COMPLETE = "#1f77b4"
BEST = "#d62728"
PRUNED = "#9e9e9e"
RUNNING = "#ff7f0e"


def _plot(title: str, bottom: str) -> pg.PlotWidget:
    plot = titled_plot(title)
    item = plot.getPlotItem()
    item.setLabel("bottom", bottom)
    item.setMenuEnabled(False)
    for side in ("left", "bottom"):
        item.getAxis(side).enableAutoSIPrefix(False)  # "(x0.001)" scales read badly on bits/dim
    return plot


class SearchPlots(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        # The legends are in the titles: a legend box would cover the points.
        self.history = _plot(f"History: {_key(COMPLETE, '●', 'complete')} {_key(PRUNED, '×', 'pruned')} "
                             f"{_key(BEST, '—', 'best so far')}", "trial")
        self.values = pg.ScatterPlotItem(size=8, brush=COMPLETE, pen=None)
        self.pruned = pg.ScatterPlotItem(size=9, symbol="x", brush=PRUNED, pen=None)
        self.best = pg.PlotDataItem(pen=pg.mkPen(BEST, width=2))
        for item in (self.best, self.values, self.pruned):
            self.history.addItem(item)

        self.intermediate = _plot(f"Intermediate: {_key(COMPLETE, '—', 'complete')} "
                                  f"{_key(PRUNED, '- -', 'pruned')} {_key(RUNNING, '—', 'running')}", "step")
        self.curves: dict[int, pg.PlotDataItem] = {}

        self.importance_plot = _plot("Parameter importances", "share of the variance")
        self.bars = pg.BarGraphItem(x0=[], y=[], width=[], height=0.6, brush=COMPLETE, pen=None)
        self.importance_plot.addItem(self.bars)
        self.importance_plot.getPlotItem().setMouseEnabled(x=False, y=False)
        self.importance_note = QLabel()
        self.importance_note.setWordWrap(True)
        self.importance_note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.importance_note.setStyleSheet("color: #666; background: white; border: 1px solid #ddd;")
        holder = QWidget()
        self.importance_stack = QStackedLayout(holder)
        self.importance_stack.addWidget(self.importance_note)
        self.importance_stack.addWidget(self.importance_plot)
        self.set_importances({}, needed=3)

        top = QHBoxLayout()
        top.addWidget(self.history, 1)
        top.addWidget(self.intermediate, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top, 3)
        layout.addWidget(holder, 2)

    def set_metric(self, metric: str) -> None:
        label = METRIC_LABELS[metric].short if metric in METRIC_LABELS else metric
        for plot in (self.history, self.intermediate):
            plot.getPlotItem().setLabel("left", label)

    def show_trials(self, trials: Iterable[Any]) -> None:
        rows = sorted(trials, key=lambda r: r.number)
        self._history(rows)
        self._intermediate(rows)

    def _history(self, rows: list[Any]) -> None:
        done = [(r.number, r.value) for r in rows if r.state == "COMPLETE" and r.value is not None]
        pruned = [(r.number, r.last_value) for r in rows if r.state == "PRUNED" and r.last_value is not None]
        self.values.setData(*_xy(done))
        self.pruned.setData(*_xy(pruned))
        if done:
            x, y = _xy(done)
            last = max(r.number for r in rows)  # the best so far holds to the latest trial
            self.best.setData(*_steps(x, np.minimum.accumulate(y), last))
        else:
            self.best.setData([], [])
        if rows:  # every trial in view, the running one included
            self.history.setXRange(-0.5, max(r.number for r in rows) + 0.5, padding=0)

    def _intermediate(self, rows: list[Any]) -> None:
        seen = set()
        for r in rows:
            if not r.intermediate:
                continue
            seen.add(r.number)
            curve = self.curves.get(r.number)
            if curve is None:
                curve = self.curves[r.number] = pg.PlotDataItem()
                self.intermediate.addItem(curve)
            steps = sorted(r.intermediate)
            symbol = {"PRUNED": "x", "RUNNING": "o"}.get(r.state)  # a running trial's first report shows
            colour = RUNNING if r.state == "RUNNING" else PRUNED
            curve.setData(steps, [r.intermediate[s] for s in steps], pen=_pen(r.state), symbol=symbol,
                          symbolSize=7, symbolPen=pg.mkPen(colour), symbolBrush=colour if symbol == "o" else None)
        for number in [n for n in self.curves if n not in seen]:
            self.intermediate.removeItem(self.curves.pop(number))

    def set_importances(self, values: dict[str, float], needed: int) -> None:
        if not values:
            self.importance_note.setText(f"Parameter importances appear once {needed} trials have completed.")
            self.importance_stack.setCurrentIndex(0)
            return
        names = list(values)[::-1]  # the most important on top
        shares = [values[n] for n in names]
        self.bars.setOpts(x0=[0] * len(names), y=list(range(len(names))), width=shares, height=0.6)
        self.importance_plot.getAxis("left").setTicks([[(i, n) for i, n in enumerate(names)]])
        self.importance_plot.setXRange(0, max(1e-6, max(shares)) * 1.05, padding=0)
        self.importance_plot.setYRange(-0.6, len(names) - 0.4, padding=0)
        self.importance_stack.setCurrentIndex(1)

    def clear(self) -> None:
        self.show_trials([])
        self.set_importances({}, needed=3)


def _key(colour: str, mark: str, text: str) -> str:
    return f"<span style='color:{colour}'>{mark}</span> {text}"


def _pen(state: str) -> Any:
    if state == "PRUNED":
        return pg.mkPen(PRUNED, width=1.5, style=Qt.PenStyle.DashLine)
    if state == "RUNNING":
        return pg.mkPen(RUNNING, width=2)
    if state == "FAIL":
        return pg.mkPen("#e0a0a0", width=1, style=Qt.PenStyle.DotLine)
    return pg.mkPen(COMPLETE, width=1.5)


def _steps(x: np.ndarray, y: np.ndarray, end: float) -> tuple[np.ndarray, np.ndarray]:
    """A staircase through (x, y) that holds each value until the next x (and to ``end``)."""
    xs = np.repeat(np.append(x, max(end, x[-1])), 2)[1:-1]
    return xs, np.repeat(y, 2)


def _xy(points: list[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
    if not points:
        return np.zeros(0), np.zeros(0)
    x, y = zip(*points, strict=True)
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)
