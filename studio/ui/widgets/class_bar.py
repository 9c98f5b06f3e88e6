"""A bar chart of per-class values (dataset class counts; generated-class shares).

Optionally with a reference drawn as outlined bars behind the values (the data's class
shares beside the generated ones) and some bars highlighted (classes that went missing).
Updates in place: the bar items are kept and given new options.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

HIGHLIGHT = "#d62728"


class ClassBar(QWidget):
    def __init__(self, parent: QWidget | None = None, title: str = "", y_label: str = "", color: str = "#4c72b0"):
        super().__init__(parent)
        self.color = color
        self.plot = pg.PlotWidget(background="w")
        item = self.plot.getPlotItem()
        if title:
            item.setTitle(title, size="10pt")
        if y_label:
            item.setLabel("left", y_label)
        item.getAxis("left").enableAutoSIPrefix(False)  # 0.1, not "100 (x0.001)"
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        item.showGrid(y=True, alpha=0.25)
        self._bars = pg.BarGraphItem(x=[], height=[], width=0.7, brush=color, pen=None)
        self._reference = pg.BarGraphItem(
            x=[], height=[], width=0.86, brush=None, pen=pg.mkPen("#444444", width=1, style=Qt.PenStyle.DashLine)
        )
        self._reference.setZValue(1)  # the outline stays visible over a taller bar
        self._reference.setVisible(False)
        item.addItem(self._bars)
        item.addItem(self._reference)
        self.values = np.zeros(0)
        self.reference: np.ndarray | None = None
        self.highlighted = np.zeros(0, dtype=bool)
        self.names: list[str] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)

    def set_values(
        self,
        values: np.ndarray | list[float],
        names: list[str] | None = None,
        highlight: np.ndarray | list[bool] | None = None,
    ) -> None:
        """Bars for ``values``; ``highlight`` (a mask) paints some of them red. The same
        bars again change nothing: a repaint of the chart costs ~5-10 ms, and every run's
        start sets them."""
        values = np.asarray(values, dtype=np.float64)
        n = len(values)
        names = list(names) if names else [str(i) for i in range(n)]
        names = names[:n] + [str(i) for i in range(len(names), n)]
        mask = np.zeros(n, dtype=bool) if highlight is None else np.asarray(highlight, dtype=bool)[:n]
        mask = np.pad(mask, (0, n - len(mask)))
        if np.array_equal(values, self.values) and names == self.names and np.array_equal(mask, self.highlighted):
            return
        self.values, self.names, self.highlighted = values, names, mask
        x = np.arange(n)
        if self.highlighted.any():
            brushes = [pg.mkBrush(HIGHLIGHT if h else self.color) for h in self.highlighted]
            self._bars.setOpts(x=x, height=self.values, width=0.7, brush=None, brushes=brushes)
        else:
            self._bars.setOpts(x=x, height=self.values, width=0.7, brush=self.color, brushes=None)
        axis = self.plot.getPlotItem().getAxis("bottom")
        # Long or many names: show every k-th so the labels do not overlap.
        step = max(1, int(np.ceil(n / 16))) if max((len(s) for s in self.names), default=1) <= 3 else max(1, int(np.ceil(n / 8)))
        axis.setTicks([[(i, self.names[i]) for i in range(0, n, step)]])
        self._update_reference()
        self._update_range()

    def set_reference(self, reference: np.ndarray | list[float] | None) -> None:
        """Outlined bars behind the values (None: none), e.g. the data's class shares."""
        reference = None if reference is None else np.asarray(reference, dtype=np.float64)
        same = reference is None if self.reference is None else reference is not None and np.array_equal(reference, self.reference)
        if same:
            return
        self.reference = reference
        self._update_reference()
        self._update_range()

    def _update_reference(self) -> None:
        ref = self.reference
        n = len(self.values) if len(self.values) else (0 if ref is None else len(ref))
        if ref is None or not n:
            self._reference.setVisible(False)
            return
        ref = ref[:n]
        dashed = pg.mkPen("#444444", width=1, style=Qt.PenStyle.DashLine)
        if self.highlighted[: len(ref)].any():  # a missing class: its outline in red, since its bar may be flat
            red = pg.mkPen(HIGHLIGHT, width=2, style=Qt.PenStyle.DashLine)
            pens = [red if i < len(self.highlighted) and self.highlighted[i] else dashed for i in range(len(ref))]
            self._reference.setOpts(x=np.arange(len(ref)), height=ref, width=0.86, pen=None, pens=pens)
        else:
            self._reference.setOpts(x=np.arange(len(ref)), height=ref, width=0.86, pen=dashed, pens=None)
        self._reference.setVisible(True)

    def _update_range(self) -> None:
        n = max(len(self.values), 0 if self.reference is None else len(self.reference))
        top = max(float(self.values.max()) if len(self.values) else 0.0,
                  float(self.reference.max()) if self.reference is not None and len(self.reference) else 0.0)
        self.plot.setXRange(-0.6, max(n - 0.4, 0.4), padding=0)
        self.plot.setYRange(0, top * 1.1 if top > 0 else 1.0, padding=0)
