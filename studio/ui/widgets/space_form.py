"""The Search tab's space form: a row per numeric field of the base config (from its field
metadata), each with a checkbox, a range and a log-scale box; or a space TOML loaded
instead. Both end in ``studio.core.search_space``, whose checks name the bad entry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.fields import ConfigError, FieldSpec
from studio.core.search_space import (
    SearchSpace,
    around,
    default_space,
    searchable_fields,
    space_from_dict,
    space_from_toml,
)

EDIT_WIDTH = 72


class SpaceRow:
    """The widgets of one field's row."""

    def __init__(self, name: str, meta: FieldSpec, value: Any):
        self.name = name
        self.integer = isinstance(value, int)
        bounds = f"{_g(meta.lo)} … {_g(meta.hi)}"
        tip = f"{meta.help}\n" if meta.help else ""
        self.check = QCheckBox(meta.label)
        self.check.setObjectName(f"space:{name}")
        self.check.setToolTip(f"{tip}{name}: the field allows {bounds}; now {value:g}")
        self.lo, self.hi = QLineEdit(), QLineEdit()
        for edit, what in ((self.lo, "from"), (self.hi, "to")):
            edit.setFixedWidth(EDIT_WIDTH)
            edit.setToolTip(f"{name}: search {what} (the field allows {bounds})")
        self.log = QCheckBox()
        self.log.setToolTip(f"{name}: sample on a log scale (a positive range)")
        lo, hi = around(value, meta, self.integer, meta.log)
        self.set(False, lo, hi, meta.log and lo > 0)

    def set(self, on: bool, lo: float, hi: float, log: bool) -> None:
        self.check.setChecked(on)
        self.lo.setText(_g(lo))
        self.hi.setText(_g(hi))
        self.log.setChecked(log)

    def entry(self) -> dict[str, Any]:
        return {"lo": self._number(self.lo, "lo"), "hi": self._number(self.hi, "hi"), "log": self.log.isChecked()}

    def _number(self, edit: QLineEdit, what: str) -> float | int:
        text = edit.text().strip()
        try:
            return int(text) if self.integer else float(text)
        except ValueError:
            kind = "a whole number" if self.integer else "a number"
            raise ConfigError(f"search space entry {self.name}: {what} must be {kind}, got {text!r}") from None


class SpaceForm(QGroupBox):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Search space", parent)
        self.rows: dict[str, SpaceRow] = {}
        self.file: Path | None = None
        self._file_text = ""
        self.grid_host = QWidget()
        self.grid = QGridLayout(self.grid_host)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.file_label = QLabel()
        self.file_label.setWordWrap(True)
        self.file_label.setVisible(False)
        self.load_button = QPushButton("Load space…")
        self.form_button = QPushButton("Use the form")
        self.form_button.setVisible(False)
        self.form_button.clicked.connect(self.clear_file)
        buttons = QHBoxLayout()
        buttons.addWidget(self.load_button)
        buttons.addWidget(self.form_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.grid_host)
        layout.addWidget(self.file_label)
        layout.addLayout(buttons)

    def set_base(self, base: Any) -> None:
        """Rows for the base config's fields, the family's default space ticked."""
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.rows = {}
        for col, text in enumerate(("Field", "from", "to", "log")):
            header = QLabel(f"<b>{text}</b>")
            self.grid.addWidget(header, 0, col, alignment=Qt.AlignmentFlag.AlignLeft)
        for i, (name, (meta, value)) in enumerate(searchable_fields(base).items(), start=1):
            row = SpaceRow(name, meta, value)
            for col, widget in enumerate((row.check, row.lo, row.hi, row.log)):
                self.grid.addWidget(widget, i, col)
            self.rows[name] = row
        self._tick_defaults(base)

    def _tick_defaults(self, base: Any) -> None:
        try:
            defaults = default_space(base)
        except ConfigError:
            defaults = ()
        for param in defaults:
            row = self.rows.get(param.name)
            if row is None:
                continue
            if param.choices is not None:  # the form has ranges: the span of the choices
                lo, hi = min(param.choices), max(param.choices)
                row.set(True, lo, hi, lo > 0 and hi / lo >= 4)
            else:
                row.set(True, param.lo, param.hi, param.log)

    def space(self, base: Any) -> SearchSpace:
        """The space to search, checked against ``base``; ConfigError names the bad entry."""
        if self.file is not None:
            return space_from_toml(self._file_text, base, source=str(self.file))
        entries = {name: row.entry() for name, row in self.rows.items() if row.check.isChecked()}
        if not entries:
            raise ConfigError("the search space is empty: tick at least one field")
        return space_from_dict(entries, base, source="search space")

    def load_file(self, path: str | Path, base: Any) -> SearchSpace:
        """Search the space of a TOML file instead of the form (checked now)."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read the search space ({exc})") from None
        space = space_from_toml(text, base, source=str(path))
        self.file, self._file_text = path, text
        self.file_label.setText(f"From {path.name}:<br>" + "<br>".join(p.describe() for p in space))
        self._show_file(True)
        return space

    def clear_file(self) -> None:
        self.file, self._file_text = None, ""
        self._show_file(False)

    def _show_file(self, on: bool) -> None:
        self.grid_host.setVisible(not on)
        self.file_label.setVisible(on)
        self.form_button.setVisible(on)
        self.changed.emit()


def _g(value: float | None) -> str:
    return "–" if value is None else f"{value:g}"
