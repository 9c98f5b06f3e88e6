"""Load-time reshaping of a whole dataset: image size and channel count, done once.

Doing it here, on the whole uint8 tensor, keeps the training loop to index lookups.
"""

from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F

from studio.core.data.dataset import ImageData

_CHUNK = 2048  # images per interpolate call: bounds the float copy's memory
_GREY_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R 601-2 luma, as PIL's convert("L")


def fit_data(data: ImageData, image_size: int = 0, channels: int = 0) -> ImageData:
    """Return ``data`` with images resized to ``image_size`` and converted to ``channels``.

    0 keeps the dataset's own size or channel count. Images are made square by the
    resize (every source here is square already; image folders are cropped on load).
    """
    images = convert_channels(data.images, channels)
    images = resize_images(images, image_size)
    if images is data.images:
        return data
    return replace(data, images=images)  # keeps the labels, skipped files and notes


def convert_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """uint8 (N, C, H, W) to 1 or 3 channels: luma for RGB -> grey, copies for grey -> RGB."""
    have = images.shape[1]
    if channels in (0, have):
        return images
    if channels == 3 and have == 1:
        return images.expand(-1, 3, -1, -1).contiguous()
    if channels == 1 and have == 3:
        out = torch.empty(
            (images.shape[0], 1, *images.shape[2:]), dtype=torch.uint8, device=images.device
        )
        weights = torch.tensor(_GREY_WEIGHTS, device=images.device).view(1, 3, 1, 1)
        for start in range(0, len(images), _CHUNK):
            chunk = images[start : start + _CHUNK].float()
            out[start : start + _CHUNK] = (
                (chunk * weights).sum(1, keepdim=True).round_().clamp_(0, 255).to(torch.uint8)
            )
        return out
    raise ValueError(f"cannot convert {have} channels to {channels}")


def resize_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize uint8 (N, C, H, W) to (N, C, size, size) with antialiasing, chunk by chunk."""
    if size == 0 or tuple(images.shape[2:]) == (size, size):
        return images
    out = torch.empty((*images.shape[:2], size, size), dtype=torch.uint8, device=images.device)
    for start in range(0, len(images), _CHUNK):
        chunk = images[start : start + _CHUNK].float()
        resized = F.interpolate(
            chunk, size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )
        out[start : start + _CHUNK] = resized.round_().clamp_(0, 255).to(torch.uint8)
    return out
