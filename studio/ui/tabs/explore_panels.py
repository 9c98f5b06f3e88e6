"""The Explore tab's capability-driven panels, each owning its render channels.

- DenoisePanel (``can_denoise``): x_t and the predicted x_0 of every sampler step of the
  shown image, a slider over the steps and Play. Filled from the "image" result.
- CompletionPanel (``can_complete``): edit a digit (or take a held-out one), hide part of
  it, and see k completions side by side ("complete", "real").
- NeighboursPanel: the training images nearest to the shown sample ("nearest").
- SuperResPanel (an ``is_upscaler`` run picked from a file dialog): the shown image
  upscaled beside bicubic ("upscale").
- BookmarksBox: named points kept in the run's bookmarks.json (file I/O only, no model).

A panel talks to the tab (its ``host``) through a few calls: ``submit``, ``info``,
``label()``, ``seed.value()``, ``options()``, ``shown_image()``, ``errorOccurred``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.ui.widgets.image_view import ImageView
from studio.ui.widgets.pixel_editor import TOOLS, PixelEditor

SCRUB_MS = 60  # Play through the denoising steps at about 16 steps a second
SMALL = 112  # side of the panels' small views


def _small_view(placeholder: str, tip: str = "") -> ImageView:
    view = ImageView(placeholder, min_size=64)
    view.setFixedSize(SMALL, SMALL)
    view.setToolTip(tip)
    return view


def _page_layout(page: QWidget) -> QVBoxLayout:
    """Tight margins: a page of the tab's fixed-height notebook has no height to spare."""
    layout = QVBoxLayout(page)
    layout.setContentsMargins(6, 4, 6, 4)
    layout.setSpacing(3)
    return layout


def _strip(frames: np.ndarray) -> np.ndarray:
    """uint8 (n, H, W, 3) side by side with a 2-pixel grey gap."""
    gap = np.full((frames.shape[1], 2, 3), 96, np.uint8)
    parts: list[np.ndarray] = []
    for frame in frames:
        parts += [frame, gap]
    return np.concatenate(parts[:-1], axis=1)


# -- diffusion: the denoising scrubber -------------------------------------------------------
class DenoisePanel(QWidget):
    """Scrub the sampler's path of the shown image: x_t (what the network saw) and x̂_0."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.path: Any = None  # views.DenoisePath
        self.xt_view = _small_view("x_t", "x_t: the noisy image the network saw at this step")
        self.x0_view = _small_view("x̂_0", "x̂_0: the network's guess of the clean image at this step")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("denoise-step")
        self.slider.setRange(0, 0)
        self.slider.valueChanged.connect(self.show_step)
        self.play_button = QPushButton("▶ Play")
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self._on_play)
        self.caption = QLabel("Render an image to see its denoising path.")
        self.caption.setWordWrap(True)
        self.timer = QTimer(self)
        self.timer.setInterval(SCRUB_MS)
        self.timer.timeout.connect(self._advance)
        row = QHBoxLayout()
        row.addWidget(QLabel("Step"))
        row.addWidget(self.slider, 1)
        row.addWidget(self.play_button)
        views = QGridLayout()
        views.setVerticalSpacing(2)
        views.addWidget(QLabel("x_t: its input"), 0, 0)
        views.addWidget(QLabel("predicted x̂_0"), 0, 1)
        views.addWidget(self.xt_view, 1, 0)
        views.addWidget(self.x0_view, 1, 1)
        views.addWidget(self.caption, 1, 2, Qt.AlignmentFlag.AlignTop)
        views.setColumnStretch(2, 1)
        layout = _page_layout(self)
        layout.addLayout(row)
        layout.addLayout(views)
        layout.addStretch(1)

    def clear(self) -> None:
        self.play_button.setChecked(False)
        self.path = None
        self.slider.setRange(0, 0)
        self.xt_view.set_image(None)
        self.x0_view.set_image(None)
        self.caption.setText("Render an image to see its denoising path.")

    def set_path(self, path: Any) -> None:
        """A new path (of a new image): keep the slider's step where it was when it fits."""
        self.path = path
        last = len(path.ts) - 1
        keep = self.slider.value() if self.slider.maximum() == last else last
        self.slider.blockSignals(True)
        self.slider.setRange(0, last)
        self.slider.setValue(keep)
        self.slider.blockSignals(False)
        self.show_step(keep)

    def show_step(self, index: int) -> None:
        if self.path is None:
            return
        n = len(self.path.ts)
        index = max(0, min(n - 1, int(index)))
        self.xt_view.set_image(self.path.x_t[index])
        self.x0_view.set_image(self.path.x0[index])
        self.caption.setText(f"Step {index + 1} of {n}: t = {self.path.ts[index]} (noisiest first). "
                             "The last step's x̂_0 is the sample.")

    def _on_play(self, on: bool) -> None:
        self.play_button.setText("■ Stop" if on else "▶ Play")
        if on and self.path is not None:
            if self.slider.value() >= self.slider.maximum():
                self.slider.setValue(0)
            self.timer.start()
        else:
            self.timer.stop()
            if on:
                self.play_button.setChecked(False)

    def _advance(self) -> None:
        if self.slider.value() >= self.slider.maximum():
            self.play_button.setChecked(False)
            return
        self.slider.setValue(self.slider.value() + 1)


# -- PixelCNN: completions -------------------------------------------------------------------
class CompletionPanel(QGroupBox):
    """Edit or pick a digit, hide part of it, and draw k completions of the hidden part."""

    channels = ("complete", "real")

    def __init__(self, host: Any, parent: QWidget | None = None):
        super().__init__("Complete a digit", parent)
        self.host = host
        self.editor = PixelEditor(cell=6)
        self.tool = QComboBox()
        for tool in TOOLS:
            self.tool.addItem(tool.capitalize(), tool)
        self.tool.currentIndexChanged.connect(lambda _i: setattr(self.editor, "tool", self.tool.currentData()))
        self.hide_button = QPushButton("Hide lower half")
        self.hide_button.clicked.connect(lambda: self.editor.hide_rows_from(self.editor.image().shape[0] // 2))
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(self.editor.clear)
        self.digit = QSpinBox()
        self.digit.setRange(0, 99_999)
        self.digit.setToolTip("Which held-out (test) image to take")
        self.digit_button = QPushButton("Test digit")
        self.digit_button.setToolTip("Put this held-out image in the editor with its lower half hidden")
        self.digit_button.clicked.connect(self.request_digit)
        self.k = QSpinBox()
        self.k.setRange(1, 8)
        self.k.setValue(4)
        self.k.setPrefix("k = ")
        self.complete_button = QPushButton("Complete")
        self.complete_button.setToolTip("Draw k completions of the hidden (blue) pixels, in raster order")
        self.complete_button.clicked.connect(self.request_complete)
        self.results = ImageView("Hide part of a digit (blue), then Complete.", min_size=40)
        self.results.setFixedHeight(76)
        self.caption = QLabel("The model sees only the pixels above and to the left of each one it draws.")
        self.caption.setWordWrap(True)
        self._build_layout()

    def _build_layout(self) -> None:
        tools = QGridLayout()
        tools.addWidget(self.tool, 0, 0)
        tools.addWidget(self.hide_button, 0, 1)
        tools.addWidget(self.digit, 1, 0)
        tools.addWidget(self.digit_button, 1, 1)
        tools.addWidget(self.clear_button, 2, 0)
        tools.addWidget(self.k, 2, 1)
        tools.addWidget(self.complete_button, 3, 0, 1, 2)
        top = QHBoxLayout()
        top.addWidget(self.editor)
        top.addLayout(tools, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.results)
        layout.addWidget(self.caption)

    def clear(self) -> None:
        self.editor.set_image(np.zeros(self.host.info.image_shape[1:], np.float32) if self.host.info else
                              np.zeros((28, 28), np.float32))
        self.results.set_image(None)
        self.caption.setText("The model sees only the pixels above and to the left of each one it draws.")

    def request_digit(self) -> None:
        from studio.core.explore.views import real_image

        index = self.digit.value()
        self.host.submit("real", lambda ex: real_image(ex, index))

    def request_complete(self) -> bool:
        info = self.host.info
        if info is None or not info.can_complete:
            return False
        image, known = self.editor.image(), self.editor.known()
        if known.all():
            self.caption.setText("Nothing is hidden: hide some pixels first (the Hide tool, or Hide lower half).")
            return False
        k, label, seed, options = self.k.value(), self.host.label(), self.host.seed.value(), self.host.options()
        from studio.core.explore.views import complete

        def job(ex: Any, ctx: Any) -> Any:
            return complete(ex, image, known, k, label, seed, options, ctx.should_stop, ctx.progress)

        self.caption.setText(f"Completing {k} times…")
        self.host.submit("complete", job, cancellable=True)
        return True

    def on_result(self, channel: str, value: Any) -> None:
        if channel == "real":
            image, label, count = value
            h = image.shape[0]
            known = np.ones(image.shape, bool)
            known[h // 2:] = False
            self.editor.set_image(image, known)
            self.digit.setMaximum(max(0, count - 1))
            if label is not None and self.host.info.conditional:  # complete it as its own class; the sample follows
                self.host.class_picker.set_value(label)
            self.caption.setText(f"Held-out image {self.digit.value()}" + (f" (a {label})" if label is not None
                                 else "") + ": its lower half hidden. Complete it.")
        elif channel == "complete":
            self.results.set_image(_strip(value))
            temp = self.host.options().get("temperature")
            self.caption.setText(f"{len(value)} completions (seed {self.host.seed.value()}"
                                 + (f", temperature {temp:g}" if temp is not None else "") + "), drawn row by row.")

    def on_preview(self, channel: str, preview: Any) -> None:
        if channel == "complete" and preview is not None:
            self.results.set_image(_strip(preview))


# -- nearest training images ----------------------------------------------------------------
class NeighboursPanel(QWidget):
    """The training images nearest to the shown sample in evaluator features."""

    channels = ("nearest",)

    def __init__(self, host: Any, parent: QWidget | None = None):
        super().__init__(parent)
        self.host = host
        self.active = False  # after the first search, every new image is searched too (cheap once built)
        self.find_button = QPushButton("Find nearest")
        self.find_button.setToolTip("The training images closest to the shown sample in the evaluator's features "
                                    "(a memorisation check). The first search prepares the evaluator and embeds "
                                    "the training split.")
        self.find_button.clicked.connect(self.request)
        self.k = QSpinBox()
        self.k.setRange(1, 16)
        self.k.setValue(8)
        self.k.setPrefix("k = ")
        self.view = ImageView("Find the training images nearest to this sample.", min_size=40)
        self.view.setFixedHeight(80)
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.find_button)
        row.addWidget(self.k)
        row.addStretch(1)
        layout = _page_layout(self)
        layout.addLayout(row)
        layout.addWidget(self.view)
        layout.addWidget(self.caption)
        layout.addStretch(1)

    def clear(self) -> None:
        self.active = False
        self.view.set_image(None)
        self.caption.setText("")

    def request(self) -> bool:
        image = self.host.shown_image()
        if image is None:
            return False
        from studio.core.explore.views import nearest

        k = self.k.value()
        self.active = True

        def job(ex: Any, ctx: Any) -> Any:
            return nearest(ex, image, k, ctx.should_stop, ctx.progress)

        self.host.submit("nearest", job, cancellable=True)
        return True

    def on_image(self) -> None:
        if self.active:
            self.request()

    def on_result(self, _channel: str, found: Any) -> None:
        self.view.set_image(_strip(found.images))
        names = self.host.info.class_names if self.host.info else ()
        labels = ", ".join("?" if v is None else (names[v] if v < len(names) else str(v)) for v in found.labels)
        dists = ", ".join(f"{d:.2f}" for d in found.distances)
        typical = "" if not np.isfinite(found.typical) else (
            f" A held-out real image is typically {found.typical:.2f} from its nearest training image"
            + ("; this sample is much closer: likely a copy." if found.distances[0] < 0.5 * found.typical else "."))
        self.caption.setText(f"Nearest of {found.searched:,} training images (classes {labels}); "
                             f"distances {dists}.{typical}")


# -- super-resolution -------------------------------------------------------------------------
class SuperResPanel(QWidget):
    """The shown image through a trained upscaler (ESPCN), beside plain bicubic."""

    channels = ("upscale",)
    FACTORS = (("Off", 0), ("x2", 2), ("x4", 4))

    def __init__(self, host: Any, parent: QWidget | None = None):
        super().__init__(parent)
        self.host = host
        self.runs: dict[int, str] = {}  # factor -> the upscaler run (or checkpoint) chosen for it
        self.factor = QComboBox()
        for text, value in self.FACTORS:
            self.factor.addItem(text, value)
        self.factor.setToolTip("Upscale the shown image with a trained super-resolution run (ESPCN)")
        self.factor.currentIndexChanged.connect(self._on_factor)
        self.run_button = QPushButton("Upscaler run…")
        self.run_button.setToolTip("Pick a trained espcn run for this factor (an x2 run also serves x4, twice)")
        self.run_button.clicked.connect(self._choose_dialog)
        self.run_label = QLabel("No upscaler chosen.")
        self.run_label.setWordWrap(True)
        self.sr_view = _small_view("ESPCN", "The upscaler's output")
        self.bicubic_view = _small_view("bicubic", "Plain bicubic interpolation, for comparison")
        row = QHBoxLayout()
        row.addWidget(QLabel("Super-resolution"))
        row.addWidget(self.factor)
        row.addWidget(self.run_button)
        row.addStretch(1)
        views = QGridLayout()
        views.addWidget(QLabel("Upscaler"), 0, 0)
        views.addWidget(QLabel("Bicubic"), 0, 1)
        views.addWidget(self.sr_view, 1, 0)
        views.addWidget(self.bicubic_view, 1, 1)
        views.setColumnStretch(2, 1)
        views.addWidget(self.run_label, 1, 2)
        layout = _page_layout(self)
        layout.addLayout(row)
        layout.addLayout(views)
        layout.addStretch(1)

    def value(self) -> int:
        return int(self.factor.currentData())

    def clear(self) -> None:
        self.sr_view.set_image(None)
        self.bicubic_view.set_image(None)

    def choose(self, factor: int, run: str | Path) -> None:
        """Use ``run`` for ``factor`` and switch to it."""
        self.runs[factor] = str(run)
        index = self.factor.findData(factor)
        if index == self.factor.currentIndex():
            self.request()
        else:
            self.factor.setCurrentIndex(index)

    def _choose_dialog(self) -> None:
        factor = self.value() or 2
        folder = QFileDialog.getExistingDirectory(self, f"Open an x{factor} upscaler run (espcn)", "runs")
        if folder:
            self.choose(factor, folder)

    def _on_factor(self, _index: int) -> None:
        factor = self.value()
        if factor and factor not in self.runs:
            self._choose_dialog()
            if factor not in self.runs:
                return
        self.request()

    def request(self) -> bool:
        factor = self.value()
        image = self.host.shown_image()
        if not factor:
            self.clear()
            self.run_label.setText("Off.")
            return False
        if factor not in self.runs or image is None:
            return False
        from studio.core.explore.views import super_resolve

        run = self.runs[factor]
        self.host.submit("upscale", lambda ex: super_resolve(ex, image, factor, run))
        return True

    def on_result(self, _channel: str, value: Any) -> None:
        sr, bicubic, note = value
        self.sr_view.set_image(sr)
        self.bicubic_view.set_image(bicubic)
        self.run_label.setText(f"{note} from {self.runs.get(self.value(), '')}: {sr.shape[1]}x{sr.shape[0]} px.")


# -- bookmarks ---------------------------------------------------------------------------------
class BookmarksBox(QGroupBox):
    """Name the current point and save it beside the run; reload it later."""

    applied = Signal(object)  # the Bookmark to show

    def __init__(self, host: Any, parent: QWidget | None = None):
        super().__init__("Bookmarks", parent)
        self.host = host
        self.path: Path | None = None
        self.items: list[Any] = []
        self.name = QLineEdit()
        self.name.setPlaceholderText("name this point")
        self.save_button = QPushButton("Save")
        self.save_button.clicked.connect(self.save_current)
        self.name.returnPressed.connect(self.save_current)
        self.combo = QComboBox()
        self.load_button = QPushButton("Load")
        self.load_button.clicked.connect(self.apply_selected)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self.delete_selected)
        self.where = QLabel("")
        self.where.setWordWrap(True)
        grid = QGridLayout(self)
        grid.addWidget(self.name, 0, 0, 1, 2)
        grid.addWidget(self.save_button, 0, 2)
        grid.addWidget(self.combo, 1, 0)
        grid.addWidget(self.load_button, 1, 1)
        grid.addWidget(self.delete_button, 1, 2)
        grid.addWidget(self.where, 2, 0, 1, 3)
        grid.setColumnStretch(0, 1)

    def set_file(self, path: str) -> None:
        from studio.core.errors import StudioError
        from studio.core.explore.bookmarks import load_bookmarks

        self.path = Path(path) if path else None
        self.items = []
        if self.path is not None:
            try:
                self.items = load_bookmarks(self.path)
            except StudioError as exc:
                self.host.errorOccurred.emit(str(exc))
        self._refill()
        self.where.setText("" if self.path is None else f"Kept in {self.path}")
        for w in (self.name, self.save_button, self.combo, self.load_button, self.delete_button):
            w.setEnabled(self.path is not None)

    def _refill(self, select: str | None = None) -> None:
        self.combo.clear()
        for b in self.items:
            self.combo.addItem(b.name)
        if select is not None:
            self.combo.setCurrentIndex(self.combo.findText(select))
        has = bool(self.items)
        self.load_button.setEnabled(has and self.path is not None)
        self.delete_button.setEnabled(has and self.path is not None)

    def save_current(self) -> bool:
        from studio.core.explore.bookmarks import save_bookmarks, with_bookmark

        name = self.name.text().strip() or f"seed {self.host.seed.value()}"
        if self.path is None or self.host.info is None:
            return False
        items = with_bookmark(self.items, self.host.bookmark(name))
        if not self._write(save_bookmarks, items):
            return False
        self.items = items
        self._refill(select=name)
        self.name.clear()
        return True

    def apply_selected(self) -> None:
        i = self.combo.currentIndex()
        if 0 <= i < len(self.items):
            self.applied.emit(self.items[i])

    def delete_selected(self) -> None:
        from studio.core.explore.bookmarks import save_bookmarks

        i = self.combo.currentIndex()
        if 0 <= i < len(self.items):
            items = self.items[:i] + self.items[i + 1:]
            if self._write(save_bookmarks, items):
                self.items = items
                self._refill()

    def _write(self, save: Any, items: list[Any]) -> bool:
        from studio.core.errors import StudioError

        try:
            save(self.path, items)
        except (OSError, StudioError) as exc:
            self.host.errorOccurred.emit(f"{self.path}: {exc}")
            return False
        return True
