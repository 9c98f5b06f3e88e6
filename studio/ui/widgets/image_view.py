"""An image shown big and crisp: nearest-neighbour, integer zoom when it fits.

Also draws optional row labels (class names beside a grid with one row per class), a
marker (the explorer's position on a manifold map), coloured points (encoded digits over
the map) and a placeholder text when empty. Clicks report where they landed as
fractions of the image (0..1, y upwards). A zoomable view zooms with the wheel about
the cursor, pans with a middle-button drag (or a left drag where clicks mean nothing)
and goes back to the whole image on a double click.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QWheelEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

LABEL_MARGIN = 28
MAX_ZOOM = 16.0
ZOOM_STEP = 1.25  # per wheel notch


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
        self._points: list[tuple[float, float, tuple[int, int, int]]] = []
        self._zoomable = False
        self.zoom = 1.0
        self._pan = QPointF(0.0, 0.0)  # offset of the zoomed image's centre, in widget pixels
        self._drag_from: QPointF | None = None
        self.setMinimumSize(min_size, min_size)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    # -- content ----------------------------------------------------------------------
    def set_image(self, array: np.ndarray | None) -> None:
        if array is None or self._array is None or np.shape(array)[:2] != self._array.shape[:2]:
            self.reset_zoom()  # another kind of picture: show it whole
        self._array = None if array is None else np.asarray(array)
        self._qimage = None if array is None else to_qimage(array)
        self.update()

    def image(self) -> np.ndarray | None:
        """The array last shown (for export and tests)."""
        return self._array

    def set_row_labels(self, labels: list[str] | tuple[str, ...]) -> None:
        self._row_labels = list(labels)
        self.update()

    def row_labels(self) -> list[str]:
        return list(self._row_labels)

    def set_marker(self, fx: float | None, fy: float | None = None) -> None:
        self._marker = None if fx is None else (float(fx), float(fy))
        self.update()

    def set_placeholder(self, text: str) -> None:
        self._placeholder = text
        self.update()

    def set_clickable(self, on: bool) -> None:
        self._clickable = on
        self.setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.ArrowCursor)

    def set_points(self, points: list[tuple[float, float, tuple[int, int, int]]]) -> None:
        """Dots at (fraction across, fraction up, RGB colour) over the image."""
        self._points = list(points)
        self.update()

    # -- zoom and pan -----------------------------------------------------------------
    def set_zoomable(self, on: bool) -> None:
        self._zoomable = on
        if not on:
            self.reset_zoom()

    def reset_zoom(self) -> None:
        self.zoom, self._pan = 1.0, QPointF(0.0, 0.0)
        self.update()

    def zoom_at(self, factor: float, at: QPointF | None = None) -> None:
        """Zoom by ``factor`` keeping the point under ``at`` (widget coordinates) in place."""
        if not self._zoomable or self._qimage is None:
            return
        new = min(max(self.zoom * factor, 1.0), MAX_ZOOM)
        centre = QPointF(self.width() / 2, self.height() / 2)
        at = centre if at is None else at
        ratio = new / self.zoom
        # The image point under `at` sits at centre + pan + d; after zooming at centre + pan' + d*ratio.
        self._pan = (at - centre) - (at - centre - self._pan) * ratio
        self.zoom = new
        if new == 1.0:
            self._pan = QPointF(0.0, 0.0)
        self.update()

    def pan_by(self, dx: float, dy: float) -> None:
        if self._zoomable and self.zoom > 1.0:
            self._pan += QPointF(dx, dy)
            self.update()

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
        scale *= self.zoom
        tw, th = max(1, int(w * scale)), max(1, int(h * scale))
        x = left + (avail_w - tw) // 2 + 2 + int(self._pan.x())
        y = (avail_h - th) // 2 + 2 + int(self._pan.y())
        return QRect(x, y, tw, th)

    def _fraction(self, event: QMouseEvent) -> tuple[float, float] | None:
        rect = self.target_rect()
        if rect.isEmpty():
            return None
        pos = event.position()
        fx = (pos.x() - rect.x()) / rect.width()
        fy = 1.0 - (pos.y() - rect.y()) / rect.height()
        return min(max(fx, 0.0), 1.0), min(max(fy, 0.0), 1.0)

    def _is_pan(self, button: Qt.MouseButton) -> bool:
        left_pans = button == Qt.MouseButton.LeftButton and not self._clickable
        return self._zoomable and (button == Qt.MouseButton.MiddleButton or left_pans)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._is_pan(event.button()):
            self._drag_from = event.position()
        elif self._clickable and event.button() == Qt.MouseButton.LeftButton:
            where = self._fraction(event)
            if where is not None:
                self.clicked.emit(*where)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._drag_from is not None:
            delta = event.position() - self._drag_from
            self._drag_from = event.position()
            self.pan_by(delta.x(), delta.y())
        elif self._clickable and event.buttons() & Qt.MouseButton.LeftButton:
            where = self._fraction(event)
            if where is not None:
                self.dragged.emit(*where)
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._drag_from = None
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._zoomable:
            self.reset_zoom()
        super().mouseDoubleClickEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        notches = event.angleDelta().y() / 120
        if not self._zoomable or not notches:
            super().wheelEvent(event)
            return
        self.zoom_at(ZOOM_STEP**notches, event.position())
        event.accept()

    # -- painting ---------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        # Ended here, not when Python collects it: anything that keeps this frame alive a
        # moment longer (a traceback, a profiler, a debugger) would leave the painter active
        # in the backing store's endPaint, and Qt crashes on that.
        painter = QPainter(self)
        try:
            self._paint(painter)
        finally:
            painter.end()

    def _paint(self, painter: QPainter) -> None:
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
        if self._points:
            self._paint_points(painter, rect)
        if self._marker is not None:
            self._paint_marker(painter, rect)
        if self.zoom > 1.0:
            painter.setPen(self.palette().windowText().color())
            painter.drawText(self.rect().adjusted(4, 2, -4, -2), Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignRight,
                             f"{self.zoom:.1f}x · double-click: whole image")

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

    def _paint_points(self, painter: QPainter, rect: QRect) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(QColor(0, 0, 0, 160), 1))
        for fx, fy, (r, g, b) in self._points:
            painter.setBrush(QColor(r, g, b, 220))
            painter.drawEllipse(QPointF(rect.x() + fx * rect.width(), rect.y() + (1 - fy) * rect.height()), 3, 3)
        painter.setBrush(Qt.BrushStyle.NoBrush)

    def _paint_marker(self, painter: QPainter, rect: QRect) -> None:
        fx, fy = self._marker
        center = QPointF(rect.x() + fx * rect.width(), rect.y() + (1 - fy) * rect.height())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for color, width in ((QColor(0, 0, 0, 200), 4), (QColor(255, 80, 40), 2)):
            painter.setPen(QPen(color, width))
            painter.drawEllipse(center, 7, 7)
