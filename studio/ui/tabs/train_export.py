"""The Train tab's exports: the grid shown as a PNG (class names beside its rows) and the
run's grids as an animated GIF, written on a worker thread.

A mixin of TrainTab (studio.ui.tabs.train), which owns the grid view, the timeline, the
task runner and the signals these methods use.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFontMetrics, QImage, QPainter
from PySide6.QtWidgets import QFileDialog

from studio.ui.timeline import read_png
from studio.ui.widgets.image_view import to_qimage

EXPORT_MIN_SIDE = 600  # exports are scaled up (nearest) until the longer side reaches this


def export_scale(image: np.ndarray) -> int:
    return max(1, min(8, math.ceil(EXPORT_MIN_SIDE / max(image.shape[:2]))))


def labelled_grid(image: np.ndarray, labels: list[str], scale: int) -> QImage:
    """The grid scaled up (nearest) with its row labels (class names) in a margin on the left."""
    grid = to_qimage(image)
    grid = grid.scaled(grid.width() * scale, grid.height() * scale, Qt.AspectRatioMode.IgnoreAspectRatio,
                       Qt.TransformationMode.FastTransformation)
    row_h = grid.height() / len(labels)
    probe = QImage(1, 1, QImage.Format.Format_RGB888)
    painter = QPainter(probe)
    font = painter.font()
    painter.end()
    font.setPixelSize(max(10, min(28, int(row_h * 0.45))))
    margin = max(QFontMetrics(font).horizontalAdvance(text) for text in labels) + font.pixelSize()
    out = QImage(grid.width() + margin, grid.height(), QImage.Format.Format_RGB888)
    out.fill(QColor("white"))
    painter = QPainter(out)
    painter.setFont(font)
    painter.setPen(QColor("black"))
    painter.drawImage(margin, 0, grid)
    for i, text in enumerate(labels):
        cell = QRectF(0, i * row_h, margin - font.pixelSize() / 2, row_h)
        painter.drawText(cell, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, text)
    painter.end()
    return out


class GridExports:
    """File → Export's sample grid and training evolution, and the tab's export buttons."""

    def export_png(self, path: str | Path) -> Path:
        """The grid shown, scaled up, with its class names beside the rows when it has them."""
        from studio.core.explore.export import save_png

        image = self.grid_view.image()
        if image is None:
            raise ValueError("no sample grid to export yet")
        labels = self.grid_view.row_labels()
        if labels:
            out = Path(path)
            if not labelled_grid(image, labels, export_scale(image)).save(str(out), "PNG"):
                raise OSError("cannot write the image")
        else:
            out = save_png(image, path, export_scale(image))
        self.messageShown.emit(f"Saved {out}")
        return out

    def export_gif(self, path: str | Path, on_done: Any = None) -> None:
        """Write the run's grids as an animated GIF on a worker thread."""
        from studio.core.explore.export import save_gif

        sources = [(f.grid, f.path) for f in self.timeline.frames]
        if not sources:
            raise ValueError("no sample grids to export yet")

        def write(_progress: Any, _cancelled: Any) -> Path:
            frames = [g if g is not None else read_png(p) for g, p in sources]
            frames = [f for f in frames if f is not None]
            return save_gif(frames, path, export_scale(frames[-1]))

        def done(result: Path) -> None:
            self.status.setText(f"Saved {result}")
            self.messageShown.emit(f"Saved {result}")
            if on_done is not None:
                on_done(result)

        self.tasks.run(write, on_result=done, on_error=self.errorOccurred.emit, name="export-gif")

    def _export_png_dialog(self) -> None:
        self._export_dialog("Export sample grid", "samples.png", "PNG image (*.png)", self.export_png)

    def _export_gif_dialog(self) -> None:
        self._export_dialog("Export training evolution", "evolution.gif", "GIF animation (*.gif)", self.export_gif)

    def _export_dialog(self, title: str, default: str, kinds: str, export: Any) -> None:
        path, _ = QFileDialog.getSaveFileName(self, title, default, kinds)
        if path:
            try:
                export(path)
            except (OSError, ValueError) as exc:
                self.errorOccurred.emit(f"{path}: {exc}")
