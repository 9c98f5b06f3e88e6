"""The Train tab's right-hand panel for evaluation metrics (Metrics events).

A plain table of the latest values for now; issue 4 grows it into metric curves, the
class-histogram bar chart and the mode-collapse warning. ``on_metrics`` receives every
``events.Metrics`` the worker re-emits (and those read from an opened run's log).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QVBoxLayout, QWidget


class MetricsPanel(QGroupBox):
    def __init__(self, parent: QWidget | None = None):
        super().__init__("Metrics", parent)
        self._layout = QVBoxLayout(self)
        self.hint = QLabel("Evaluation metrics (FID, class coverage, …) appear here when the run computes them.")
        self.hint.setWordWrap(True)
        self._form = QFormLayout()
        self._values: dict[str, QLabel] = {}
        self.step_label = QLabel()
        self._layout.addWidget(self.hint)
        self._layout.addWidget(self.step_label)
        self._layout.addLayout(self._form)
        self._layout.addStretch(1)
        self.history: list[Any] = []  # every Metrics event of this run, oldest first

    def clear(self) -> None:
        for label in self._values.values():
            self._form.removeRow(label)
        self._values.clear()
        self.history.clear()
        self.step_label.setText("")
        self.hint.setVisible(True)

    def on_metrics(self, event: Any) -> None:
        self.history.append(event)
        self.hint.setVisible(False)
        self.step_label.setText(f"at step {event.step:,}")
        for name, value in event.values.items():
            if name not in self._values:
                self._values[name] = QLabel()
                self._form.addRow(name, self._values[name])
            self._values[name].setText(f"{value:.4g}")
