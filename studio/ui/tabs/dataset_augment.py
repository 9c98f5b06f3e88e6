"""The Dataset tab's augmentation box: the [data.augment] settings beside a few real
images of the selected dataset augmented with them.

The preview is drawn on a task thread: the GUI thread runs no torch work (an image
folder of large RGB images takes longer than a frame to augment). Only the image of the
newest settings is shown; Re-roll draws new random augmentations of the same images.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.config import AugmentConfig
from studio.core.explore.images import tile
from studio.ui.tabs.dataset_preview import augment_batch
from studio.ui.widgets.image_view import ImageView


class AugmentBox(QGroupBox):
    changed = Signal()  # the user changed a setting (set_config does not emit it)
    previewed = Signal()  # a new preview image is shown (tests wait for it)
    errorOccurred = Signal(str)

    def __init__(self, tasks: Any, parent: QWidget | None = None):
        super().__init__("Augmentation (applied to every training batch)", parent)
        self.tasks = tasks
        self._batch: np.ndarray | None = None  # the real images the preview augments
        self._seq = 0
        self._seed = 0
        self.hflip = QCheckBox("Mirror left-right")
        self.hflip.setToolTip("data.augment.hflip: off for digits, whose mirror image is not a digit")
        self.rotate = QDoubleSpinBox()
        self.rotate.setRange(0, 180)
        self.rotate.setSuffix("°")
        self.translate = QDoubleSpinBox()
        self.translate.setRange(0, 0.5)
        self.translate.setSingleStep(0.05)
        self.translate.setToolTip("data.augment.translate: a fraction of the image size")
        self.jitter = QDoubleSpinBox()
        self.jitter.setRange(0, 1)
        self.jitter.setSingleStep(0.1)
        self.jitter.setToolTip("data.augment.color_jitter: RGB datasets only")
        for w in (self.rotate, self.translate, self.jitter):
            w.valueChanged.connect(self._on_changed)
        self.hflip.toggled.connect(self._on_changed)
        self.reroll = QPushButton("Re-roll")
        self.reroll.setToolTip("Draw new random augmentations")
        self.reroll.clicked.connect(self._reroll)
        self.view = ImageView("Augmented samples appear here", min_size=96)

        form = QFormLayout()
        form.addRow(self.hflip)
        form.addRow("Rotate up to", self.rotate)
        form.addRow("Shift up to", self.translate)
        form.addRow("Colour jitter", self.jitter)
        column = QVBoxLayout()
        column.addWidget(self.view, 1)
        column.addWidget(self.reroll)
        row = QHBoxLayout(self)
        row.addLayout(form, 1)
        row.addLayout(column, 1)

    def config(self) -> AugmentConfig:
        return AugmentConfig(
            hflip=self.hflip.isChecked(),
            rotate_degrees=float(self.rotate.value()),
            translate=float(self.translate.value()),
            color_jitter=float(self.jitter.value()),
        )

    def set_config(self, cfg: AugmentConfig) -> None:
        """Show a loaded config's settings, without ``changed`` or a new preview."""
        widgets = (self.hflip, self.rotate, self.translate, self.jitter)
        for widget in widgets:
            widget.blockSignals(True)
        self.hflip.setChecked(cfg.hflip)
        self.rotate.setValue(cfg.rotate_degrees)
        self.translate.setValue(cfg.translate)
        self.jitter.setValue(cfg.color_jitter)
        for widget in widgets:
            widget.blockSignals(False)

    def set_images(self, batch: np.ndarray | None) -> None:
        """The real images to augment (a new dataset's preview), and their preview; None:
        no dataset to show (not on disk, or unreadable), so no preview either."""
        self._batch = batch
        if batch is None:
            self._seq += 1  # a preview still being drawn is of the last dataset
            self.view.set_image(None)
        else:
            self._update_preview()

    def _update_preview(self) -> None:
        if self._batch is None:
            return
        self._seq += 1
        seq, batch, cfg, seed = self._seq, self._batch, self.config(), self._seed
        self.tasks.run(
            lambda _p, _c: tile(augment_batch(batch, cfg, seed), 4, pad=1, fill=64),
            on_result=lambda image: self._on_augmented(seq, image),
            on_error=lambda message: self.errorOccurred.emit(f"Augmentation preview failed: {message}"),
            name="augment-preview",
        )

    def _on_changed(self, *_args: Any) -> None:
        self.changed.emit()
        self._update_preview()

    def _reroll(self) -> None:
        self._seed += 1
        self._update_preview()

    def _on_augmented(self, seq: int, image: np.ndarray) -> None:
        if seq == self._seq:  # only the newest settings
            self.view.set_image(image)
            self.previewed.emit()
