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
    FAMILIES[family.name] = family
    return family


def unregister(name: str) -> None:
    FAMILIES.pop(name, None)


def get_family(name: str, field: str = "model.family") -> Family:
    if name not in FAMILIES:
        raise ConfigError(f"{field} must be one of {', '.join(FAMILIES)}; got {name!r}")
    return FAMILIES[name]


def _register_builtin() -> None:
    from studio.core.families import espcn, gan, pixelcnn, vae

    for module in (gan, vae, pixelcnn, espcn):
        for family in module.FAMILIES:
            register(family)


_register_builtin()

__all__ = ["DEFAULT_FAMILY", "FAMILIES", "Family", "Preset", "get_family", "register", "unregister"]
