"""The memory a run would need, checked against the device before anything is allocated.

The model is built on torch's ``meta`` device (shapes, no storage: milliseconds even at
hundreds of millions of parameters) to count its parameters, and one pass of its
sampling network at the training batch size measures the activations (the outputs of
every layer). The estimate:

- ``BYTES_PER_PARAMETER`` per parameter: weights, gradients, Adam's two moments, the
  EMA copy and the checkpoint being serialised. Measured: a 103M-parameter cgan peaked
  at 4.5 GB of resident memory on a CPU, 44 bytes per parameter;
- ``ACTIVATION_FACTOR`` times the sampling network's activations: the saved forward
  of it and of its partner (discriminator, encoder) plus their gradients.

The budget is a share of the device's memory (``BUDGET_SHARE``): of the physical RAM on
a CPU, of the GPU's own memory on CUDA or MPS. ``LATENT_STUDIO_MEMORY_BUDGET`` (bytes,
or with a K/M/G suffix) sets it instead, e.g. on a shared machine.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from studio.core.fields import ConfigError, field_specs

BYTES_PER_PARAMETER = 44
ACTIVATION_FACTOR = 3
BUDGET_SHARE = {"cpu": 0.5, "cuda": 0.8, "mps": 0.6}
BUDGET_ENV = "LATENT_STUDIO_MEMORY_BUDGET"
FALLBACK_RAM = 8 * 1024**3  # where the physical memory cannot be read


@dataclass(frozen=True)
class Estimate:
    parameters: int
    activation_bytes: int  # of one pass of the sampling network, at the batch size

    @property
    def total_bytes(self) -> int:
        return self.parameters * BYTES_PER_PARAMETER + ACTIVATION_FACTOR * self.activation_bytes


def gib(n: float) -> str:
    return f"{n / 1024**3:.1f} GiB"


def physical_memory() -> int:
    with contextlib.suppress(AttributeError, ValueError, OSError):
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return FALLBACK_RAM


def device_memory(device: torch.device) -> tuple[int, str]:
    """(bytes, a description) of the memory a run on ``device`` draws from."""
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return props.total_memory, f"{props.name}'s {gib(props.total_memory)}"
    if device.type == "mps":
        with contextlib.suppress(AttributeError, RuntimeError):
            total = int(torch.mps.recommended_max_memory())
            return total, f"the GPU's {gib(total)}"
    total = physical_memory()
    return total, f"this computer's {gib(total)} of memory"


def parse_size(text: str) -> int:
    units = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    scale = units.get(text[-1:], 1)
    number = text[:-1] if text[-1:] in units else text
    try:
        value = float(number) * scale
    except ValueError:
        raise ConfigError(f"{BUDGET_ENV} must be a size such as 4G or 512M, got {text!r}") from None
    if value <= 0:
        raise ConfigError(f"{BUDGET_ENV} must be positive, got {text!r}")
    return int(value)


def budget(device: torch.device) -> tuple[int, str]:
    """(bytes, how it was decided) a run on ``device`` may plan to use."""
    override = os.environ.get(BUDGET_ENV)
    if override:
        return parse_size(override), f"the {BUDGET_ENV} setting"
    total, what = device_memory(device)
    share = BUDGET_SHARE.get(device.type, 0.5)
    return int(total * share), f"{share:.0%} of {what}"


# The factories nn.Module constructors allocate their parameters and buffers with.
_FACTORIES = {torch.empty, torch.zeros, torch.ones, torch.full, torch.randn, torch.rand, torch.empty_strided,
              torch.Tensor.new_empty, torch.Tensor.new_zeros, torch.Tensor.new_ones, torch.Tensor.new_full}


class AllocationExceeded(Exception):
    def __init__(self, used: int):
        super().__init__(f"{used:,} bytes")
        self.used = used


class AllocationCap(TorchFunctionMode):
    """Within the block, tensor factories may allocate ``limit`` bytes in all; the one that
    would go over raises AllocationExceeded before it allocates (its size is found on the
    meta device). Builds a model for real, but never a huge one: for a checkpoint whose
    metadata claims a model far larger than its tensors."""

    def __init__(self, limit: int):
        super().__init__()
        self.limit, self.used = limit, 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _FACTORIES:
            probe = func(*args, **{**kwargs, "device": "meta"})
            self.used += probe.numel() * probe.element_size()
            if self.used > self.limit:
                raise AllocationExceeded(self.used)
        return func(*args, **kwargs)


class _OnePass(Exception):
    """Raised by a hook to end sampling after one pass of the network."""


def activation_bytes(model: Any, batch: int) -> int:
    """The outputs of every layer during one pass of ``model``'s sampling network, for a
    batch of ``batch`` (on the meta device: nothing is computed). A sampler that fails on
    meta tensors counts what ran before (0 if nothing did: the parameters alone count)."""
    total = 0
    seen: set[int] = set()

    def hook(module: torch.nn.Module, _inputs: Any, output: Any) -> None:
        nonlocal total
        if any(True for _ in module.parameters(recurse=False)):
            if id(module) in seen:  # a layer with weights runs again: the next pass (a sampling loop)
                raise _OnePass
            seen.add(id(module))
        for t in output if isinstance(output, (tuple, list)) else (output,):
            if isinstance(t, torch.Tensor):
                total += t.numel() * t.element_size()

    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        model.sample(batch, None, torch.Generator().manual_seed(0))
    except _OnePass:
        pass
    except Exception:  # noqa: BLE001 - a sampler that needs values (a loop's test) stops here
        pass
    finally:
        for handle in handles:
            handle.remove()
    return total


def estimate(config: Any, image_shape: tuple[int, int, int], num_classes: int | None) -> Estimate:
    from studio.core.models import build_model

    with torch.device("meta"):
        model = build_model(config, image_shape, num_classes)
    parameters = sum(p.numel() for p in model.parameters())
    return Estimate(parameters, activation_bytes(model, config.train.batch_size))


def check_budget(config: Any, image_shape: tuple[int, int, int], num_classes: int | None,
                 device: torch.device) -> Estimate:
    """Raise ConfigError naming the fields to lower when the run would not fit."""
    found = estimate(config, image_shape, num_classes)
    limit, how = budget(device)
    if found.total_bytes <= limit:
        return found
    fields = ", ".join(larger_fields(config)) or "the model's size fields"
    c, h, w = image_shape
    raise ConfigError(
        f"{fields}: this {config.model.family} model would need about {gib(found.total_bytes)} to train "
        f"({found.parameters:,} parameters, activations of {gib(found.activation_bytes)} per pass at "
        f"train.batch_size {config.train.batch_size} on {c}x{h}x{w} images), over the budget of {gib(limit)} "
        f"({how}); lower them or train.batch_size")


def larger_fields(config: Any) -> list[str]:
    """The [model] size fields set above the family's defaults (what made it big), and
    data.image_size when it enlarges the images."""
    defaults = type(config.model)()
    out = []
    for name, meta in field_specs(config.model).items():
        value, default = getattr(config.model, name), getattr(defaults, name)
        if meta.group == "Model" and isinstance(value, int) and not isinstance(value, bool) and value > default:
            out.append(f"model.{name} = {value}")
    if config.data.image_size:
        out.append(f"data.image_size = {config.data.image_size}")
    return out

