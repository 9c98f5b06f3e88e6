"""Edit a small grey image pixel by pixel and mark which pixels a model should fill in.

The image is shown at a whole-number zoom. Tools: "pen" paints ink, "eraser" paints
black (still given to the model), "hide" marks pixels as unknown (shaded blue: the model
fills them), "reveal" gives them back. The right button always hides.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from studio.ui.widgets.image_view import to_qimage

TOOLS = ("pen", "eraser", "hide", "reveal")
BRUSH = 1.3  # radius in image pixels
HIDDEN_TINT = np.array([40, 70, 160], dtype=np.float32)


class PixelEditor(QWidget):
    edited = Signal()  # the image or the mask changed (by the user or a call)

    def __init__(self, shape: tuple[int, int] = (28, 28), cell: int = 7, parent: QWidget | None = None):
        super().__init__(parent)
        self.cell = cell
        self.tool = "pen"
        self._image = np.zeros(shape, np.float32)
        self._known = np.ones(shape, bool)
        self._button: Qt.MouseButton | None = None
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self._resize()
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip("Left: the chosen tool (pen, eraser, hide, reveal). Right: hide. "
                        "Blue pixels are hidden: the model fills them in.")

    def _resize(self) -> None:
        h, w = self._image.shape
        self.setFixedSize(w * self.cell + 2, h * self.cell + 2)

    # -- content ------------------------------------------------------------------------
    def set_image(self, image: np.ndarray, known: np.ndarray | None = None) -> None:
        self._image = np.clip(np.asarray(image, np.float32), 0.0, 1.0).copy()
        self._known = np.ones(self._image.shape, bool) if known is None else np.asarray(known, bool).copy()
        self._resize()
        self.update()
        self.edited.emit()

    def image(self) -> np.ndarray:
        return self._image.copy()

    def known(self) -> np.ndarray:
        return self._known.copy()

    def clear(self) -> None:
        self.set_image(np.zeros_like(self._image))

    def hide_rows_from(self, row: int) -> None:
        """Hide every pixel from ``row`` down (the lower part of a digit)."""
        self._known[:] = True
        self._known[max(0, row):] = False
        self.update()
        self.edited.emit()

    def shown(self) -> np.ndarray:
        """uint8 (H, W, 3): the image with the hidden pixels tinted."""
        grey = np.repeat(self._image[..., None] * 255, 3, axis=2)
        tint = 0.35 * grey + 0.65 * HIDDEN_TINT
        return np.where(self._known[..., None], grey, tint).round().astype(np.uint8)

    # -- painting with the tools ---------------------------------------------------------
    def paint_at(self, x: float, y: float, tool: str | None = None) -> None:
        """Apply a tool at image coordinates (x across, y down; pixel centres at +0.5)."""
        tool = tool or self.tool
        h, w = self._image.shape
        yy, xx = np.mgrid[0:h, 0:w]
        dist = np.hypot(xx + 0.5 - x, yy + 0.5 - y)
        near = dist <= BRUSH
        if tool == "pen":
            self._image = np.maximum(self._image, np.clip(1.5 - dist / BRUSH, 0, 1) * near)
        elif tool == "eraser":
            self._image[near] = 0.0
        elif tool == "hide":
            self._known[near] = False
        elif tool == "reveal":
            self._known[near] = True
        else:
            raise ValueError(f"tool must be one of {', '.join(TOOLS)}, got {tool!r}")
        self.update()
        self.edited.emit()

    def _event_tool(self, button: Qt.MouseButton | None) -> str:
        return "hide" if button == Qt.MouseButton.RightButton else self.tool

    def _at(self, event: QMouseEvent) -> tuple[float, float]:
        p = event.position()
        return (p.x() - 1) / self.cell, (p.y() - 1) / self.cell

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._button = event.button()
        self.paint_at(*self._at(event), self._event_tool(self._button))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._button is not None:
            self.paint_at(*self._at(event), self._event_tool(self._button))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._button = None

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        image: QImage = to_qimage(self.shown())
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        h, w = self._image.shape
        painter.drawImage(QRectF(1, 1, w * self.cell, h * self.cell), image)
        painter.setPen(QPen(QColor(90, 90, 90), 1))
        painter.drawRect(0, 0, self.width() - 1, self.height() - 1)
