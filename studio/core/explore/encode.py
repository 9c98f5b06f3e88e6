"""Encode a user's drawing with a VAE: MNIST-style preprocessing, then q(z | x)."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from studio.core.explore.images import to_uint8
from studio.core.models.base import GenerativeModel


def center_digit(drawing: np.ndarray, size: int = 28) -> np.ndarray:
    """A greyscale drawing (H, W) in [0, 1] -> (size, size) float32 laid out like MNIST.

    MNIST digits were scaled to fit a 20x20 box (keeping their aspect) and placed in the
    28x28 frame by their centre of mass; a drawing prepared the same way lands where the
    model has seen digits, rather than wherever the user drew it.
    """
    img = np.clip(np.asarray(drawing, dtype=np.float32), 0.0, 1.0)
    ys, xs = np.nonzero(img > 0.05)
    if len(ys) == 0:
        return np.zeros((size, size), dtype=np.float32)
    crop = img[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    box = max(1, round(size * 20 / 28))
    scale = box / max(crop.shape)
    h, w = max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))
    small = Image.fromarray((crop * 255).astype(np.uint8)).resize((w, h), Image.Resampling.LANCZOS)
    small = np.asarray(small, dtype=np.float32) / 255.0
    mass = small.sum()
    cy = (small.sum(1) @ np.arange(h)) / mass if mass > 0 else h / 2
    cx = (small.sum(0) @ np.arange(w)) / mass if mass > 0 else w / 2
    top = int(np.clip(round(size / 2 - cy - 0.5), 0, size - h))
    left = int(np.clip(round(size / 2 - cx - 0.5), 0, size - w))
    out = np.zeros((size, size), dtype=np.float32)
    out[top : top + h, left : left + w] = small
    return out


def prepare_drawing(drawing: np.ndarray, image_shape: tuple[int, int, int]) -> np.ndarray:
    """A drawing -> a (C, H, W) float32 image in [0, 1] shaped for the model."""
    c, h, w = image_shape
    if h == w:
        grey = center_digit(drawing, h)
    else:
        resized = Image.fromarray((np.clip(drawing, 0, 1) * 255).astype(np.uint8)).resize((w, h))
        grey = np.asarray(resized, dtype=np.float32) / 255.0
    return np.repeat(grey[None], c, axis=0)


@torch.no_grad()
def encode_image(
    model: GenerativeModel, image01: np.ndarray, label: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(C, H, W) image in [0, 1] -> (its reconstruction uint8 (H, W, 3), latent mean (d,))."""
    if not model.can_encode:
        raise ValueError(f"a {model.family} model has no encoder")
    x = torch.from_numpy(np.ascontiguousarray(image01, dtype=np.float32))[None]
    labels = torch.tensor([label]) if model.conditional and label is not None else None
    if model.conditional and labels is None:
        labels = torch.zeros(1, dtype=torch.long)
    recon, mu = model.reconstruct(x, labels)
    return to_uint8(recon)[0], mu[0].float().cpu().numpy()
