"""Config fields that describe themselves: range, log scale, choices, label and help.

One declaration per field drives three things: ``validate_section`` (the engine's
checks, whose messages name the field), the Model tab's form (a widget per field, its
label, tooltip and which fields apply) and search spaces (a range is checked against
the field's own). Torch-free: the window imports this before torch is loaded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class ConfigError(ValueError):
    """A config value is missing, unknown or out of range; the message names the field."""


@dataclass(frozen=True)
class FieldSpec:
    label: str
    help: str = ""
    lo: float | None = None
    hi: float | None = None
    log: bool = False  # a search space samples it on a log scale; the form shows it as such
    choices: tuple[Any, ...] | None = None
    # The field only matters when another field of the same section has one of these
    # values, e.g. {"loss": ("wgan-gp",)}: the form disables it otherwise.
    when: Mapping[str, tuple[Any, ...]] | None = None
    group: str = ""  # the form's box ("Model", "Optimisation", "Run"); "" = hidden from the form

    def applies(self, section: Any) -> bool:
        if not self.when:
            return True
        return all(getattr(section, k) in v for k, v in self.when.items())


def spec(default: Any, label: str, help: str = "", *, lo: float | None = None, hi: float | None = None,
         log: bool = False, choices: tuple[Any, ...] | None = None,
         when: Mapping[str, tuple[Any, ...]] | None = None, group: str = "Model") -> Any:
    """A dataclass field with its FieldSpec in the metadata (``dataclasses.field``)."""
    meta = FieldSpec(label, help, lo, hi, log, tuple(choices) if choices is not None else None, when, group)
    if isinstance(default, (list, dict, set)):
        raise TypeError("config fields are immutable: use a tuple")
    return dataclasses.field(default=default, metadata={"spec": meta})


def field_spec(cls_or_obj: Any, name: str) -> FieldSpec | None:
    for f in dataclasses.fields(cls_or_obj):
        if f.name == name:
            return f.metadata.get("spec")
    return None


def field_specs(cls_or_obj: Any) -> dict[str, FieldSpec]:
    """Name -> FieldSpec for every described field of a config dataclass, in order."""
    return {f.name: f.metadata["spec"] for f in dataclasses.fields(cls_or_obj) if "spec" in f.metadata}


def validate_section(section: Any, prefix: str) -> None:
    """Check every described field against its choices and range; ConfigError names it."""
    for name, meta in field_specs(section).items():
        value = getattr(section, name)
        full = f"{prefix}.{name}"
        if meta.choices is not None:
            check_choice(full, value, meta.choices)
        elif meta.lo is not None or meta.hi is not None:
            check_range(full, value, meta.lo, meta.hi)


# Messages name the field by its config key, as the TOML and the CLI spell it; the
# window maps the key to the label its form shows (FieldSpec.label).
def check_choice(name: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(map(str, allowed))}; got {value!r}")


def check_range(name: str, value: float, lo: float | None, hi: float | None) -> None:
    lo_ok = lo is None or value >= lo
    hi_ok = hi is None or value <= hi
    if lo_ok and hi_ok:
        return
    if lo is not None and hi is not None:
        raise ConfigError(f"{name} must be between {lo:g} and {hi:g}, got {value!r}")
    bound = f"at least {lo:g}" if lo is not None else f"at most {hi:g}"
    raise ConfigError(f"{name} must be {bound}, got {value!r}")


def build_section(cls: type, values: Any, section: str, **extra: Any) -> Any:
    """A frozen dataclass from plain values; unknown keys and wrong types name the field."""
    if not isinstance(values, dict):
        raise ConfigError(f"[{section}] must be a table, got {type(values).__name__}")
    known = {f.name: f for f in dataclasses.fields(cls)}
    defaults = cls()
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"unknown field {section}.{key}; expected one of {', '.join(known)}")
        kwargs[key] = coerce(f"{section}.{key}", value, getattr(defaults, key))
    kwargs.update(extra)
    return cls(**kwargs)


def coerce(name: str, value: Any, default: Any) -> Any:
    """``value`` as the type of ``default``. TOML and Qt hand us ints where floats are
    meant; bools are not ints here; a tuple field takes a list or a comma-separated string."""
    kind = type(default)
    if kind is tuple:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{name} must be a list of strings, got {value!r}")
        return tuple(value)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is bool and not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    if not isinstance(value, kind):
        raise ConfigError(f"{name} must be a {kind.__name__}, got {value!r}")
    return value
