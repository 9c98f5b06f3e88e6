"""Batch augmentation with a fresh random draw for every image.

A torchvision.transforms.v2 transform applied to a batched tensor draws one set of
parameters for the whole batch, so every image would get the same flip and the same
rotation. Here the parameters are drawn per image and applied in one batched call:
flips with ``v2.functional.horizontal_flip`` under a mask, rotation and translation as
one ``affine_grid``/``grid_sample`` with a matrix per image (the maths of v2's
RandomAffine; a per-image v2 loop measured 5.4 ms against 0.7 ms for 64 images at
28x28), and colour jitter as per-image brightness, contrast and saturation factors
with v2's formulas. All randomness comes from one CPU torch.Generator (the trainer's,
saved with the resume state), so restoring its state replays the same augmentations
on any device, and the global RNG is never touched.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from studio.core.config import AugmentConfig

Augmenter = Callable[[torch.Tensor], torch.Tensor]


def make_augmenter(cfg: AugmentConfig, channels: int, generator: torch.Generator | None = None) -> Augmenter | None:
    """A function from a float batch in [-1, 1] (N, C, H, W) to one like it; None when off.

    ``generator``: a CPU generator for every random draw (default: a fixed seed 0).
    """
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    jitter = cfg.color_jitter if channels == 3 else 0.0
    if not (cfg.hflip or cfg.rotate_degrees > 0 or cfg.translate > 0 or jitter > 0):
        return None

    def augment(x: torch.Tensor) -> torch.Tensor:
        if cfg.hflip:
            x = random_hflip(x, gen)
        if cfg.rotate_degrees > 0 or cfg.translate > 0:
            x = random_affine(x, cfg.rotate_degrees, cfg.translate, gen)
        if jitter > 0:
            x = color_jitter(x, jitter, gen)
        return x

    return augment


def _uniform(n: int, low: float, high: float, device: torch.device, gen: torch.Generator) -> torch.Tensor:
    # Drawn on the CPU generator whatever the device: reproducible from one RNG state.
    return (torch.rand(n, generator=gen) * (high - low) + low).to(device)


def random_hflip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    from torchvision.transforms.v2 import functional as TF  # late: torchvision is slow to import

    flip = (torch.rand(x.shape[0], generator=gen) < 0.5).to(x.device).view(-1, 1, 1, 1)
    return torch.where(flip, TF.horizontal_flip(x), x)


def random_affine(x: torch.Tensor, degrees: float, translate: float, gen: torch.Generator) -> torch.Tensor:
    """Rotate by U(-degrees, degrees) and shift by U(-translate, translate) of the size, per image.

    Pixels that come in from outside the frame are -1 (black), like v2's fill of 0.
    """
    n = x.shape[0]
    angle = _uniform(n, -math.radians(degrees), math.radians(degrees), x.device, gen)
    # affine_grid works in [-1, 1] coordinates: a shift of t * size pixels is 2 * t.
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1).to(x.device) * (2 * translate)
    cos, sin = angle.cos(), angle.sin()
    theta = torch.stack(
        [torch.stack([cos, -sin, -shift[:, 0]], 1), torch.stack([sin, cos, -shift[:, 1]], 1)], 1
    ).to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return (
        F.grid_sample(x + 1, grid, mode="bilinear", padding_mode="zeros", align_corners=False) - 1
    )


def color_jitter(x: torch.Tensor, strength: float, gen: torch.Generator) -> torch.Tensor:
    """Brightness, contrast and saturation each scaled by U(1 - s, 1 + s), per image (RGB)."""
    from torchvision.transforms.v2 import functional as TF

    n, device = x.shape[0], x.device
    lo, hi = max(0.0, 1 - strength), 1 + strength
    img = (x + 1) / 2  # v2's formulas work on [0, 1]
    brightness, contrast, saturation = (
        _uniform(n, lo, hi, device, gen).view(-1, 1, 1, 1) for _ in range(3)
    )
    img = (img * brightness).clamp(0, 1)
    mean = TF.rgb_to_grayscale(img).mean(dim=(-3, -2, -1), keepdim=True)
    img = (contrast * img + (1 - contrast) * mean).clamp(0, 1)
    img = (saturation * img + (1 - saturation) * TF.rgb_to_grayscale(img)).clamp(0, 1)
    return img * 2 - 1
