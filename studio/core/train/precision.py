"""``train.precision``: mixed precision as a wrapper around the algorithm's step.

- ``fp32`` (the default): the step as it is.
- ``auto``: ``bf16`` where the processor computes bfloat16 natively (a CPU with AVX512-BF16
  or AMX, a CUDA GPU that has it), ``fp32`` elsewhere (emulated bf16 is slower than fp32).
  The cgan, gan-mlp and cgan-mlp presets use it: on this project's AVX512-BF16 CPU their
  steps are about 1.3x faster, and their quality was measured under it (README, quality
  table).
- ``bf16``: the step under ``torch.autocast(dtype=torch.bfloat16)``. bfloat16 has float32's
  exponent range, so gradients need no loss scaling.
- ``fp16``: the step under ``torch.autocast(dtype=torch.float16)`` with a
  ``torch.amp.GradScaler``: losses are scaled before backward, gradients unscaled before
  each optimiser step, and a step whose gradients hold inf/NaN is skipped (the scale backs
  off). The loss scale starts afresh on resume (it settles within a few steps).

Asked for by name, bf16 and fp16 run only on a CUDA device: on the CPU (or MPS) they are
refused, since what they do to most models' quality has not been measured there; ``auto``
is the CPU's opt-in, and only where bf16 is native.

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


def native_bf16(device: torch.device) -> bool:
    """Whether this device computes bfloat16 in hardware (elsewhere it is emulated, slower than fp32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        probes = (getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))
        return any(probe is not None and probe() for probe in probes)
    return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """The precision a run computes in: ``auto`` becomes bf16 or fp32 for this device."""
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return precision


def check_precision(precision: str, device: torch.device, algorithm_class: Any, family: str = "") -> None:
    """ConfigError when ``precision`` cannot be used for this algorithm on this device."""
    if precision in ("fp32", "auto"):
        return
    if precision not in DTYPES:
        raise ConfigError(f"train.precision must be one of fp32, auto, bf16, fp16; got {precision!r}")
    if precision == "fp16" and not getattr(algorithm_class, "supports_loss_scaling", False):
        raise ConfigError(f"train.precision fp16 needs loss scaling, which the {family or 'chosen'} algorithm does "
                          "not do; use bf16 (no scaling needed) or fp32")
    if device.type != "cuda":
        raise ConfigError(f"train.precision {precision} runs only on a CUDA device, and this run is on {device.type}: "
                          f"its effect on quality is not measured there; use fp32, or auto (bf16 where this CPU computes it natively)")
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
        self.precision = resolve_precision(precision, device)
        self.device_type = device.type
        self.dtype = DTYPES.get(self.precision)
        self.scaler = torch.amp.GradScaler(device.type) if self.precision == "fp16" else None
        algorithm.scaler = self.scaler

    def __call__(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        if self.dtype is None:
            return self.algorithm.step(x, y)
        with torch.autocast(self.device_type, dtype=self.dtype):
            losses = self.algorithm.step(x, y)
        return {k: v.float() for k, v in losses.items()}
