"""Model tab: family, architecture and every training setting, with presets, inline
validation and TOML save/load (the same file ``latent-studio train --config`` takes).

Validation is the engine's own (``Config.validate`` via ``config_from_dict``), so the
message names the field and its allowed range exactly as the CLI would; the widget of
that field is outlined in red. Spin boxes deliberately allow values beyond the valid
range so that the message, not a silently clamped number, tells the user the limits.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.core import config as C
from studio.core.presets import DEFAULT_PRESET, PRESETS

INT_MAX = 2**31 - 1
FIELD_RE = re.compile(r"\b((?:data|model|train)\.[a-z_]+(?:\.[a-z_]+)?)")

# (section, key, label, kind, choices); kind: combo | int | float | bool
MODEL_FIELDS = [
    ("model", "family", "Family", "combo", C.FAMILIES),
    ("model", "arch", "Architecture", "combo", ()),
    ("model", "latent_dim", "Latent size", "int", None),
    ("model", "width", "Width", "int", None),
    ("model", "loss", "GAN loss", "combo", C.GAN_LOSSES),
    ("model", "spectral_norm", "Spectral norm (D)", "bool", None),
    ("model", "beta", "β (KL weight)", "float", None),
]
OPTIM_FIELDS = [
    ("train", "optimizer", "Optimiser", "combo", C.OPTIMIZERS),
    ("train", "lr", "Learning rate (G / VAE)", "float", None),
    ("train", "lr_d", "Learning rate (D)", "float", None),
    ("train", "beta1", "Adam β1", "float", None),
    ("train", "beta2", "Adam β2", "float", None),
    ("train", "weight_decay", "Weight decay", "float", None),
    ("train", "batch_size", "Batch size", "int", None),
    ("train", "steps", "Steps", "int", None),
    ("train", "n_critic", "D steps per G step", "int", None),
    ("train", "gp_weight", "Gradient penalty", "float", None),
    ("train", "ema", "EMA decay (0 = off)", "float", None),
]
RUN_FIELDS = [
    ("train", "seed", "Seed", "int", None),
    ("train", "device", "Device", "combo", C.DEVICES),
    ("train", "threads", "CPU threads (0 = auto)", "int", None),
    ("train", "log_every", "Log every (steps)", "int", None),
    ("train", "sample_every", "Sample grid every", "int", None),
    ("train", "checkpoint_every", "Checkpoint every", "int", None),
]
GAN_ONLY = {"model.loss", "model.spectral_norm", "train.lr_d", "train.n_critic", "train.gp_weight"}
VAE_ONLY = {"model.beta"}
INVALID_STYLE = "border: 2px solid #d62728; border-radius: 3px;"


class ModelTab(QWidget):
    configChanged = Signal()  # any edit; ``error_text`` says whether it is valid
    dataConfigLoaded = Signal(object)  # DataConfig from a loaded TOML file
    errorOccurred = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.fields: dict[str, QWidget] = {}
        self.labels: dict[str, QLabel] = {}
        self._families: dict[str, Any] = {}  # name -> registry Family (after the engine loads)
        self._data = C.DataConfig()
        self._loading = False
        self.error_text = ""

        self.preset = QComboBox()
        self.preset.addItems(list(PRESETS))
        self.preset.setToolTip("Named starting configurations that train well on mnist-5k on a CPU")
        self.preset.activated.connect(lambda _i: self.apply_preset(self.preset.currentText()))
        self.save_button = QPushButton("Save config…")
        self.load_button = QPushButton("Load config…")
        self.save_button.clicked.connect(self._save_dialog)
        self.load_button.clicked.connect(self._load_dialog)
        top = QHBoxLayout()
        top.addWidget(QLabel("Preset"))
        top.addWidget(self.preset)
        top.addStretch(1)
        top.addWidget(self.load_button)
        top.addWidget(self.save_button)

        self.validation = QLabel()
        self.validation.setObjectName("validation")
        self.validation.setWordWrap(True)
        self.dataset_label = QLabel()
        self.dataset_label.setWordWrap(True)

        columns = QHBoxLayout()
        left = QVBoxLayout()
        left.addWidget(self._group("Model", MODEL_FIELDS))
        left.addWidget(self._group("Run", RUN_FIELDS))
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(self._group("Optimisation", OPTIM_FIELDS))
        right.addStretch(1)
        columns.addLayout(left, 1)
        columns.addLayout(right, 1)

        body = QWidget()
        body_layout = QVBoxLayout(body)
        body_layout.addLayout(top)
        body_layout.addWidget(self.dataset_label)
        body_layout.addLayout(columns)
        body_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.validation)

        family = self.fields["model.family"]
        family.currentIndexChanged.connect(self._on_family)
        self.set_config(PRESETS[DEFAULT_PRESET])
        self.preset.setCurrentText(DEFAULT_PRESET)

    # -- building -----------------------------------------------------------------------
    def _group(self, title: str, specs: list[tuple]) -> QGroupBox:
        box = QGroupBox(title)
        form = QFormLayout(box)
        for section, key, label, kind, choices in specs:
            name = f"{section}.{key}"
            widget = self._make_field(kind, choices)
            widget.setObjectName(name)
            widget.setToolTip(name)
            text = QLabel(label)
            text.setToolTip(name)
            form.addRow(text, widget)
            self.fields[name] = widget
            self.labels[name] = text
        return box

    def _make_field(self, kind: str, choices: Any) -> QWidget:
        if kind == "combo":
            combo = QComboBox()
            for choice in choices or ():
                combo.addItem(str(choice), choice)
            combo.currentIndexChanged.connect(self._changed)
            return combo
        if kind == "int":
            spin = QSpinBox()
            spin.setRange(0, INT_MAX)
            spin.setGroupSeparatorShown(True)
            spin.valueChanged.connect(self._changed)
            return spin
        if kind == "bool":
            check = QCheckBox()
            check.toggled.connect(self._changed)
            return check
        edit = QLineEdit()
        edit.textChanged.connect(self._changed)
        return edit

    def set_families(self, families: dict[str, Any]) -> None:
        """Fill the family list from the model registry (new families appear here)."""
        self._families = dict(families)
        combo: QComboBox = self.fields["model.family"]
        current = combo.currentData()
        self._loading = True
        combo.clear()
        for name, family in self._families.items():
            combo.addItem(f"{family.title} ({name})", name)
        self._loading = False
        index = combo.findData(current)
        combo.setCurrentIndex(max(index, 0))
        self._on_family()

    # -- values -------------------------------------------------------------------------
    def set_data_config(self, data: C.DataConfig) -> None:
        self._data = data
        self.dataset_label.setText(
            f"Dataset: <b>{data.dataset}</b> (choose it, its size and augmentation in the Dataset tab)"
        )
        self._changed()

    def set_config(self, cfg: C.Config) -> None:
        """Show a config's model and train sections (the data section goes to the Dataset tab)."""
        self._loading = True
        try:
            values = {**_flat("model", cfg.model), **_flat("train", cfg.train)}
            self._set_value("model.family", values.pop("model.family"))
            self._fill_archs(cfg.model.family)
            for name, value in values.items():
                if name in self.fields:
                    self._set_value(name, value)
        finally:
            self._loading = False
        self._update_enabled()
        self.set_data_config(cfg.data)

    def apply_preset(self, name: str) -> None:
        self.set_config(dataclasses.replace(PRESETS[name], data=self._data))

    def raw_values(self) -> dict[str, dict[str, Any]]:
        """The form as nested plain values; ConfigError names a field that is not a number."""
        out: dict[str, dict[str, Any]] = {"model": {}, "train": {}}
        for name, widget in self.fields.items():
            section, key = name.split(".")
            out[section][key] = self._get_value(name, widget)
        return out

    def config(self) -> C.Config:
        """The validated Config (with the Dataset tab's data section); raises ConfigError."""
        raw = self.raw_values()
        raw["data"] = dataclasses.asdict(self._data)
        return C.config_from_dict(raw)

    def validate(self) -> str:
        """Validate now, show the result inline, return the message ("" when valid)."""
        for name, widget in self.fields.items():
            widget.setStyleSheet("")
            self.labels[name].setStyleSheet("")
        try:
            self.config()
        except C.ConfigError as exc:
            message = str(exc)
        else:
            message = ""
        self.error_text = message
        if message:
            self.validation.setText(f"⚠ {message}")
            self.validation.setStyleSheet("color: #b00020; font-weight: bold;")
            match = FIELD_RE.search(message)
            if match and match.group(1) in self.fields:
                self.fields[match.group(1)].setStyleSheet(INVALID_STYLE)
                self.labels[match.group(1)].setStyleSheet("color: #b00020;")
        else:
            self.validation.setText("✓ Configuration is valid")
            self.validation.setStyleSheet("color: #2e7d32;")
        return message

    def _get_value(self, name: str, widget: QWidget) -> Any:
        if isinstance(widget, QComboBox):
            return widget.currentData()
        if isinstance(widget, QSpinBox):
            return widget.value()
        if isinstance(widget, QCheckBox):
            return widget.isChecked()
        text = widget.text().strip()
        try:
            return float(text)
        except ValueError:
            raise C.ConfigError(f"{name} must be a number, got {text!r}") from None

    def _set_value(self, name: str, value: Any) -> None:
        widget = self.fields[name]
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
        else:
            widget.setText(f"{value:g}")

    # -- reactions ------------------------------------------------------------------------
    def _on_family(self, *_args: Any) -> None:
        if self._loading:
            return
        family = self.fields["model.family"].currentData()
        if family:
            self._loading = True
            self._fill_archs(family)
            self._loading = False
        self._update_enabled()
        self._changed()

    def _fill_archs(self, family: str) -> None:
        combo: QComboBox = self.fields["model.arch"]
        current = combo.currentData()
        archs = self._families[family].archs if family in self._families else C.ARCHS.get(family, ())
        combo.clear()
        for arch in archs:
            combo.addItem(arch, arch)
        index = combo.findData(current)
        combo.setCurrentIndex(index if index >= 0 else 0)

    def _kind(self) -> str:
        family = self.fields["model.family"].currentData() or ""
        if family in self._families:
            return self._families[family].kind
        return "vae" if "vae" in family else "gan"

    def _update_enabled(self) -> None:
        kind = self._kind()
        for name in GAN_ONLY:
            self.fields[name].setEnabled(kind == "gan")
            self.labels[name].setEnabled(kind == "gan")
        for name in VAE_ONLY:
            self.fields[name].setEnabled(kind == "vae")
            self.labels[name].setEnabled(kind == "vae")

    def _changed(self, *_args: Any) -> None:
        if self._loading:
            return
        self.validate()
        self.configChanged.emit()

    # -- files ----------------------------------------------------------------------------
    def save_to(self, path: str | Path) -> None:
        C.save_config(self.config(), path)

    def load_from(self, path: str | Path) -> C.Config:
        cfg = C.load_config(path)
        self.set_config(cfg)
        self.dataConfigLoaded.emit(cfg.data)
        return cfg

    def _save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save config", "config.toml", "TOML config (*.toml)")
        if path:
            try:
                self.save_to(path)
            except (C.ConfigError, OSError) as exc:
                self.errorOccurred.emit(str(exc))

    def _load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load config", "", "TOML config (*.toml);;All files (*)")
        if path:
            try:
                self.load_from(path)
            except C.ConfigError as exc:
                self.errorOccurred.emit(str(exc))


def _flat(section: str, obj: Any) -> dict[str, Any]:
    return {f"{section}.{k}": v for k, v in dataclasses.asdict(obj).items()}
