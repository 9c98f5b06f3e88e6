"""Named starting configs that train well on the embedded mnist-5k digits on a laptop CPU.

Each family declares its own presets (studio.core.families); this module is the one
list of them all. ``PRESETS`` reads the registry on every access, so a family
registered later (a plug-in, a test) brings its presets along.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from studio.core.config import Config, ConfigError
from studio.core.families import FAMILIES, Preset

DEFAULT_PRESET = "cgan"


def all_presets() -> dict[str, Preset]:
    return {p.name: p for family in FAMILIES.values() for p in family.presets}


class _PresetConfigs(Mapping[str, Config]):
    def __getitem__(self, name: str) -> Config:
        return all_presets()[name].config

    def __iter__(self) -> Iterator[str]:
        return iter(all_presets())

    def __len__(self) -> int:
        return len(all_presets())


PRESETS: Mapping[str, Config] = _PresetConfigs()


def preset(name: str) -> Config:
    """The preset of that name."""
    presets = all_presets()
    if name not in presets:
        raise ConfigError(f"unknown preset or model {name!r}; choose one of {', '.join(presets)}")
    return presets[name].config
