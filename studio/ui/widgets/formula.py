"""A LaTeX formula rendered with matplotlib's mathtext (no TeX install) into a QLabel.

``formula_image`` draws one formula with the Agg backend onto a transparent image,
cached per (formula, colour, size, pixel ratio); ``FormulaLabel`` shows it in the
label's own text colour (so a dark palette gets a light formula), re-rendered when the
palette changes, and keeps the raw LaTeX as its tooltip and in its context menu
("Copy LaTeX"). Where mathtext cannot parse a formula (or matplotlib is missing) the
label shows the raw LaTeX as selectable text instead.

A formula wider than the label's width is drawn in pieces, one per line, split at its
top-level ``\\quad`` (where the families put their remarks). The label draws only once
shown, so a window that never shows the Model tab never imports matplotlib (the app
imports it on its engine thread: studio/ui/app.py).
"""

from __future__ import annotations

import functools
import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QGuiApplication, QImage, QPalette, QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

FORMULA_PT = 15.0  # the formula's font size in points (at 96 dpi: 20 px)
SCREEN_DPI = 96.0
PAD_PX = 3  # around the drawn formula, so no glyph touches the edge


@functools.lru_cache(maxsize=64)
def formula_image(latex: str, color: str = "#000000", size_pt: float = FORMULA_PT, ratio: float = 1.0) -> QImage:
    """``latex`` (without dollars) drawn by mathtext: an ARGB image with transparent
    background, ``ratio`` times the pixels of its logical size (set as its device pixel
    ratio). Raises ValueError when mathtext cannot parse it."""
    import numpy as np
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.mathtext import MathTextParser

    text = f"${latex}$"
    dpi = SCREEN_DPI * ratio
    with rc_context({"mathtext.fontset": "cm"}):
        prop = FontProperties(size=size_pt)
        try:
            width, height, depth, _, _ = MathTextParser("path").parse(text, dpi=72, prop=prop)
        except Exception as exc:  # pyparsing's ParseFatalException, or a ValueError
            raise ValueError(f"mathtext cannot draw {latex!r}: {exc}") from None
        pad = PAD_PX * 72.0 / SCREEN_DPI  # in points
        fig = Figure(figsize=((width + 2 * pad) / 72.0, (height + 2 * pad) / 72.0), dpi=dpi)
        fig.patch.set_alpha(0.0)
        total_w, total_h = width + 2 * pad, height + 2 * pad
        fig.text(pad / total_w, (depth + pad) / total_h, text, fontproperties=prop, color=color)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        rgba = np.ascontiguousarray(np.asarray(canvas.buffer_rgba()))
    h, w = rgba.shape[:2]
    image = QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()
    image.setDevicePixelRatio(ratio)
    return image


def split_quad(latex: str) -> list[str]:
    """The formula's pieces between top-level ``\\quad`` (outside any braces)."""
    pieces, depth, start, i = [], 0, 0, 0
    while i < len(latex):
        c = latex[i]
        if c == "\\" and latex.startswith("\\quad", i) and depth == 0 and not latex[i + 5:i + 6].isalpha():
            pieces.append(latex[start:i])
            i += 5
            start = i
            continue
        if c == "\\":
            i += 2
            continue
        depth += c == "{"
        depth -= c == "}"
        i += 1
    pieces.append(latex[start:])
    return [p.strip() for p in pieces if p.strip()]


class FormulaLabel(QLabel):
    """Shows one formula, rendered; the raw LaTeX is the tooltip and "Copy LaTeX"."""

    def __init__(self, parent: QWidget | None = None, size_pt: float = FORMULA_PT):
        super().__init__(parent)
        self.latex = ""
        self.size_pt = size_pt
        self.error = ""  # why the formula is shown raw ("" when rendered)
        self._drawn: tuple = ()
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        copy = QAction("Copy LaTeX", self)
        copy.triggered.connect(lambda: QGuiApplication.clipboard().setText(self.latex))
        self.addAction(copy)

    def set_formula(self, latex: str) -> None:
        self.latex = latex
        self.setToolTip(f"{latex}\n(right-click to copy the LaTeX)" if latex else "")
        self._drawn = ()
        self._render()

    def rendered(self) -> bool:
        """Whether the label shows the formula as an image (not as raw text)."""
        pixmap = self.pixmap()
        return bool(self.latex) and not self.error and pixmap is not None and not pixmap.isNull()

    def _render(self) -> None:
        if not self.latex:
            self.clear()
            self.error = ""
            return
        if not self.isVisible():  # drawn when shown (matplotlib is not imported before)
            return
        color = self.palette().color(QPalette.ColorRole.WindowText).name()
        ratio = self.devicePixelRatioF()
        available = self.width()
        key = (self.latex, color, ratio, available)
        if key == self._drawn:
            return
        self._drawn = key
        try:
            images = [formula_image(self.latex, color, self.size_pt, ratio)]
            if images[0].width() / ratio > available and len(split_quad(self.latex)) > 1:
                images = [formula_image(p, color, self.size_pt, ratio) for p in split_quad(self.latex)]
        except (ImportError, ValueError) as exc:
            self.error = str(exc)
            self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.setText(f"<code>{html.escape(self.latex)}</code>")
            return
        self.error = ""
        self.setPixmap(QPixmap.fromImage(_stack(images, ratio)))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._render()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self._render()

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().changeEvent(event)
        if event.type() in (event.Type.PaletteChange, event.Type.StyleChange) and self.latex:
            self._render()


def _stack(images: list[QImage], ratio: float) -> QImage:
    """Images one under the other, left-aligned (one image as it is)."""
    if len(images) == 1:
        return images[0]
    from PySide6.QtGui import QPainter

    w = max(i.width() for i in images)
    h = sum(i.height() for i in images)
    out = QImage(w, h, QImage.Format.Format_ARGB32_Premultiplied)
    out.fill(Qt.GlobalColor.transparent)
    out.setDevicePixelRatio(ratio)
    painter = QPainter(out)
    y = 0.0
    for image in images:
        painter.drawImage(0, int(y), image)
        y += image.height() / ratio
    painter.end()
    return out
