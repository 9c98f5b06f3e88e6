"""What a family declares: its [model] section, presets, model and algorithm, and texts.

Torch-free: the model and the algorithm are named as "module:attribute" strings and
imported only when a model is built, so the window can list families, show their
forms and presets before torch is loaded. A test may pass the classes themselves.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    config: Any  # studio.core.config.Config


@dataclass(frozen=True)
class Family:
    name: str  # model.family, e.g. "cgan"
    title: str  # shown in the family list
    section: type  # the frozen dataclass of its [model] section
    model: str | Callable[..., Any]  # model(section, image_shape, num_classes) -> GenerativeModel
    algorithm: str | Callable[..., Any]  # algorithm(model, config, generator) -> Algorithm
    conditional: bool = False
    presets: tuple[Preset, ...] = ()
    description: str = ""
    # The objective it optimises, as a LaTeX-ish formula, and the meaning of each logged loss.
    objective: str = ""
    loss_labels: Mapping[str, str] = field(default_factory=dict)
    # Named groups of parameter prefixes for ``train.freeze`` when fine-tuning, e.g.
    # {"discriminator features": ("discriminator.features",)}; `latent-studio finetune
    # --freeze` and the Train tab take the names (see ``freeze_prefixes``).
    freeze_presets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # A family whose model does not sample new images (an upscaler) draws the live grid
    # itself: preview_grid(model, real01) -> images in [0, 1], rows of len(real01), from
    # a few fixed real training images ``real01`` (N, C, H, W) in [0, 1].
    preview_grid: str | Callable[..., Any] | None = None
    # Sampling options for the live sample grid when they differ from the model's defaults
    # (e.g. fewer diffusion steps, so the grid stays within its time budget).
    preview_options: Mapping[str, Any] = field(default_factory=dict)
    # Checks across fields (or against the data config) beyond each field's own range.
    validate: Callable[[Any], None] | None = None
    # Entries a hyperparameter search varies by default besides the log-scale fields, as a
    # space file has them: {"model.latent_dim": {"choices": [32, 64, 128]}} (studio.core.search_space).
    search_space: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def model_class(self) -> Callable[..., Any]:
        return _resolve(self.model)

    def algorithm_class(self) -> Callable[..., Any]:
        return _resolve(self.algorithm)

    def preview_grid_function(self) -> Callable[..., Any] | None:
        return None if self.preview_grid is None else _resolve(self.preview_grid)

    def freeze_prefixes(self, names: Iterable[str]) -> tuple[str, ...]:
        """Freeze preset names expanded to their prefixes; anything else is a prefix itself.

        A name that is neither a preset nor shaped like a parameter prefix is a ConfigError
        listing the presets (a prefix that matches no parameter is caught by ``freeze``).
        """
        from studio.core.fields import ConfigError

        out: list[str] = []
        for name in (n.strip() for n in names):
            if name in self.freeze_presets:
                out += [p for p in self.freeze_presets[name] if p not in out]
            elif name and _PREFIX.fullmatch(name):
                out += [name] if name not in out else []
            elif name:
                have = "; ".join(f'"{k}" ({", ".join(v)})' for k, v in self.freeze_presets.items()) or "none"
                raise ConfigError(f'train.freeze: "{name}" is neither a parameter prefix nor a freeze preset of '
                                  f"the {self.name} family (its presets: {have})")
        return tuple(out)


_PREFIX = re.compile(r"[A-Za-z_][\w]*(\.[\w]+)*\.?")


def _resolve(target: str | Callable[..., Any]) -> Callable[..., Any]:
    if not isinstance(target, str):
        return target
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)
