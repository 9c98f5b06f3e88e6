"""One config field as a form widget: which widget a field gets, and its value in and out.

The widget follows the field: a combo box for a field with choices, a check box for a
bool, a spin box for an int (its range is wider than the valid one on purpose: the
engine's validation message, not a silent clamp, tells the user the limits), and a line
edit for the rest (floats, strings, comma-separated lists). Reading a line edit uses the
field's default to know its type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox, QWidget

from studio.core.config import ConfigError
from studio.core.fields import FieldSpec

INT_MAX = 2**31 - 1


def make_field(meta: FieldSpec, default: Any, changed: Callable[..., None]) -> QWidget:
    """The widget for a field whose default is ``default``; ``changed`` runs on every edit."""
    if meta.choices is not None:
        combo = QComboBox()
        for choice in meta.choices:
            combo.addItem(str(choice), choice)
        combo.currentIndexChanged.connect(changed)
        return combo
    if isinstance(default, bool):
        check = QCheckBox()
        check.toggled.connect(changed)
        return check
    if isinstance(default, int):
        spin = QSpinBox()
        spin.setRange(0, INT_MAX)
        spin.setGroupSeparatorShown(True)
        spin.valueChanged.connect(changed)
        return spin
    edit = QLineEdit()
    if isinstance(default, tuple):
        edit.setPlaceholderText("comma-separated")
    elif isinstance(default, str):
        edit.setPlaceholderText("none")
    edit.textChanged.connect(changed)
    return edit


def read_field(widget: QWidget, name: str, default: Any) -> Any:
    """The widget's value as the config takes it; raises ConfigError naming ``name``."""
    if isinstance(widget, QComboBox):
        return widget.currentData()
    if isinstance(widget, QSpinBox):
        return widget.value()
    if isinstance(widget, QCheckBox):
        return widget.isChecked()
    text = widget.text().strip()
    if isinstance(default, tuple):
        return [v.strip() for v in text.split(",") if v.strip()]
    if isinstance(default, str):
        return text
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {text!r}") from None


def write_field(widget: QWidget, value: Any) -> None:
    """Show ``value`` in the widget (a combo box gains a choice it lacks)."""
    if isinstance(widget, QComboBox):
        index = widget.findData(value)
        if index < 0:
            widget.addItem(str(value), value)
            index = widget.count() - 1
        widget.setCurrentIndex(index)
    elif isinstance(widget, QSpinBox):
        widget.setValue(int(value))
    elif isinstance(widget, QCheckBox):
        widget.setChecked(bool(value))
    elif isinstance(value, (tuple, list)):
        widget.setText(", ".join(value))
    elif isinstance(value, str):
        widget.setText(value)
    else:
        widget.setText(f"{value:g}")
