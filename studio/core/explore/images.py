"""Image tensors to display arrays: uint8 (H, W, 3), C-contiguous, ready for a QImage."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported lazily: tile() serves views that load before it
    import torch


def to_uint8(images01: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) floats in [0, 1] -> uint8 (N, H, W, 3); grey images are repeated to RGB."""
    import torch

    x = images01.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).cpu()
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return np.ascontiguousarray(x.permute(0, 2, 3, 1).numpy())


def tile(frames: np.ndarray, ncol: int, pad: int = 0, fill: int = 0) -> np.ndarray:
    """uint8 (N, H, W, 3) -> one (rows*H + pad, ncol*W + pad, 3) image, row-major."""
    n, h, w, c = frames.shape
    ncol = max(1, min(ncol, n))
    nrow = -(-n // ncol)
    out = np.full((nrow * (h + pad) + pad, ncol * (w + pad) + pad, c), fill, dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, ncol)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        out[y : y + h, x : x + w] = frames[i]
    return out


# A few stops of matplotlib's viridis: perceptually even, readable by colour-blind people.
_HEAT_STOPS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], dtype=np.float32)
NO_HEAT = (48, 48, 48)  # a pixel with no probability (not drawn yet, or given)


def heat(values: np.ndarray) -> np.ndarray:
    """(H, W) floats in [0, 1] (NaN: none) -> uint8 (H, W, 3) through viridis."""
    v = np.asarray(values, dtype=np.float32)
    missing = ~np.isfinite(v)
    pos = np.clip(np.nan_to_num(v), 0.0, 1.0) * (len(_HEAT_STOPS) - 1)
    lo = np.minimum(pos.astype(int), len(_HEAT_STOPS) - 2)
    frac = (pos - lo)[..., None]
    out = _HEAT_STOPS[lo] * (1 - frac) + _HEAT_STOPS[lo + 1] * frac
    out[missing] = NO_HEAT
    return np.ascontiguousarray(out.round().astype(np.uint8))
