"""Image folders: PNG and JPEG files decoded once, at load time, into one uint8 tensor.

Layout: one subfolder per class gives labels (class names are the sorted subfolder
names; images may sit deeper inside a class folder); a folder of images with no class
subfolders is unlabelled. Files are untrusted: one that cannot be decoded is listed in
``ImageData.skipped`` with the reason, and loading goes on.

Size: every image is centre-cropped to a square and resized to ``image_size``. With
``image_size`` 0 the size is taken from the first readable image (its shorter side),
capped at ``AUTO_SIZE_CAP`` and rounded down to a multiple of 4 (at least 8), so that a
folder of photos does not fill memory and the convolutional models accept it.

Channels: 1 or 3 as asked; 0 means grey when every image is grey (a grey-mode file,
or an RGB file whose three channels are equal) and RGB otherwise. Alpha is dropped.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from studio.core.data.dataset import ImageData
from studio.core.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
AUTO_SIZE_CAP = 64
_GREY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass
class _Listing:
    files: list[Path]
    labels: list[int] | None
    class_names: list[str] | None
    skipped: list[str]


def load_image_folder(
    folder: str | os.PathLike[str],
    image_size: int = 0,
    channels: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> ImageData:
    """Decode every PNG/JPEG under ``folder``; ``progress(done, total)`` per file."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise DataError(f"{root}: not a folder of images")
    listing = _list_images(root)
    decoded: list[np.ndarray] = []
    labels: list[int] = []
    size = image_size or None
    for i, path in enumerate(listing.files):
        try:
            decoded.append(_decode(path, size))
            size = decoded[-1].shape[0]
        except Exception as exc:  # any decoder failure on an untrusted file: list it, go on
            listing.skipped.append(f"{path.relative_to(root)}: {_reason(exc)}")
        else:
            if listing.labels is not None:
                labels.append(listing.labels[i])
        if progress is not None:
            progress(i + 1, len(listing.files))
    if not decoded:
        raise DataError(f"{root}: no readable PNG or JPEG images{_skipped_note(listing.skipped)}")
    images = _stack(decoded, channels)
    y, names = _compact_labels(labels, listing.class_names)
    return ImageData(root.name or str(root), images, y, names, str(root), listing.skipped)


def auto_size(width: int, height: int) -> int:
    """The size chosen from the first image when image_size is 0 (see the module docstring)."""
    return max(8, min(width, height, AUTO_SIZE_CAP) // 4 * 4)


def _list_images(root: Path) -> _Listing:
    class_dirs = sorted(
        d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".") and _images_in(d)
    )
    top = sorted(p for p in root.iterdir() if _is_image(p))
    if not class_dirs:
        return _Listing(top, None, None, [])
    files: list[Path] = []
    labels: list[int] = []
    for index, class_dir in enumerate(class_dirs):
        found = sorted(
            p for p in class_dir.rglob("*") if _is_image(p) and not _hidden(p, class_dir)
        )
        files += found
        labels += [index] * len(found)
    skipped = [f"{p.name}: outside the class subfolders" for p in top]
    return _Listing(files, labels, [d.name for d in class_dirs], skipped)


def _images_in(folder: Path) -> bool:
    return any(_is_image(p) for p in folder.rglob("*"))


def _is_image(path: Path) -> bool:
    return (
        path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".") and path.is_file()
    )


def _hidden(path: Path, base: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(base).parts)


def _decode(path: Path, size: int | None) -> np.ndarray:
    """One file as uint8 (size, size) for grey or (size, size, 3) for colour."""
    with Image.open(path) as img:
        size = size or auto_size(*img.size)
        img.draft(img.mode, (size, size))  # JPEG: decode at a reduced scale when large
        img.load()
        grey = img.mode in _GREY_MODES
        img = _to_8bit(img) if grey else img.convert("RGB")
        img = _square(img, size)
        arr = np.asarray(img)
    if not grey and (arr[..., 0] == arr[..., 1]).all() and (arr[..., 1] == arr[..., 2]).all():
        return arr[..., 0].copy()
    return arr.copy()


def _to_8bit(img: Image.Image) -> Image.Image:
    if img.mode in ("1", "L", "LA", "La"):
        return img.convert("L")
    values = np.asarray(img, dtype=np.float64)  # 16-bit or float grey
    top = 65535.0 if values.max() > 255 else 255.0
    return Image.fromarray(np.clip(values * (255.0 / top), 0, 255).round().astype(np.uint8))


def _square(img: Image.Image, size: int) -> Image.Image:
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    if (w, h) == (size, size):
        return img
    return img.resize(
        (size, size), Image.Resampling.LANCZOS, box=(left, top, left + side, top + side)
    )


def _stack(decoded: list[np.ndarray], channels: int) -> torch.Tensor:
    if channels == 0:
        channels = 1 if all(a.ndim == 2 for a in decoded) else 3
    size = decoded[0].shape[0]
    out = np.empty((len(decoded), channels, size, size), dtype=np.uint8)
    for i, arr in enumerate(decoded):
        if channels == 1:
            out[i, 0] = arr if arr.ndim == 2 else np.clip((arr @ _LUMA).round(), 0, 255)
        else:
            out[i] = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return torch.from_numpy(out)


def _compact_labels(
    labels: list[int], names: list[str] | None
) -> tuple[torch.Tensor | None, list[str] | None]:
    """Drop classes whose every file was unreadable, so labels stay 0..K-1."""
    if names is None:
        return None, None
    used = sorted(set(labels))
    remap = {old: new for new, old in enumerate(used)}
    y = torch.tensor([remap[v] for v in labels], dtype=torch.int64)
    return y, [names[i] for i in used]


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnidentifiedImageError):
        return "not a readable PNG or JPEG image"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _skipped_note(skipped: list[str]) -> str:
    if not skipped:
        return " (a class subfolder per class, or the images directly in it)"
    shown = "; ".join(skipped[:3]) + (f"; and {len(skipped) - 3} more" if len(skipped) > 3 else "")
    return f" (unreadable: {shown})"
