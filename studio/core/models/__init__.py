"""Model families: one module each, nn.Modules and nothing else (no I/O, no globals)."""

from studio.core.models.base import GenerativeModel
from studio.core.models.registry import FAMILIES, build_model

__all__ = ["FAMILIES", "GenerativeModel", "build_model"]
