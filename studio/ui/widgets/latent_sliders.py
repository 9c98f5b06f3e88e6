"""A column of labelled sliders for latent values, each from -range to +range."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QLabel, QSlider, QWidget

TICKS = 100  # slider positions per unit


class LatentSliders(QWidget):
    changed = Signal(int, float)  # index, new value (only for user moves, not set_values)

    def __init__(self, parent: QWidget | None = None, limit: float = 3.0):
        super().__init__(parent)
        self.limit = limit
        self._sliders: list[QSlider] = []
        self._values: list[QLabel] = []
        self._names: list[QLabel] = []
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setVerticalSpacing(2)
        self._grid.setColumnStretch(1, 1)
        self._quiet = False

    def set_labels(self, labels: list[str], tooltips: list[str] | None = None) -> None:
        """Rebuild with one slider per label, all at 0."""
        for widget in (*self._sliders, *self._values, *self._names):
            self._grid.removeWidget(widget)
            widget.deleteLater()
        self._sliders, self._values, self._names = [], [], []
        for i, text in enumerate(labels):
            name = QLabel(text)
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(int(-self.limit * TICKS), int(self.limit * TICKS))
            slider.setObjectName(f"slider-{text}")
            value = QLabel("0.00")
            value.setMinimumWidth(40)
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if tooltips:
                name.setToolTip(tooltips[i])
                slider.setToolTip(tooltips[i])
            slider.valueChanged.connect(lambda v, i=i: self._on_move(i, v))
            self._grid.addWidget(name, i, 0)
            self._grid.addWidget(slider, i, 1)
            self._grid.addWidget(value, i, 2)
            self._names.append(name)
            self._sliders.append(slider)
            self._values.append(value)

    def __len__(self) -> int:
        return len(self._sliders)

    def slider(self, i: int) -> QSlider:
        return self._sliders[i]

    def values(self) -> np.ndarray:
        return np.array([s.value() / TICKS for s in self._sliders], dtype=np.float32)

    def set_values(self, values: np.ndarray) -> None:
        """Move the sliders without emitting ``changed`` (values beyond the range are clipped)."""
        self._quiet = True
        try:
            for slider, label, v in zip(self._sliders, self._values, values, strict=False):
                slider.setValue(int(round(float(np.clip(v, -self.limit, self.limit)) * TICKS)))
                label.setText(f"{float(v):+.2f}")
        finally:
            self._quiet = False

    def _on_move(self, i: int, ticks: int) -> None:
        self._values[i].setText(f"{ticks / TICKS:+.2f}")
        if not self._quiet:
            self.changed.emit(i, ticks / TICKS)
