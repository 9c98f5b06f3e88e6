"""Exponential moving average of the sampling network's weights (generator or decoder)."""

from __future__ import annotations

import copy

import torch

from studio.core.models.base import GenerativeModel


class EMA:
    """Keeps ``shadow``, a copy of the model whose sampling module trails the live one.

    The decay warms up as min(decay, (1 + t) / (10 + t)) so early samples are not
    dominated by the random initialisation.
    """

    def __init__(self, model: GenerativeModel, decay: float):
        self.decay = decay
        self.updates = 0
        self.shadow = copy.deepcopy(model).eval().requires_grad_(False)
        self._live = list(model.sampling_module().parameters())
        self._mirror = list(self.shadow.sampling_module().parameters())
        self._live_buffers = list(model.sampling_module().buffers())
        self._mirror_buffers = list(self.shadow.sampling_module().buffers())

    @torch.no_grad()
    def update(self) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        torch._foreach_lerp_(self._mirror, self._live, 1 - decay)
        for mirror, live in zip(self._mirror_buffers, self._live_buffers, strict=True):
            mirror.copy_(live)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.shadow.sampling_module().state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor], updates: int) -> None:
        self.shadow.sampling_module().load_state_dict(state)
        self.updates = updates
