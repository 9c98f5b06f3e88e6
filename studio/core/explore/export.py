"""Saving what the studio shows: PNG stills and GIF animations, scaled up crisply."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from studio.core.fileio import atomic_write_bytes


def upscale(image: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour upscaling by an integer factor: pixels stay sharp squares."""
    scale = max(1, int(scale))
    return image if scale == 1 else image.repeat(scale, axis=0).repeat(scale, axis=1)


def save_png(image: np.ndarray, path: str | Path, scale: int = 1) -> Path:
    """uint8 (H, W, 3) -> PNG, written atomically."""
    buffer = io.BytesIO()
    Image.fromarray(upscale(np.asarray(image, dtype=np.uint8), scale)).save(buffer, format="PNG")
    atomic_write_bytes(Path(path), buffer.getvalue())
    return Path(path)


def save_gif(
    frames: Sequence[np.ndarray], path: str | Path, scale: int = 1, ms_per_frame: int = 200,
    hold_last_ms: int = 1500,
) -> Path:
    """uint8 (H, W, 3) frames -> a looping GIF; the last frame is held a while."""
    if not frames:
        raise ValueError("no frames to write")
    shape = frames[-1].shape
    images = [Image.fromarray(upscale(_fit(f, shape), scale)) for f in frames]
    durations = [ms_per_frame] * (len(images) - 1) + [hold_last_ms]
    buffer = io.BytesIO()
    images[0].save(
        buffer, format="GIF", save_all=True, append_images=images[1:], duration=durations,
        loop=0, optimize=False,
    )
    atomic_write_bytes(Path(path), buffer.getvalue())
    return Path(path)


def _fit(frame: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    # A run's grids share a shape; an odd one (from an older config) is padded or cropped.
    if frame.shape == shape:
        return frame
    out = np.zeros(shape, dtype=np.uint8)
    h, w = min(shape[0], frame.shape[0]), min(shape[1], frame.shape[1])
    out[:h, :w] = frame[:h, :w]
    return out
