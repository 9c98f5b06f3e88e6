"""A bar chart of per-class values (dataset class counts; generated-class shares)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget


class ClassBar(QWidget):
    def __init__(self, parent: QWidget | None = None, title: str = "", y_label: str = "", color: str = "#4c72b0"):
        super().__init__(parent)
        self.plot = pg.PlotWidget(background="w")
        item = self.plot.getPlotItem()
        if title:
            item.setTitle(title, size="10pt")
        if y_label:
            item.setLabel("left", y_label)
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        item.showGrid(y=True, alpha=0.25)
        self._bars = pg.BarGraphItem(x=[], height=[], width=0.7, brush=color, pen=None)
        item.addItem(self._bars)
        self.values = np.zeros(0)
        self.names: list[str] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)

    def set_values(self, values: np.ndarray | list[float], names: list[str] | None = None) -> None:
        self.values = np.asarray(values, dtype=np.float64)
        n = len(self.values)
        self.names = list(names) if names else [str(i) for i in range(n)]
        x = np.arange(n)
        self._bars.setOpts(x=x, height=self.values, width=0.7)
        axis = self.plot.getPlotItem().getAxis("bottom")
        # Long or many names: show every k-th so the labels do not overlap.
        step = max(1, int(np.ceil(n / 16))) if max((len(s) for s in self.names), default=1) <= 3 else max(1, int(np.ceil(n / 8)))
        axis.setTicks([[(i, self.names[i]) for i in range(0, n, step)]])
        top = float(self.values.max()) if n else 1.0
        self.plot.setXRange(-0.6, max(n - 0.4, 0.4), padding=0)
        self.plot.setYRange(0, top * 1.1 if top > 0 else 1.0, padding=0)
