"""What a family declares: its [model] section, presets, model and algorithm, and texts.

Torch-free: the model and the algorithm are named as "module:attribute" strings and
imported only when a model is built, so the window can list families, show their
forms and presets before torch is loaded. A test may pass the classes themselves.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
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
    # Sampling options for the live sample grid when they differ from the model's defaults
    # (e.g. fewer diffusion steps, so the grid stays within its time budget).
    preview_options: Mapping[str, Any] = field(default_factory=dict)
    # Checks across fields (or against the data config) beyond each field's own range.
    validate: Callable[[Any], None] | None = None

    def model_class(self) -> Callable[..., Any]:
        return _resolve(self.model)

    def algorithm_class(self) -> Callable[..., Any]:
        return _resolve(self.algorithm)


def _resolve(target: str | Callable[..., Any]) -> Callable[..., Any]:
    if not isinstance(target, str):
        return target
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)
