"""Building a model from a config: the family registry (studio.core.families) names the class."""

from __future__ import annotations

from studio.core.config import Config, ConfigError
from studio.core.models.base import GenerativeModel


def build_model(config: Config, image_shape: tuple[int, int, int], num_classes: int | None) -> GenerativeModel:
    """Build the model a config describes for images of ``image_shape``."""
    family = config.family
    if family.conditional and not num_classes:
        raise ConfigError(
            f"model.family {family.name} is class-conditional but the dataset has no labels; "
            "pick an unconditional family or a labelled dataset"
        )
    _, h, w = image_shape
    if getattr(config.model, "arch", "") in ("dcgan", "conv") and (h % 4 or w % 4):
        raise ConfigError(f"model.arch {config.model.arch} needs an image size that is a multiple of 4, got {h}x{w}")
    model = family.model_class()(config.model, image_shape, num_classes if family.conditional else None)
    model.family = family.name
    return model
