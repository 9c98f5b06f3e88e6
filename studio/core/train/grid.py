"""Sample grids as uint8 HxWx3 arrays and PNG bytes (torchvision does the tiling)."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image
from torchvision.utils import make_grid as tv_make_grid


def make_grid(images01: torch.Tensor, nrow: int, padding: int = 2) -> np.ndarray:
    """(N, C, H, W) in [0, 1] -> C-contiguous uint8 (H', W', 3), nrow images per row."""
    grid = tv_make_grid(images01.detach().float().cpu(), nrow=nrow, padding=padding, pad_value=0.25)
    grid = grid.mul(255).round_().clamp_(0, 255).to(torch.uint8).permute(1, 2, 0)
    return np.ascontiguousarray(grid.numpy())


def png_bytes(array: np.ndarray) -> bytes:
    """uint8 (H, W) or (H, W, 3) -> PNG file contents."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def grid_layout(n_classes: int | None, columns: int = 8) -> tuple[int, torch.Tensor | None]:
    """How many images a sample grid holds and their labels: one row per class if conditional."""
    if not n_classes:
        return columns * columns, None
    return n_classes * columns, torch.arange(n_classes).repeat_interleave(columns)
