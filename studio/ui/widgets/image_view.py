"""An image shown big and crisp: nearest-neighbour, integer zoom when it fits.

Also draws optional row labels (class names beside a grid with one row per class), a
marker (the explorer's position on a manifold map) and a placeholder text when empty.
Clicks report where they landed as fractions of the image (0..1, y upwards).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

LABEL_MARGIN = 28


def to_qimage(array: np.ndarray) -> QImage:
    """uint8 (H, W, 3) or (H, W) -> a QImage that owns a copy of the pixels."""
    a = np.ascontiguousarray(array, dtype=np.uint8)
    if a.ndim == 2:
        h, w = a.shape
        return QImage(a.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    h, w, _ = a.shape
    return QImage(a.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class ImageView(QWidget):
    clicked = Signal(float, float)  # fractions across (x) and up (y) the image
    dragged = Signal(float, float)

    def __init__(self, placeholder: str = "", parent: QWidget | None = None, min_size: int = 120):
        super().__init__(parent)
        self._array: np.ndarray | None = None
        self._qimage: QImage | None = None
        self._row_labels: list[str] = []
        self._marker: tuple[float, float] | None = None
        self._placeholder = placeholder
        self._clickable = False
        self.setMinimumSize(min_size, min_size)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    # -- content ----------------------------------------------------------------------
    def set_image(self, array: np.ndarray | None) -> None:
        self._array = None if array is None else np.asarray(array)
        self._qimage = None if array is None else to_qimage(array)
        self.update()

    def image(self) -> np.ndarray | None:
        """The array last shown (for export and tests)."""
        return self._array

    def set_row_labels(self, labels: list[str] | tuple[str, ...]) -> None:
        self._row_labels = list(labels)
        self.update()

    def set_marker(self, fx: float | None, fy: float | None = None) -> None:
        self._marker = None if fx is None else (float(fx), float(fy))
        self.update()

    def set_placeholder(self, text: str) -> None:
        self._placeholder = text
        self.update()

    def set_clickable(self, on: bool) -> None:
        self._clickable = on
        self.setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.ArrowCursor)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(320, 320)

    # -- geometry ---------------------------------------------------------------------
    def target_rect(self) -> QRect:
        """Where the image is drawn: centred; a whole-number zoom when that still fills most
        of the space (every source pixel the same size), else the largest zoom that fits."""
        if self._qimage is None:
            return QRect()
        left = LABEL_MARGIN if self._row_labels else 0
        avail_w, avail_h = max(1, self.width() - left - 4), max(1, self.height() - 4)
        w, h = self._qimage.width(), self._qimage.height()
        scale = min(avail_w / w, avail_h / h)
        if scale >= 1 and int(scale) >= 0.8 * scale:
            scale = float(int(scale))
        tw, th = max(1, int(w * scale)), max(1, int(h * scale))
        x = left + (avail_w - tw) // 2 + 2
        y = (avail_h - th) // 2 + 2
        return QRect(x, y, tw, th)

    def _fraction(self, event: QMouseEvent) -> tuple[float, float] | None:
        rect = self.target_rect()
        if rect.isEmpty():
            return None
        pos = event.position()
        fx = (pos.x() - rect.x()) / rect.width()
        fy = 1.0 - (pos.y() - rect.y()) / rect.height()
        return min(max(fx, 0.0), 1.0), min(max(fy, 0.0), 1.0)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._clickable and event.button() == Qt.MouseButton.LeftButton:
            where = self._fraction(event)
            if where is not None:
                self.clicked.emit(*where)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._clickable and event.buttons() & Qt.MouseButton.LeftButton:
            where = self._fraction(event)
            if where is not None:
                self.dragged.emit(*where)
        super().mouseMoveEvent(event)

    # -- painting ---------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().window())
        if self._qimage is None:
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._placeholder)
            return
        rect = self.target_rect()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(QRectF(rect), self._qimage)
        if self._row_labels:
            self._paint_row_labels(painter, rect)
        if self._marker is not None:
            self._paint_marker(painter, rect)

    def _paint_row_labels(self, painter: QPainter, rect: QRect) -> None:
        painter.setPen(self.palette().windowText().color())
        n = len(self._row_labels)
        row_h = rect.height() / n
        font = painter.font()
        font.setPixelSize(max(8, min(14, int(row_h * 0.6))))
        painter.setFont(font)
        for i, text in enumerate(self._row_labels):
            cell = QRectF(rect.x() - LABEL_MARGIN, rect.y() + i * row_h, LABEL_MARGIN - 4, row_h)
            painter.drawText(cell, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, text)

    def _paint_marker(self, painter: QPainter, rect: QRect) -> None:
        fx, fy = self._marker
        center = QPointF(rect.x() + fx * rect.width(), rect.y() + (1 - fy) * rect.height())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for color, width in ((QColor(0, 0, 0, 200), 4), (QColor(255, 80, 40), 2)):
            painter.setPen(QPen(color, width))
            painter.drawEllipse(center, 7, 7)
