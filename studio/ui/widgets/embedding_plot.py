"""A scatter plot of encoded training images coloured by class, like TensorBoard's projector.

Clicking a point reports its index (the explorer decodes that image's latent mean).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

# matplotlib's tab10: ten classes that stay apart, also for most colour-blind readers.
CLASS_COLOURS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
                 (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))


def class_colour(label: int | None) -> tuple[int, int, int]:
    return (90, 90, 90) if label is None else CLASS_COLOURS[int(label) % len(CLASS_COLOURS)]


class EmbeddingPlot(QWidget):
    pointClicked = Signal(int)  # index of the clicked point

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.plot = pg.PlotWidget(background="w")
        item = self.plot.getPlotItem()
        item.hideButtons()
        item.setAspectLocked(False)
        self.scatter = pg.ScatterPlotItem(size=6, pen=pg.mkPen(0, 0, 0, 90))
        self.scatter.sigClicked.connect(self._on_click)
        item.addItem(self.scatter)
        self.legend = item.addLegend(offset=(-4, 4), labelTextSize="8pt", verSpacing=-6)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.coords = np.zeros((0, 2), np.float32)

    def set_points(self, coords: np.ndarray, labels: np.ndarray | None, class_names: tuple[str, ...] = (),
                   axis_labels: tuple[str, str] = ("", "")) -> None:
        self.coords = np.asarray(coords, np.float32)
        ls = [None] * len(self.coords) if labels is None else [int(v) for v in labels]
        brushes = [pg.mkBrush(*class_colour(v), 220) for v in ls]
        self.scatter.setData(x=self.coords[:, 0], y=self.coords[:, 1], brush=brushes, data=list(range(len(ls))))
        self._set_legend(sorted({v for v in ls if v is not None}), class_names)
        item = self.plot.getPlotItem()
        item.setLabel("bottom", axis_labels[0])
        item.setLabel("left", axis_labels[1])

    def _set_legend(self, classes: list[int], names: tuple[str, ...]) -> None:
        self.legend.clear()
        for c in classes:
            swatch = pg.ScatterPlotItem(size=7, brush=pg.mkBrush(*class_colour(c)), pen=None)
            self.legend.addItem(swatch, names[c] if c < len(names) else str(c))

    def _on_click(self, _item: pg.ScatterPlotItem, points, *_args) -> None:
        if len(points):
            self.pointClicked.emit(int(points[0].data()))
