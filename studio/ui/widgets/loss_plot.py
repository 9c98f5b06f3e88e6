"""Loss curves: one pyqtgraph curve per loss, raw (faint) and smoothed, fluid at 100k+ points.

Appending only marks the plot dirty; ``refresh()`` (called by the window's view timer)
hands the curves views of the growing buffers. ``clipToView`` and peak downsampling
keep the number of drawn points near the pixel width of the plot.

Repainting the axes (text) is what costs most while training, so the x axis spans the
run's total steps from the start (it does not rescale on every new point), and the axes
keep a pixmap cache, redrawn only when their range really changes. The y range is ours
too (``Y_MARGIN``): it grows, with a margin, only when a point falls outside it, where
pyqtgraph's auto-range moved it (and redrew the axis, ~10 ms) whenever a new point set a
new extreme. Zooming by hand hands the range to the user; the "A" button gives it back.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QGraphicsItem,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from studio.ui.widgets.series import Series

Y_MARGIN = 0.25  # a new y range leaves this share of the data's span free above and below: each change redraws the axis (~25 ms on the GUI thread), and a 300-step cgan run moved it 10 times at 0.1, 6 at 0.25

ZERO_BAND = 0.02  # ... but a range that holds no negative loss ends just below 0 (this share of its top)
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


class LossPlot(QWidget):
    def __init__(self, parent: QWidget | None = None, title: str = "Losses"):
        super().__init__(parent)
        self.plot = pg.PlotWidget(background="w")
        item = self.plot.getPlotItem()
        item.setTitle(title, size="10pt")
        item.setLabel("bottom", "step")
        item.showGrid(x=True, y=True, alpha=0.25)
        item.setClipToView(True)
        item.setDownsampling(auto=True, mode="peak")
        for side in ("left", "bottom"):
            item.getAxis(side).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.legend = item.addLegend(offset=(-10, 10))
        item.enableAutoRange(y=False)
        item.getViewBox().sigRangeChangedManually.connect(self._on_manual_range)
        self._auto_y = True  # the y range follows the data (ours, see _update_y_range)
        self._y_range: tuple[float, float] | None = None  # what we set, in view units (log10 in log mode)
        self.series: dict[str, Series] = {}
        self._raw: dict[str, pg.PlotDataItem] = {}
        self._smooth: dict[str, pg.PlotDataItem] = {}
        self._color: dict[str, str] = {}
        self._dirty = False
        self._kept: set[str] = set()  # curves kept by clear() that this run has not logged yet
        # Sparse series (a held-out figure a few times a run) are drawn as measured, with
        # points: an average over a handful of values would lag behind them.
        self.unsmoothed: set[str] = set()

        self.smoothing = QSlider(Qt.Orientation.Horizontal)
        self.smoothing.setRange(0, 99)
        self.smoothing.setValue(60)
        self.smoothing.setToolTip("Exponential moving average of each curve, as in TensorBoard")
        self.smoothing_label = QLabel()
        self.log_scale = QCheckBox("Log scale")
        self.smoothing.valueChanged.connect(self._on_smoothing)
        self.log_scale.toggled.connect(self._on_log)

        controls = QHBoxLayout()
        controls.addWidget(QLabel("Smoothing"))
        controls.addWidget(self.smoothing, 1)
        controls.addWidget(self.smoothing_label)
        controls.addSpacing(12)
        controls.addWidget(self.log_scale)
        # What each curve plots (the family's loss labels): set once per run, at a fixed
        # height, so that a new text never resizes (and repaints) the plot above it.
        self.caption = QLabel()
        self.caption.setObjectName("lossCaption")
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.TextFormat.RichText)
        self.caption.setStyleSheet("color: #555;")
        self.caption.setFixedHeight(4 * self.caption.fontMetrics().lineSpacing() + 4)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot, 1)
        layout.addLayout(controls)
        layout.addWidget(self.caption)
        self._on_smoothing(self.smoothing.value())

    @property
    def weight(self) -> float:
        return self.smoothing.value() / 100.0

    def append(self, steps: np.ndarray, losses: dict[str, np.ndarray]) -> None:
        logged = set(losses) - self.unsmoothed  # every step logs the same losses
        if self._kept and logged:
            for name in self._kept - logged:
                self._remove_curve(name)
            self._kept = set()
        for name, values in losses.items():
            if name not in self.series:
                self._add_curve(name)
            self.series[name].append(steps, values)
        self._dirty = True

    def set_labels(self, labels: dict[str, str]) -> None:
        """Name each curve's term under the plot ({"g": "G loss: -log D(G(z))", ...})."""
        self.caption.setText(" · ".join(f"<b>{html.escape(k)}</b>: {html.escape(v)}" for k, v in labels.items()))
        self.caption.setToolTip("\n".join(f"{k}: {v}" for k, v in labels.items()))

    def set_x_extent(self, total_steps: int) -> None:
        """Fix the x axis to 0..total_steps (0: follow the data)."""
        item = self.plot.getPlotItem()
        if total_steps > 0:
            item.enableAutoRange(x=False)
            item.setXRange(0, total_steps, padding=0.01)
        else:
            item.enableAutoRange(x=True)

    def clear(self, keep: Iterable[str] = ()) -> None:
        """Empty the plot for a new run, keeping the curves named in ``keep`` (the new run's
        loss names) as empty curves: adding a curve and its legend entry re-lays out the
        plot, the costliest repaint of a run's start, so a run of the same family reuses
        the last run's items. A kept curve the run turns out not to log (a loss only some
        configs have) goes with its first steps."""
        keep = set(keep) & set(self.series)
        for name in [name for name in self.series if name not in keep]:
            self._remove_curve(name)
        for name in keep:
            self.series[name].clear()
            self._raw[name].setData([], [])
            self._smooth[name].setData([], [])
        self._kept = keep
        self._dirty = False
        self._y_range = None

    def _remove_curve(self, name: str) -> None:
        self.legend.removeItem(self._smooth[name])
        self.plot.removeItem(self._raw[name])
        self.plot.removeItem(self._smooth[name])
        del self.series[name], self._raw[name], self._smooth[name], self._color[name]

    def point_count(self) -> int:
        return sum(s.n for s in self.series.values())

    def refresh(self) -> None:
        """Push the buffers into the curves if anything changed since the last call."""
        if not self._dirty:
            return
        self._dirty = False
        for name, s in self.series.items():
            self._raw[name].setData(s.x, s.y)
            self._smooth[name].setData(s.x, s.y if name in self.unsmoothed else s.smoothed)
        self._update_y_range()

    def _update_y_range(self) -> None:
        """Grow the y range (with a margin) when the data leaves it; else leave it, and the axis, alone."""
        vb = self.plot.getPlotItem().getViewBox()
        if vb.state["autoRange"][1]:  # the user clicked "A" / View All: ours again
            vb.enableAutoRange(y=False)
            self._auto_y, self._y_range = True, None
        if not self._auto_y or not self.series:
            return
        log = self.log_scale.isChecked()
        lo, hi = np.inf, -np.inf
        for s in self.series.values():
            y = s.y[s.y > 0] if log else s.y  # the raw curves enclose the smoothed ones
            y = y[np.isfinite(y)]
            if len(y):
                lo, hi = min(lo, float(y.min())), max(hi, float(y.max()))
        if not lo <= hi:
            return
        if log:
            lo, hi = np.log10(lo), np.log10(hi)
        if self._y_range is not None and self._y_range[0] <= lo and hi <= self._y_range[1]:
            return
        margin = Y_MARGIN * ((hi - lo) or max(abs(hi), 1.0))
        low, high = lo - margin, hi + margin
        if not log and lo >= 0:  # no loss below 0 (most are never): no empty band under the 0
            low = max(low, -ZERO_BAND * high)
        self._y_range = (low, high)
        vb.setYRange(*self._y_range, padding=0)

    def _on_manual_range(self, mask: object = None) -> None:
        """A zoom or pan by hand that moved y: the user's range until "A" (as pyqtgraph does)."""
        try:
            moved_y = bool(mask[1])  # type: ignore[index]
        except (TypeError, IndexError):
            moved_y = True
        if moved_y:
            self._auto_y = False

    def _add_curve(self, name: str) -> None:
        used = set(self._color.values())  # a kept curve keeps its colour; a new one gets a free one
        color = next((c for c in PALETTE if c not in used), PALETTE[len(self.series) % len(PALETTE)])
        self._color[name] = color
        series = Series()
        series.weight = self.weight
        self.series[name] = series
        faint = pg.mkColor(color)
        faint.setAlpha(70)
        self._raw[name] = self.plot.plot(pen=pg.mkPen(faint, width=1))
        points = {"symbol": "o", "symbolSize": 5, "symbolBrush": color, "symbolPen": None} if name in self.unsmoothed else {}
        self._smooth[name] = self.plot.plot(pen=pg.mkPen(color, width=2), name=name, **points)
        for curve in (self._raw[name], self._smooth[name]):
            curve.setClipToView(True)
            curve.setDownsampling(auto=True, method="peak")

    def _on_smoothing(self, value: int) -> None:
        self.smoothing_label.setText(f"{value / 100:.2f}")
        for s in self.series.values():
            s.set_weight(value / 100.0)
        self._dirty = True
        self.refresh()

    def _on_log(self, on: bool) -> None:
        self.plot.getPlotItem().setLogMode(y=on)
        self._y_range = None  # other units
        self._dirty = True
        self.refresh()
