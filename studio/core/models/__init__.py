"""Model implementations, one module per family: nn.Modules and the training algorithm.

What a family is (its config section, presets, texts) is declared in
studio.core.families; the protocol every model follows is studio.core.models.base.
"""

from studio.core.families import FAMILIES
from studio.core.models.base import Capabilities, GenerativeModel, SampleOption, seeded
from studio.core.models.registry import build_model

__all__ = ["FAMILIES", "Capabilities", "GenerativeModel", "SampleOption", "build_model", "seeded"]
