"""The current family's freeze presets (``Family.freeze_presets``) as check boxes.

Each box is one named group of parameter prefixes, listed beside it and in its tooltip. The picker
edits a list of names: ``set_names`` checks the boxes whose preset is named (other
entries, plain prefixes, are left to the text field), and ``toggled`` says which preset
the person checked or unchecked. A family without presets shows a line saying so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget


class FreezePicker(QWidget):
    toggled = Signal(str, bool)  # a preset's name, checked

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.family = ""
        self.boxes: dict[str, QCheckBox] = {}
        self.prefix_labels: dict[str, QLabel] = {}  # each preset's prefixes, beside its box
        self._rows: list[QWidget] = []
        self.none_label = QLabel()
        self.none_label.setWordWrap(True)
        self.none_label.setStyleSheet("color: #777;")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(2)
        self._layout.addWidget(self.none_label)

    def set_presets(self, family: str, presets: Mapping[str, tuple[str, ...]]) -> None:
        """Show ``family``'s presets (name -> prefixes), all unchecked."""
        for row in self._rows:
            self._layout.removeWidget(row)
            row.deleteLater()
        self.boxes, self.prefix_labels, self._rows = {}, {}, []
        self.family = family
        for name, prefixes in presets.items():
            row = QWidget()
            line = QHBoxLayout(row)
            line.setContentsMargins(0, 0, 0, 0)
            box = QCheckBox(name)
            box.setObjectName(f"freeze-preset:{name}")
            tip = (f"Freeze the parameters under {', '.join(prefixes)}\n"
                   f"(writes \"{name}\" into train.freeze; the run freezes its prefixes)")
            box.setToolTip(tip)
            box.toggled.connect(lambda checked, n=name: self.toggled.emit(n, checked))
            label = QLabel(", ".join(prefixes))
            label.setStyleSheet("color: #777;")
            label.setToolTip(tip)
            label.setWordWrap(True)  # long prefixes wrap rather than widen the form
            line.addWidget(box)
            line.addWidget(label, 1)
            self._layout.addWidget(row)
            row.show()  # now, not at the next event loop turn (the layout's deferred show)
            self.boxes[name] = box
            self.prefix_labels[name] = label
            self._rows.append(row)
        self.none_label.setText(f"The {family} family has no freeze presets: type parameter prefixes "
                                "in the Freeze field" if family else "")
        self.none_label.setVisible(not self.boxes)

    def names(self) -> list[str]:
        """The checked presets, in their declared order."""
        return [name for name, box in self.boxes.items() if box.isChecked()]

    def set_names(self, entries: Iterable[str]) -> None:
        """Check exactly the presets named in ``entries`` (without emitting ``toggled``)."""
        wanted = {e.strip() for e in entries}
        for name, box in self.boxes.items():
            box.blockSignals(True)
            box.setChecked(name in wanted)
            box.blockSignals(False)
