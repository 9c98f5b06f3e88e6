"""The training-algorithm protocol: one step of a family's objective, owning its optimisers.

A family's algorithm is built as ``Algorithm(model, config, generator)``: ``generator``
is the trainer's seeded torch.Generator on the training device, the only source of the
algorithm's randomness (noise, timesteps, label dropout), so a run never reads or
writes the global RNG and its state is saved with the resume state. ``step(x, y)``
takes a batch in [-1, 1] (labels or None) and returns the step's losses as detached
scalar tensors: they become floats only when logged, so a GPU is not synchronised
every step.

Frozen parameters (``train.freeze``) arrive with ``requires_grad`` already off; an
algorithm builds its optimisers over ``trainable(...)`` and must never switch a
frozen parameter's gradient back on (``toggle_grad`` only touches trainable ones).

Mixed precision (``train.precision``, studio.core.train.precision) runs ``step`` under
torch.autocast. For fp16 an algorithm declares ``supports_loss_scaling`` and calls
``self.backward(loss)`` and ``self.step_optimizer(opt)`` instead of ``loss.backward()``
and ``opt.step()``: with the trainer's GradScaler in ``scaler`` they scale and unscale,
without one they are exactly those calls. ``full_precision(device)`` computes a block in
float32 even under autocast (a gradient penalty's double backward, say).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import torch
from torch import nn


class Algorithm:
    optimizers: dict[str, torch.optim.Optimizer]
    supports_loss_scaling: ClassVar[bool] = False  # calls backward() and step_optimizer() below
    scaler: Any = None  # the trainer's torch.amp.GradScaler for train.precision = "fp16"

    def step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def distribute(self, wrap: Callable[[nn.Module], nn.Module]) -> None:
        """Multi-process training (studio.core.train.distributed): from now on call the
        modules this algorithm takes gradients through as ``wrap(module)`` (a
        DistributedDataParallel, which averages the gradients over the processes). Only
        the forward calls change: the optimisers keep the same parameters."""
        raise NotImplementedError(f"{type(self).__name__} cannot train in several processes")

    def backward(self, loss: torch.Tensor) -> None:
        """``loss.backward()``, scaled when there is a scaler; outside autocast, as PyTorch advises."""
        with full_precision(loss.device):
            (loss if self.scaler is None else self.scaler.scale(loss)).backward()

    def step_optimizer(self, opt: torch.optim.Optimizer) -> None:
        """``opt.step()``; with a scaler: unscale, skip the step on inf/NaN gradients, update the scale."""
        if self.scaler is None:
            opt.step()
            return
        if not any(p.grad is not None for group in opt.param_groups for p in group["params"]):
            return  # nothing to step (all frozen): the scaler would find no gradients to check
        self.scaler.step(opt)
        self.scaler.update()  # per optimiser step: a GAN steps D several times per iteration


def full_precision(device: torch.device):
    """A block computed in float32 even inside the trainer's autocast."""
    if torch.is_autocast_enabled(device.type):
        return torch.autocast(device.type, enabled=False)
    return contextlib.nullcontext()


def trainable(params: Iterable[nn.Parameter]) -> list[nn.Parameter]:
    return [p for p in params if p.requires_grad]


def make_optimizer(params: Iterable[nn.Parameter], config, lr: float) -> torch.optim.Optimizer:
    """Adam or AdamW over the trainable parameters; the fused kernel where torch has one
    (about 25% faster steps on a CPU)."""
    t = config.train
    cls = torch.optim.AdamW if t.optimizer == "adamw" else torch.optim.Adam
    params = trainable(params)
    if not params:
        params = [nn.Parameter(torch.zeros(()), requires_grad=False)]  # everything frozen: a no-op optimiser
    try:
        return cls(params, lr=lr, betas=(t.beta1, t.beta2), weight_decay=t.weight_decay, fused=True)
    except RuntimeError:  # a device without the fused kernel
        return cls(params, lr=lr, betas=(t.beta1, t.beta2), weight_decay=t.weight_decay)


class GradToggle:
    """Switches gradients of a module's *trainable* parameters off and on again.

    ``module.requires_grad_(True)`` would unfreeze frozen ones; this remembers which
    parameters were trainable when it was made and touches only those.
    """

    def __init__(self, module: nn.Module):
        self.params = trainable(module.parameters())

    def set(self, on: bool) -> None:
        for p in self.params:
            p.requires_grad_(on)
