"""Search spaces: which config fields a hyperparameter search varies, and over what.

A space is a TOML file with one table per field, named by its config key::

    [train.lr]
    lo = 1e-5
    hi = 1e-2
    log = true

    [model.latent_dim]
    choices = [32, 64, 128]

Every entry is checked against the field's own metadata (studio.core.fields): the range
must lie inside the field's lo/hi, choices must be among the field's choices (or inside
its range), ``log`` needs a positive range. A bad entry is a ConfigError naming it.
Without a file, ``default_space`` derives one from the base config: each field marked
``log=True`` over a decade either side of its value, plus the family's ``search_space``.

Torch- and Optuna-free: the Search tab builds its form from this before torch loads.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from studio.core.config import Config, config_from_dict
from studio.core.fields import ConfigError, FieldSpec, field_specs

OPTIONS = ("lo", "hi", "log", "choices")
SECTIONS = ("model", "train", "data", "data.augment")
# Settings of a run, not of the model it learns: a search never varies them.
NOT_SEARCHED = {"train.steps": "the trial budget is --steps (steps per trial), not a hyperparameter"}
RUN_GROUPS = ("Run", "Start")


@dataclass(frozen=True)
class Param:
    """One searched field: a range (``lo``..``hi``, optionally log) or a list of choices."""

    name: str  # the config key, e.g. "train.lr"
    lo: float | None = None
    hi: float | None = None
    log: bool = False
    choices: tuple[Any, ...] | None = None
    integer: bool = False

    def suggest(self, trial: Any) -> Any:
        """The value an Optuna trial draws for this field."""
        if self.choices is not None:
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.integer:
            return trial.suggest_int(self.name, int(self.lo), int(self.hi), log=self.log)
        return trial.suggest_float(self.name, float(self.lo), float(self.hi), log=self.log)

    def entry(self) -> dict[str, Any]:
        if self.choices is not None:
            return {"choices": list(self.choices)}
        entry: dict[str, Any] = {"lo": self.lo, "hi": self.hi}
        if self.log:
            entry["log"] = True
        return entry

    def describe(self) -> str:
        if self.choices is not None:
            return f"{self.name} in {{{', '.join(map(str, self.choices))}}}"
        return f"{self.name} in [{self.lo:g}, {self.hi:g}]{' (log)' if self.log else ''}"


SearchSpace = tuple[Param, ...]


# -- reading ------------------------------------------------------------------------------
def load_space(path: str | Path, base: Config) -> SearchSpace:
    """A space TOML checked against ``base``'s fields; ConfigError names the file and entry."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8").removeprefix("\ufeff"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the search space ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return space_from_dict(raw, base, source=str(path))


def space_from_toml(text: str, base: Config, source: str = "space") -> SearchSpace:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None
    return space_from_dict(raw, base, source)


def space_from_dict(raw: Mapping[str, Any], base: Config, source: str = "space") -> SearchSpace:
    entries = flatten_entries(raw)
    if not entries:
        raise ConfigError(f"{source}: the search space is empty; name at least one field, e.g. [train.lr]")
    try:
        return tuple(parse_entry(name, entry, base) for name, entry in entries.items())
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def flatten_entries(raw: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"train": {"lr": {...}}} -> {"train.lr": {...}}; a quoted "train.lr" key works too."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and name in SECTIONS:
            out.update(flatten_entries(value, name + "."))
        else:
            out[name] = value
    return out


def parse_entry(name: str, entry: Any, base: Config) -> Param:
    """One entry as a Param, checked against the field's metadata; ConfigError names it."""
    meta, value = resolve_field(name, base)
    where = f"search space entry {name}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a table with lo/hi (and log) or choices, got {entry!r}")
    unknown = sorted(set(entry) - set(OPTIONS))
    if unknown:
        raise ConfigError(f"{where}: unknown option {unknown[0]!r}; expected {', '.join(OPTIONS)}")
    if "choices" in entry:
        if set(entry) - {"choices"}:
            raise ConfigError(f"{where}: give either choices or lo/hi, not both")
        return Param(name, choices=_check_choices(where, entry["choices"], meta, value))
    if meta.choices is not None or isinstance(value, bool):
        allowed = meta.choices if meta.choices is not None else (True, False)
        raise ConfigError(f"{where}: the field takes choices ({', '.join(map(str, allowed))}), not a range")
    if not _numeric(value):
        raise ConfigError(f"{where}: {name} is not a number or a choice; a search cannot vary it")
    return _range_param(name, where, entry, meta, isinstance(value, int))


def resolve_field(name: str, base: Config) -> tuple[FieldSpec, Any]:
    """The field's metadata and its value in ``base``; ConfigError for a field a search cannot vary."""
    section_name, _, key = name.rpartition(".")
    sections = {"model": base.model, "train": base.train, "data.augment": base.data.augment}
    if section_name == "data":
        raise ConfigError(f"search space entry {name}: every trial trains on the same data; "
                          "search model.*, train.* or data.augment.* fields")
    if name in NOT_SEARCHED:
        raise ConfigError(f"search space entry {name}: {NOT_SEARCHED[name]}")
    section = sections.get(section_name)
    if section is None:
        raise ConfigError(f"search space entry {name}: unknown field; name it as model.<field>, "
                          "train.<field> or data.augment.<field>")
    specs = field_specs(section)
    if key not in specs:
        known = ", ".join(k for k, m in specs.items() if _searchable(m, getattr(section, k)))
        owner = f"the {base.model.family} model" if section_name == "model" else f"[{section_name}]"
        raise ConfigError(f"search space entry {name}: unknown field of {owner}; searchable: {known}")
    meta = specs[key]
    if meta.group in RUN_GROUPS:
        raise ConfigError(f"search space entry {name}: a run setting ({meta.label}), not a hyperparameter")
    return meta, getattr(section, key)


def _check_choices(where: str, choices: Any, meta: FieldSpec, value: Any) -> tuple[Any, ...]:
    if not isinstance(choices, list) or len(choices) < 1:
        raise ConfigError(f"{where}: choices must be a non-empty list, got {choices!r}")
    if len(set(map(repr, choices))) != len(choices):
        raise ConfigError(f"{where}: choices repeat a value: {choices!r}")
    if meta.choices is not None or isinstance(value, bool):
        allowed = meta.choices if meta.choices is not None else (True, False)
        bad = [c for c in choices if c not in allowed or type(c) is not type(value)]
        if bad:
            raise ConfigError(f"{where}: {bad[0]!r} is not one of the field's choices "
                              f"({', '.join(map(str, allowed))})")
        return tuple(choices)
    if not _numeric(value):
        raise ConfigError(f"{where}: the field is not a number or a choice; a search cannot vary it")
    for c in choices:
        _check_number(where, "choice", c, meta, isinstance(value, int))
    return tuple(float(c) if isinstance(value, float) else c for c in choices)


def _range_param(name: str, where: str, entry: dict[str, Any], meta: FieldSpec, integer: bool) -> Param:
    if "lo" not in entry or "hi" not in entry:
        raise ConfigError(f"{where} needs lo and hi (or choices)")
    lo = _check_number(where, "lo", entry["lo"], meta, integer)
    hi = _check_number(where, "hi", entry["hi"], meta, integer)
    if lo >= hi:
        raise ConfigError(f"{where}: lo ({lo:g}) must be below hi ({hi:g})")
    log = entry.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"{where}: log must be true or false, got {log!r}")
    if log and lo <= 0:
        raise ConfigError(f"{where}: a log scale needs a positive range, got lo = {lo:g}")
    return Param(name, lo, hi, log, integer=integer)


def _check_number(where: str, what: str, v: Any, meta: FieldSpec, integer: bool) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not isinstance(v, int)):
        kind = "a whole number" if integer else "a number"
        raise ConfigError(f"{where}: {what} must be {kind}, got {v!r}")
    if not math.isfinite(v):
        raise ConfigError(f"{where}: {what} must be finite, got {v!r}")
    if (meta.lo is not None and v < meta.lo) or (meta.hi is not None and v > meta.hi):
        raise ConfigError(f"{where}: {what} {v:g} is outside the field's range {_bounds(meta)}")
    return v


def _bounds(meta: FieldSpec) -> str:
    lo = "-∞" if meta.lo is None else f"{meta.lo:g}"
    hi = "∞" if meta.hi is None else f"{meta.hi:g}"
    return f"[{lo}, {hi}]"


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _searchable(meta: FieldSpec, value: Any) -> bool:
    return meta.group not in RUN_GROUPS and (meta.choices is not None or isinstance(value, bool) or _numeric(value))


# -- defaults and the form -----------------------------------------------------------------
def searchable_fields(base: Config) -> dict[str, tuple[FieldSpec, Any]]:
    """Config key -> (metadata, value in ``base``) of each numeric field a search may vary
    (what the Search tab's form offers), the family's fields first."""
    out: dict[str, tuple[FieldSpec, Any]] = {}
    for prefix, section in (("model", base.model), ("train", base.train)):
        for key, meta in field_specs(section).items():
            name = f"{prefix}.{key}"
            value = getattr(section, key)
            if (meta.group and meta.group not in RUN_GROUPS and meta.choices is None and _numeric(value)
                    and name not in NOT_SEARCHED and meta.applies(section)):
                out[name] = (meta, value)
    return out


def around(value: float, meta: FieldSpec, integer: bool, log: bool) -> tuple[float, float]:
    """A default range about ``value``: a decade either side on a log scale, else x0.5..x2
    (0..1 about a zero), clipped to the field's own range."""
    if log and value > 0:
        lo, hi = value / 10, value * 10
    elif value > 0:
        lo, hi = value / 2, value * 2
    else:
        lo, hi = 0.0, 1.0
    if integer:
        lo, hi = math.floor(lo), math.ceil(hi)
    else:  # three figures read better in a form and a file
        lo, hi = float(f"{lo:.3g}"), float(f"{hi:.3g}")
    lo = max(lo, meta.lo) if meta.lo is not None else lo  # clipped after rounding: 0.99999 stays
    hi = min(hi, meta.hi) if meta.hi is not None else hi
    return (int(lo), int(hi)) if integer else (lo, hi)


def default_space(base: Config) -> SearchSpace:
    """Each log-scale field of the base config a decade either side of its value, plus the
    family's declared ``search_space`` (checked like a file's entries)."""
    entries: dict[str, Any] = {}
    for name, (meta, value) in searchable_fields(base).items():
        if meta.log and value > 0:
            lo, hi = around(value, meta, isinstance(value, int), log=True)
            entries[name] = {"lo": lo, "hi": hi, "log": True}
    entries.update({k: dict(v) for k, v in base.family.search_space.items()})
    return space_from_dict(entries, base, source=f"the default search space of {base.model.family}")


def space_to_dict(space: SearchSpace) -> dict[str, Any]:
    """Nested tables as a space file has them ({"train": {"lr": {...}}})."""
    out: dict[str, Any] = {}
    for param in space:
        *path, key = param.name.split(".")
        table = out
        for part in path:
            table = table.setdefault(part, {})
        table[key] = param.entry()
    return out


def space_to_toml(space: SearchSpace) -> str:
    return tomli_w.dumps(space_to_dict(space))


# -- applying ------------------------------------------------------------------------------
def apply_params(base: Config, params: Mapping[str, Any], **train: Any) -> Config:
    """``base`` with each searched field (by config key) set, and ``train`` overrides; validated."""
    raw = base.to_dict()
    for name, value in params.items():
        *path, key = name.split(".")
        table = raw
        for part in path:
            table = table[part]
        table[key] = value
    raw["train"].update(train)
    return config_from_dict(raw)

