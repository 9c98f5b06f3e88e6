"""The model families the studio knows. A new family registers here and appears everywhere.

Each family names its architectures, whether it is class-conditional, how to build its
nn.Module and which training algorithm (in studio.core.train.algorithms) drives it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from studio.core.config import Config, ConfigError
from studio.core.models.base import GenerativeModel
from studio.core.models.gan import GAN
from studio.core.models.vae import VAE


@dataclass(frozen=True)
class Family:
    name: str
    title: str
    conditional: bool
    archs: tuple[str, ...]
    kind: str  # "gan" or "vae": selects the training algorithm
    build: Callable[..., GenerativeModel]


FAMILIES: dict[str, Family] = {}


def register(family: Family) -> None:
    FAMILIES[family.name] = family


register(Family("gan", "GAN", False, ("mlp", "dcgan"), "gan", GAN))
register(Family("cgan", "Conditional GAN", True, ("mlp", "dcgan"), "gan", GAN))
register(Family("vae", "VAE", False, ("mlp", "conv"), "vae", VAE))
register(Family("cvae", "Conditional VAE", True, ("mlp", "conv"), "vae", VAE))


def build_model(config: Config, image_shape: tuple[int, int, int], num_classes: int | None) -> GenerativeModel:
    """Build the model a config describes for images of ``image_shape``."""
    family = FAMILIES[config.model.family]
    if family.conditional and not num_classes:
        raise ConfigError(
            f"model.family {family.name} is class-conditional but the dataset has no labels; "
            "pick an unconditional family or a labelled dataset"
        )
    _, h, w = image_shape
    if config.model.arch in ("dcgan", "conv") and (h % 4 or w % 4):
        raise ConfigError(f"model.arch {config.model.arch} needs an image size that is a multiple of 4, got {h}x{w}")
    model = family.build(config.model, image_shape, num_classes if family.conditional else None)
    model.family = family.name
    return model
