"""``train.precision``: mixed precision as a wrapper around the algorithm's step.

- ``fp32`` (the default): the step as it is.
- ``bf16``: the step under ``torch.autocast(dtype=torch.bfloat16)``. bfloat16 has float32's
  exponent range, so gradients need no loss scaling.
- ``fp16``: the step under ``torch.autocast(dtype=torch.float16)`` with a
  ``torch.amp.GradScaler``: losses are scaled before backward, gradients unscaled before
  each optimiser step, and a step whose gradients hold inf/NaN is skipped (the scale backs
  off). The loss scale starts afresh on resume (it settles within a few steps).

Only on a CUDA device: on the CPU (or MPS) bf16 and fp16 are refused, since what they do to
these models' quality has not been measured there (and a CPU gains little from them).

The wrapper does not know the algorithm: autocast covers the whole ``algorithm.step``.
Loss scaling needs the algorithm's help, since it calls backward and the optimisers
itself: an algorithm that declares ``supports_loss_scaling`` calls ``self.backward(loss)``
and ``self.step_optimizer(opt)`` (studio.core.train.algorithm), which are plain
``loss.backward()`` / ``opt.step()`` without a scaler; fp16 is refused for the others.
"""

from __future__ import annotations

from typing import Any

import torch

from studio.core.config import ConfigError

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def check_precision(precision: str, device: torch.device, algorithm_class: Any, family: str = "") -> None:
    """ConfigError when ``precision`` cannot be used for this algorithm on this device."""
    if precision == "fp32":
        return
    if precision not in DTYPES:
        raise ConfigError(f"train.precision must be one of fp32, bf16, fp16; got {precision!r}")
    if precision == "fp16" and not getattr(algorithm_class, "supports_loss_scaling", False):
        raise ConfigError(f"train.precision fp16 needs loss scaling, which the {family or 'chosen'} algorithm does "
                          "not do; use bf16 (no scaling needed) or fp32")
    if device.type != "cuda":
        raise ConfigError(f"train.precision {precision} runs only on a CUDA device, and this run is on {device.type}: "
                          f"its effect on quality is not measured there; use fp32")
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        raise ConfigError("train.precision bf16: this GPU has no bfloat16 support; use fp16 or fp32")


class PrecisionStep:
    """``step(x, y)``: the algorithm's step in the configured precision (see the module doc).

    ``check=False`` skips the device check (tests run the fp16 path on the CPU's autocast).
    """

    def __init__(self, algorithm: Any, precision: str, device: torch.device, *, check: bool = True):
        if check:
            check_precision(precision, device, type(algorithm))
        self.algorithm = algorithm
        self.precision = precision
        self.device_type = device.type
        self.dtype = DTYPES.get(precision)
        self.scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None
        algorithm.scaler = self.scaler

    def __call__(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        if self.dtype is None:
            return self.algorithm.step(x, y)
        with torch.autocast(self.device_type, dtype=self.dtype):
            losses = self.algorithm.step(x, y)
        return {k: v.float() for k, v in losses.items()}
