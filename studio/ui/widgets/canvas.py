"""A small black canvas to draw a digit on with the mouse (white, thick, round strokes)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QWidget


class DrawCanvas(QWidget):
    drawn = Signal()  # the drawing changed (while drawing and at the end of a stroke)

    def __init__(self, size: int = 196, pen_width: int = 16, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFixedSize(size, size)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip("Draw a digit with the mouse")
        self._image = QImage(size, size, QImage.Format.Format_Grayscale8)
        self._pen_width = pen_width
        self._last: QPointF | None = None
        self.clear()

    def clear(self) -> None:
        self._image.fill(QColor(0, 0, 0))
        self.update()

    def is_empty(self) -> bool:
        return not self.array().any()

    def array(self) -> np.ndarray:
        """The drawing as float32 (H, W) in [0, 1]."""
        img = self._image
        buffer = np.frombuffer(img.constBits(), dtype=np.uint8).reshape(img.height(), img.bytesPerLine())
        return buffer[:, : img.width()].astype(np.float32) / 255.0

    def stroke(self, points: list[tuple[float, float]]) -> None:
        """Draw a polyline (widget coordinates); used by the mouse and by tests."""
        painter = QPainter(self._image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        pen = QPen(QColor(255, 255, 255), self._pen_width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        pts = [QPointF(x, y) for x, y in points]
        if len(pts) == 1:
            painter.drawPoint(pts[0])
        for a, b in zip(pts, pts[1:], strict=False):
            painter.drawLine(a, b)
        painter.end()
        self.update()
        self.drawn.emit()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self._last = event.position()
            self.stroke([(self._last.x(), self._last.y())])

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._last is not None:
            p = event.position()
            self.stroke([(self._last.x(), self._last.y()), (p.x(), p.y())])
            self._last = p

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._last = None

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.drawImage(0, 0, self._image)
        painter.setPen(QPen(QColor(90, 90, 90), 1))
        painter.drawRect(0, 0, self.width() - 1, self.height() - 1)
