"""Model tab: family, architecture and every training setting, with presets, inline
validation and TOML save/load (the same file ``latent-studio train --config`` takes).

The form is built from the config's field metadata (studio.core.fields): one widget per
field of every registered family's [model] section and of [train], labelled, with the
field's help as its tooltip, in the box its metadata names. Fields the chosen family
does not have are hidden, and fields that do not apply (a penalty weight under another
loss) are disabled. A family registered later (``set_families``) brings its fields.

Validation is the engine's own (``Config.validate`` via ``config_from_dict``), so the
message names the field and its allowed range exactly as the CLI would; the widget of
that field is outlined in red. Spin boxes deliberately allow values beyond the valid
range so that the message, not a silently clamped number, tells the user the limits.

On a wide window (WIDE_PX and more) each field's help shows beside it, so the form uses
the width instead of stretching every box across it; narrower, the help is a tooltip.

The family's objective is drawn as a formula (matplotlib's mathtext, widgets/formula.py).
Under "Start from a checkpoint" the family's freeze presets are check boxes kept in step
with the Freeze field: checking one writes its name there, and ``config()`` expands the
names to their parameter prefixes (``Family.freeze_prefixes``, as `latent-studio
finetune --freeze` does), so the config saved or trained holds prefixes only; a config
whose prefixes are exactly some presets' shows their names again.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from studio.core import config as C
from studio.core.families import FAMILIES
from studio.core.fields import FieldSpec, field_specs
from studio.core.presets import DEFAULT_PRESET, PRESETS, all_presets
from studio.ui.widgets.config_field import make_field, read_field, write_field
from studio.ui.widgets.formula import FormulaLabel
from studio.ui.widgets.freeze_picker import FreezePicker

FIELD_RE = re.compile(r"\b((?:data|model|train)\.[a-z_]+(?:\.[a-z_]+)?)")
GROUPS = ("Model", "Optimisation", "Run", "Start")
GROUP_TITLES = {"Start": "Start from a checkpoint (fine-tuning)"}
INVALID_STYLE = "border: 2px solid #d62728; border-radius: 3px;"
WIDE_PX = 1400  # from this tab width on, help texts beside the fields
WIDE_FIELD_PX = 240  # a field's width then (the help text takes the rest)
HELP_STYLE = "color: #555;"


class ModelTab(QWidget):
    configChanged = Signal()  # any edit; ``error_text`` says whether it is valid
    dataConfigLoaded = Signal(object)  # DataConfig from a loaded TOML file
    errorOccurred = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.fields: dict[str, QWidget] = {}
        self.labels: dict[str, QLabel] = {}
        self.specs: dict[str, FieldSpec] = {}
        self.helps: dict[str, QLabel] = {}  # each field's help, shown beside it when wide
        self._rows: dict[str, QWidget] = {}  # the row's field column (the widget and its help)
        self.wide = False
        self._families: dict[str, Any] = {}
        self._section: type | None = None  # the [model] dataclass the form shows now
        self._data = C.DataConfig()
        self._data_problem = ""  # the Dataset tab's: the dataset is not on disk, say
        self._loading = False
        self.error_text = ""

        self.preset = QComboBox()
        self.preset.setToolTip("Named starting configurations that train well on mnist-5k on a CPU")
        self.preset.activated.connect(lambda _i: self.apply_preset(self.preset.currentText()))
        self.preset_note = QLabel()
        self.preset_note.setWordWrap(True)
        self.save_button = QPushButton("Save config…")
        self.load_button = QPushButton("Load config…")
        self.save_button.clicked.connect(self._save_dialog)
        self.load_button.clicked.connect(self._load_dialog)
        top = QHBoxLayout()
        top.addWidget(QLabel("Preset"))
        top.addWidget(self.preset)
        top.addWidget(self.preset_note, 1)
        top.addWidget(self.load_button)
        top.addWidget(self.save_button)

        self.validation = QLabel()
        self.validation.setObjectName("validation")
        self.validation.setWordWrap(True)
        self.dataset_label = QLabel()
        self.dataset_label.setWordWrap(True)
        self.objective = QLabel()  # the family's title and description
        self.objective.setWordWrap(True)
        self.objective.setObjectName("objective")
        self.formula = FormulaLabel()
        self.formula.setObjectName("formula")
        self.formula_title = QLabel("Objective:")
        formula_row = QHBoxLayout()
        formula_row.addWidget(self.formula_title)
        formula_row.addWidget(self.formula, 1)
        self.freeze_picker = FreezePicker()
        self.freeze_picker.setObjectName("freeze-presets")
        self.freeze_picker.toggled.connect(self._on_freeze_preset)

        self.forms: dict[str, QFormLayout] = {}
        boxes = {}
        for group in GROUPS:
            box = QGroupBox(GROUP_TITLES.get(group, group))
            self.forms[group] = QFormLayout(box)
            boxes[group] = box
        family = QComboBox()
        family.setObjectName("model.family")
        family.setToolTip("The kind of generative model (model.family)")
        family.currentIndexChanged.connect(self._on_family)
        self._add_row("Model", "model.family", QLabel("Family"), family)

        columns = QHBoxLayout()
        left = QVBoxLayout()
        left.addWidget(boxes["Model"])
        left.addWidget(boxes["Run"])
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(boxes["Optimisation"])
        right.addWidget(boxes["Start"])
        right.addStretch(1)
        columns.addLayout(left, 1)
        columns.addLayout(right, 1)

        body = QWidget()
        body_layout = QVBoxLayout(body)
        body_layout.addLayout(top)
        body_layout.addWidget(self.dataset_label)
        body_layout.addWidget(self.objective)
        body_layout.addLayout(formula_row)
        body_layout.addLayout(columns)
        body_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.validation)

        self.set_families(FAMILIES)
        self.set_config(PRESETS[DEFAULT_PRESET])
        self.preset.setCurrentText(DEFAULT_PRESET)
        self._show_preset_note(DEFAULT_PRESET)

    # -- building -----------------------------------------------------------------------
    def _add_row(self, group: str, name: str, label: QLabel, widget: QWidget, help_text: str = "") -> None:
        row = QWidget()
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(widget, 1)
        if help_text:
            help_label = QLabel(help_text)
            help_label.setStyleSheet(HELP_STYLE)
            help_label.setWordWrap(True)
            help_label.setVisible(self.wide)
            line.addWidget(help_label, 1)
            self.helps[name] = help_label
        else:
            line.addStretch(0)  # grows only once the field is capped (wide)
        self.forms[group].addRow(label, row)
        self.fields[name] = widget
        self.labels[name] = label
        self._rows[name] = row

    def _add_fields(self, section: str, cls: type) -> None:
        """A row for each described field of ``cls`` not shown yet (first declaration wins)."""
        for key, meta in field_specs(cls).items():
            name = f"{section}.{key}"
            if name in self.fields or meta.group not in self.forms:
                continue
            widget = make_field(meta, getattr(cls(), key), self._changed)
            widget.setObjectName(name)
            tip = f"{meta.help}\n({name})" if meta.help else name
            widget.setToolTip(tip)
            text = QLabel(meta.label)
            text.setToolTip(tip)
            self.specs[name] = meta
            self._add_row(meta.group, name, text, widget, meta.help)

    def set_families(self, families: dict[str, Any]) -> None:
        """Fill the family list from the model registry (new families and their fields appear)."""
        self._families = dict(families)
        for family in self._families.values():
            self._add_fields("model", family.section)
        self._add_fields("train", C.TrainConfig)
        if self.freeze_picker.parent() is None:  # once, under the Freeze field
            freeze = self.fields["train.freeze"]
            freeze.setToolTip(f"{freeze.toolTip()}\nor the names of the family's freeze presets (below)")
            freeze.textChanged.connect(lambda text: self.freeze_picker.set_names(text.split(",")))
            label = QLabel("Freeze presets")
            label.setToolTip("Named groups of parameters of this family; hover one to see its prefixes")
            self.forms["Start"].addRow(label, self.freeze_picker)
        combo: QComboBox = self.fields["model.family"]
        current = combo.currentData()
        self._loading = True
        combo.clear()
        for name, family in self._families.items():
            combo.addItem(f"{family.title} ({name})", name)
        self._loading = False
        index = combo.findData(current)
        combo.setCurrentIndex(max(index, 0))
        chosen = self.preset.currentText()
        self.preset.clear()
        self.preset.addItems(list(all_presets()))
        if chosen:
            self.preset.setCurrentText(chosen)
        self._on_family()

    # -- values -------------------------------------------------------------------------
    def set_data_config(self, data: C.DataConfig) -> None:
        self._data = data
        self.dataset_label.setText(
            f"Dataset: <b>{data.dataset}</b> (choose it, its size and augmentation in the Dataset tab)"
        )
        self._changed()

    def set_data_problem(self, problem: str) -> None:
        """Why the selected dataset cannot be trained on ("" when it can), shown with the
        validation: a valid form is not enough when the data is not on disk."""
        if problem != self._data_problem:
            self._data_problem = problem
            self.validate()

    def set_config(self, cfg: C.Config) -> None:
        """Show a config's model and train sections (the data section goes to the Dataset tab)."""
        self._loading = True
        try:
            values = {**_flat("model", cfg.model), **_flat("train", cfg.train)}
            write_field(self.fields["model.family"], values.pop("model.family"))
            self._fill_choices(cfg.model.family)
            self._section = type(cfg.model)
            family = self._families.get(cfg.model.family)
            if family is not None:
                values["train.freeze"] = _preset_names(family, cfg.train.freeze)
            for name, value in values.items():
                if name in self.fields:
                    write_field(self.fields[name], value)
        finally:
            self._loading = False
        self._update_enabled()
        self.set_data_config(cfg.data)

    def apply_preset(self, name: str) -> None:
        self.set_config(dataclasses.replace(PRESETS[name], data=self._data))
        self._show_preset_note(name)

    def _show_preset_note(self, name: str) -> None:
        preset = all_presets().get(name)
        self.preset_note.setText(preset.description if preset else "")

    def _section_keys(self) -> list[str]:
        family = self._families.get(self.fields["model.family"].currentData() or "")
        return [f.name for f in dataclasses.fields(family.section)] if family else []

    def raw_values(self) -> dict[str, dict[str, Any]]:
        """The form as nested plain values (the chosen family's fields only); ConfigError
        names a field that is not a number."""
        out: dict[str, dict[str, Any]] = {"model": {"family": self.fields["model.family"].currentData()}, "train": {}}
        keys = set(self._section_keys())
        for name, widget in self.fields.items():
            section, key = name.split(".")
            if name == "model.family" or (section == "model" and key not in keys):
                continue
            out[section][key] = read_field(widget, name, self._default(name))
        family = self._families.get(out["model"]["family"] or "")
        if family is not None and out["train"].get("freeze"):
            out["train"]["freeze"] = list(family.freeze_prefixes(out["train"]["freeze"]))
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
        if not message and self._data_problem:
            message = self._data_problem
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

    def _default(self, name: str) -> Any:
        """The field's default in its section (its type says how to read the text)."""
        section, key = name.split(".", 1)
        cls = C.TrainConfig if section == "train" else self._section
        return getattr(cls(), key, 0.0) if cls is not None else 0.0

    # -- reactions ------------------------------------------------------------------------
    def _on_family(self, *_args: Any) -> None:
        if self._loading:
            return
        family = self.fields["model.family"].currentData()
        if family:
            self._loading = True
            self._drop_freeze_presets(family)
            self._fill_choices(family)
            self._start_section(family)
            self._loading = False
        self._update_enabled()
        self._changed()

    def _start_section(self, family: str) -> None:
        """A family of another section starts from its own first preset's [model] values
        (the previous family's sizes may be out of its ranges); gan <-> cgan keep theirs."""
        fam = self._families.get(family)
        if fam is None or fam.section is self._section:
            self._section = fam.section if fam else None
            return
        self._section = fam.section
        model = fam.presets[0].config.model if fam.presets else fam.section(family=family)
        for key, value in dataclasses.asdict(model).items():
            if key != "family" and f"model.{key}" in self.fields:
                write_field(self.fields[f"model.{key}"], value)

    def _fill_choices(self, family: str) -> None:
        """The family's own label, help and choices on each shared field (families name
        fields alike only with the same kind of value: studio.core.families.register)."""
        fam = self._families.get(family)
        if fam is None:
            return
        for key, meta in field_specs(fam.section).items():
            name = f"model.{key}"
            combo = self.fields.get(name)
            if name in self.labels:
                self.specs[name] = meta
                self.labels[name].setText(meta.label)
                tip = f"{meta.help}\n({name})" if meta.help else name
                self.labels[name].setToolTip(tip)
                combo.setToolTip(tip)
                if name in self.helps:
                    self.helps[name].setText(meta.help)
            if meta.choices is None or not isinstance(combo, QComboBox):
                continue
            current = combo.currentData()
            combo.clear()
            for choice in meta.choices:
                combo.addItem(str(choice), choice)
            index = combo.findData(current)
            combo.setCurrentIndex(index if index >= 0 else 0)
        self.objective.setText(f"<b>{fam.title}</b>: {fam.description}")
        self.formula.set_formula(fam.objective)
        self.formula_title.setVisible(bool(fam.objective))
        self.formula.setVisible(bool(fam.objective))
        if self.freeze_picker.family != family:
            self.freeze_picker.set_presets(family, fam.freeze_presets)
            self.freeze_picker.set_names(self.fields["train.freeze"].text().split(","))

    def _on_freeze_preset(self, name: str, checked: bool) -> None:
        """A preset checked or unchecked: its name added to or removed from the Freeze field."""
        edit: QLineEdit = self.fields["train.freeze"]
        entries = [e.strip() for e in edit.text().split(",") if e.strip()]
        if checked and name not in entries:
            entries.append(name)
        elif not checked:
            entries = [e for e in entries if e != name]
        edit.setText(", ".join(entries))

    def _drop_freeze_presets(self, family: str) -> None:
        """Leaving a family: its preset names in the Freeze field go unless the new family
        has presets of the same names (gan <-> cgan)."""
        old = self._families.get(self.freeze_picker.family)
        new = self._families.get(family)
        if old is None or new is None or old is new:
            return
        edit: QLineEdit = self.fields["train.freeze"]
        entries = [e.strip() for e in edit.text().split(",") if e.strip()]
        kept = [e for e in entries if e not in old.freeze_presets or e in new.freeze_presets]
        if kept != entries:
            edit.setText(", ".join(kept))

    def _update_enabled(self) -> None:
        """Hide the fields the family has not; disable those that do not apply now."""
        keys = set(self._section_keys())
        family = self._families.get(self.fields["model.family"].currentData() or "")
        current = None
        if family is not None:
            try:
                current = self.config().model
            except C.ConfigError:
                current = None
        for name, meta in self.specs.items():
            section, key = name.split(".")
            if section != "model":
                continue
            present = key in keys
            applies = present and (current is None or meta.applies(current))
            for widget in (self.fields[name], self.labels[name], self._rows[name]):
                widget.setVisible(present)
                widget.setEnabled(applies)

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self.set_wide(self.width() >= WIDE_PX)

    def set_wide(self, wide: bool) -> None:
        """Help texts beside the fields (wide) or in their tooltips only."""
        if wide == self.wide:
            return
        self.wide = wide
        for widget in self.fields.values():
            widget.setMaximumWidth(WIDE_FIELD_PX if wide else 16_777_215)
        for label in self.helps.values():
            label.setVisible(wide)

    def _changed(self, *_args: Any) -> None:
        if self._loading:
            return
        self._update_enabled()
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


def _preset_names(family: Any, prefixes: tuple[str, ...]) -> list[str]:
    """``prefixes`` with each run of a preset's exact prefixes shown as its name, when
    the names expand back to the very same prefixes (else the prefixes as they are)."""
    out, rest = [], list(prefixes)
    while rest:
        for name, group in family.freeze_presets.items():
            if tuple(rest[:len(group)]) == tuple(group):
                out.append(name)
                rest = rest[len(group):]
                break
        else:
            out.append(rest.pop(0))
    try:
        same = family.freeze_prefixes(out) == tuple(prefixes)
    except C.ConfigError:
        same = False
    return out if same else list(prefixes)


def _flat(section: str, obj: Any) -> dict[str, Any]:
    return {f"{section}.{k}": v for k, v in dataclasses.asdict(obj).items()}
