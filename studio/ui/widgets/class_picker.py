"""Pick a class label: a row of toggle buttons for a few classes, a list for many."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QPushButton,
    QWidget,
)

MAX_BUTTONS = 12


class ClassPicker(QWidget):
    changed = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._group: QButtonGroup | None = None
        self._combo: QComboBox | None = None
        self._holder: QWidget | None = None
        self.names: list[str] = []

    def set_classes(self, names: list[str] | tuple[str, ...]) -> None:
        if self._holder is not None:
            self._layout.removeWidget(self._holder)
            self._holder.deleteLater()
        self._group, self._combo, self._holder = None, None, None
        self.names = list(names)
        if not names:
            return
        if len(names) <= MAX_BUTTONS:
            holder = QWidget()
            grid = QGridLayout(holder)
            grid.setContentsMargins(0, 0, 0, 0)
            grid.setSpacing(2)
            self._group = QButtonGroup(holder)
            self._group.setExclusive(True)
            per_row = 10 if len(names) > 6 else len(names)
            for i, name in enumerate(names):
                button = QPushButton(name)
                button.setCheckable(True)
                button.setMinimumWidth(24)
                button.setMaximumWidth(64)
                button.setObjectName(f"class-{i}")
                self._group.addButton(button, i)
                grid.addWidget(button, i // per_row, i % per_row)
            self._group.button(0).setChecked(True)
            self._group.idClicked.connect(self.changed)
        else:
            holder = self._combo = QComboBox()
            for i, name in enumerate(names):
                holder.addItem(f"{i}: {name}", i)
            holder.currentIndexChanged.connect(self.changed)
        self._holder = holder
        self._layout.addWidget(holder)

    def value(self) -> int | None:
        if self._group is not None:
            return self._group.checkedId()
        if self._combo is not None:
            return self._combo.currentIndex()
        return None

    def set_value(self, index: int, notify: bool = True) -> None:
        if self._group is not None:
            self._group.button(index).setChecked(True)
        elif self._combo is not None:
            self._combo.blockSignals(True)
            self._combo.setCurrentIndex(index)
            self._combo.blockSignals(False)
        if notify:
            self.changed.emit(index)
