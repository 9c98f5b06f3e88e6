"""A form for a model's declared sampling options: one row per ``SampleOption``.

Whole-number options (a diffusion model's steps) get a spin box over their range; the
others (guidance, η, temperature) a slider with a spin box beside it. Nothing here knows
which family declared them.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDoubleSpinBox, QGridLayout, QLabel, QSlider, QSpinBox, QWidget

SLIDER_TICKS = 200  # positions across a float option's range


class SampleOptionsForm(QWidget):
    changed = Signal()  # the user changed a value (not set_values)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setVerticalSpacing(2)
        self._grid.setColumnStretch(1, 1)
        self._options: dict[str, Any] = {}
        self._inputs: dict[str, QSpinBox | QDoubleSpinBox] = {}
        self._sliders: dict[str, QSlider] = {}
        self._widgets: list[QWidget] = []
        self._quiet = False

    def set_options(self, options: tuple[tuple[str, Any], ...] | dict[str, Any]) -> None:
        """Rebuild for (name, SampleOption) pairs, every value at its default."""
        for widget in self._widgets:
            self._grid.removeWidget(widget)
            widget.deleteLater()
        self._widgets, self._inputs, self._sliders = [], {}, {}
        self._options = dict(options)
        for row, (name, option) in enumerate(self._options.items()):
            self._add_row(row, name, option)

    def _add_row(self, row: int, name: str, option: Any) -> None:
        label = QLabel(option.label)
        tip = option.help or option.label
        label.setToolTip(tip)
        self._grid.addWidget(label, row, 0)
        self._widgets.append(label)
        if option.integer:
            box: QSpinBox | QDoubleSpinBox = QSpinBox()
            box.setRange(int(option.lo), int(option.hi))
            self._grid.addWidget(box, row, 1, 1, 2)
        else:
            box = QDoubleSpinBox()
            box.setDecimals(2)
            box.setSingleStep(0.05 if option.hi - option.lo <= 4 else 0.5)
            box.setRange(float(option.lo), float(option.hi))
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(0, SLIDER_TICKS)
            slider.setObjectName(f"option-slider-{name}")
            slider.setToolTip(tip)
            slider.valueChanged.connect(lambda ticks, n=name: self._on_slider(n, ticks))
            self._grid.addWidget(slider, row, 1)
            self._grid.addWidget(box, row, 2)
            self._sliders[name] = slider
            self._widgets.append(slider)
        box.setObjectName(f"option-{name}")
        box.setToolTip(tip)
        box.setKeyboardTracking(False)  # typing "200" is one change, not three renders
        box.valueChanged.connect(lambda value, n=name: self._on_box(n, value))
        self._inputs[name] = box
        self._widgets.append(box)
        self.set_values({name: option.default})

    def __len__(self) -> int:
        return len(self._inputs)

    def names(self) -> list[str]:
        return list(self._inputs)

    def input(self, name: str) -> QSpinBox | QDoubleSpinBox:
        return self._inputs[name]

    def slider(self, name: str) -> QSlider:
        return self._sliders[name]

    def values(self) -> dict[str, float | int]:
        return {n: (int(b.value()) if self._options[n].integer else float(b.value())) for n, b in self._inputs.items()}

    def set_values(self, values: dict[str, float]) -> None:
        """Show values without emitting ``changed``; unknown names are ignored, values clipped."""
        self._quiet = True
        try:
            for name, value in values.items():
                if name in self._inputs:
                    self._inputs[name].setValue(value)
                    self._sync_slider(name)
        finally:
            self._quiet = False

    def _sync_slider(self, name: str) -> None:
        slider = self._sliders.get(name)
        if slider is None:
            return
        option = self._options[name]
        span = float(option.hi - option.lo) or 1.0
        was = slider.blockSignals(True)
        slider.setValue(round((self._inputs[name].value() - option.lo) / span * SLIDER_TICKS))
        slider.blockSignals(was)

    def _on_slider(self, name: str, ticks: int) -> None:
        option = self._options[name]
        box = self._inputs[name]
        was = box.blockSignals(True)
        box.setValue(option.lo + (option.hi - option.lo) * ticks / SLIDER_TICKS)
        box.blockSignals(was)
        if not self._quiet:
            self.changed.emit()

    def _on_box(self, name: str, _value: float) -> None:
        self._sync_slider(name)
        if not self._quiet:
            self.changed.emit()
