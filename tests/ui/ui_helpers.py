"""Helpers for the UI tests: tiny configs typed into the Model tab's own widgets."""

from __future__ import annotations

TINY = {  # a few seconds of real training on the embedded digits
    "model.width": 8,
    "train.steps": 20,
    "train.batch_size": 16,
    "train.log_every": 1,
    "train.sample_every": 5,
    "train.checkpoint_every": 10,
    "train.threads": 1,
}


def set_fields(window, values: dict) -> None:
    """Type values into the Model tab's widgets, as a user would."""
    from PySide6.QtWidgets import QCheckBox, QComboBox, QSpinBox

    for name, value in values.items():
        widget = window.model_tab.fields[name]
        if isinstance(widget, QSpinBox):
            widget.setValue(value)
        elif isinstance(widget, QComboBox):
            widget.setCurrentIndex(widget.findData(value))
        elif isinstance(widget, QCheckBox):
            widget.setChecked(value)
        else:
            widget.setText(str(value))


def tiny(window, preset: str = "cgan-mlp", **overrides) -> None:
    """Select a preset in the Model tab and shrink it to a tiny run."""
    window.model_tab.preset.setCurrentText(preset)
    window.model_tab.apply_preset(preset)
    set_fields(window, {**TINY, **overrides})
    assert window.model_tab.validate() == ""
