"""The model families the studio knows, registered in this one place.

A family is a declaration (studio.core.families.<name>: its [model] section, presets,
texts) plus an implementation (studio.core.models.<name>: nn.Modules and the training
algorithm). Registering it makes it appear in validation, the CLI's --model list, the
Model tab and the explorer, which all read the registry and the model's capabilities.
"""

from __future__ import annotations

from studio.core.families.base import Family, Preset
from studio.core.fields import ConfigError

FAMILIES: dict[str, Family] = {}
DEFAULT_FAMILY = "cgan"


def register(family: Family) -> Family:
    """Add a family. Its [model] fields may share a name with another family's only when
    they hold the same kind of value (the Model tab shows one widget per name)."""
    _check_shared_fields(family)
    FAMILIES[family.name] = family
    return family


def _field_kind(section: type, name: str) -> tuple[str, bool]:
    from studio.core.fields import field_spec

    meta = field_spec(section, name)
    return type(getattr(section(), name)).__name__, bool(meta and meta.choices is not None)


def _check_shared_fields(family: Family) -> None:
    from dataclasses import fields

    for other in FAMILIES.values():
        if other.section is family.section or other.name == family.name:
            continue
        shared = {f.name for f in fields(family.section)} & {f.name for f in fields(other.section)}
        for name in sorted(shared - {"family"}):
            ours, theirs = _field_kind(family.section, name), _field_kind(other.section, name)
            if ours != theirs:
                raise TypeError(f"family {family.name}: field model.{name} holds a {ours[0]}"
                                f"{' choice' if ours[1] else ''} but {other.name}'s holds a {theirs[0]}"
                                f"{' choice' if theirs[1] else ''}; give it another name")


def unregister(name: str) -> None:
    FAMILIES.pop(name, None)


def get_family(name: str, field: str = "model.family") -> Family:
    if name not in FAMILIES:
        raise ConfigError(f"{field} must be one of {', '.join(FAMILIES)}; got {name!r}")
    return FAMILIES[name]


def _register_builtin() -> None:
    from studio.core.families import diffusion, espcn, gan, pixelcnn, vae

    for module in (gan, vae, pixelcnn, diffusion, espcn):
        for family in module.FAMILIES:
            register(family)


_register_builtin()

__all__ = ["DEFAULT_FAMILY", "FAMILIES", "Family", "Preset", "get_family", "register", "unregister"]
