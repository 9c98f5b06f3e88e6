"""Many samples into one file, in batches: an .npz of uint8 images or a PNG grid.

The model samples ``batch_size_for`` images at a time and each batch is streamed into
the output (the .npz's ``images.npy`` is written as it comes; a PNG grid is pasted
into its canvas), so memory is bounded by one batch plus, for a PNG, the grid itself.
The bounds on ``n`` (``sample_limit``) keep a file within what a person can use; the
error states them. The file appears complete (fileio.atomic_open) or not at all.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch

from studio.core.errors import StudioError
from studio.core.fileio import atomic_open, atomic_write_bytes

MAX_SAMPLES = 1_000_000
MAX_NPZ_BYTES = 16 * 1024**3
MAX_GRID_PIXELS = 32 * 1024**2  # a 5,800 px square grid: about 100 MB of RGB in memory
BATCH_BYTES = 64 * 1024**2  # float32 images per sampling batch
MAX_BATCH = 256
PADDING = 2
PAD_VALUE = 64  # round(0.25 * 255), as grid.make_grid pads


def sample_limit(suffix: str, image_shape: tuple[int, int, int]) -> tuple[int, str]:
    """The largest ``n`` for an output of this kind, and the bound that sets it."""
    c, h, w = image_shape
    if suffix == ".png":
        per_image = (h + PADDING) * (w + PADDING)
        return max(1, MAX_GRID_PIXELS // per_image), f"a PNG grid of at most {MAX_GRID_PIXELS // 1024**2} megapixels"
    by_bytes = MAX_NPZ_BYTES // (c * h * w)
    if by_bytes < MAX_SAMPLES:
        return by_bytes, f"an .npz of at most {MAX_NPZ_BYTES // 1024**3} GiB"
    return MAX_SAMPLES, f"an .npz of at most {MAX_SAMPLES:,} samples"


def check_count(n: int, suffix: str, image_shape: tuple[int, int, int]) -> None:
    limit, why = sample_limit(suffix, image_shape)
    if n > limit:
        c, h, w = image_shape
        hint = "; use .npz for more" if suffix == ".png" else "; draw several files with other --seed values"
        raise StudioError(f"--n must be at most {limit:,} for {c}x{h}x{w} images ({why}), got {n:,}{hint}")


def batch_size_for(image_shape: tuple[int, int, int]) -> int:
    c, h, w = image_shape
    return max(1, min(MAX_BATCH, BATCH_BYTES // (4 * c * h * w)))


Draw = Callable[[int, torch.Tensor | None], tuple[torch.Tensor, torch.Tensor | None]]
Batch = tuple[np.ndarray, dict[str, np.ndarray]]  # (b, H, W, C) uint8 images, per-sample extras


def sample_batches(draw: Draw, n: int, labels: torch.Tensor | None, batch: int) -> Iterator[Batch]:
    """``n`` samples in batches of ``batch``: ``draw(size, labels)`` gives images in [0, 1]
    and, for an ensemble, which member drew each (else None)."""
    for start in range(0, n, batch):
        size = min(batch, n - start)
        part = None if labels is None else labels[start : start + size]
        images, members = draw(size, part)
        extras = {} if part is None else {"labels": part.to(torch.int64).cpu().numpy()}
        if members is not None:
            extras["members"] = members.to(torch.int64).cpu().numpy()
        array = images.mul(255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        yield array, extras


def write_samples(path: Path, batches: Iterator[Batch], n: int,
                  progress: Callable[[int], None] = lambda _n: None) -> None:
    """An .npz or a PNG grid (by ``path``'s suffix) of the ``n`` samples ``batches`` give.
    The first batch shows the real image size (an upscaler changes it): ``n`` is checked
    against it before anything is written."""
    first = next(batches)
    h, w, c = first[0].shape[1:]
    check_count(n, path.suffix.lower(), (c, h, w))

    def every() -> Iterator[Batch]:
        yield first
        yield from batches

    if path.suffix.lower() == ".png":
        write_grid(path, every(), n, (c, h, w), progress)
    else:
        write_npz(path, every(), n, (c, h, w), progress)


def write_npz(path: Path, batches: Iterator[Batch], n: int, image_shape: tuple[int, int, int],
              progress: Callable[[int], None] = lambda _n: None) -> None:
    """``images`` (N, H, W) or (N, H, W, C) uint8 plus the extras (``labels``, ``members``)
    as int64, as np.savez writes them (a stored zip of .npy files), without holding the
    images in memory (the extras, 8 bytes a sample, are kept until the end)."""
    c, h, w = image_shape
    shape = (n, h, w) if c == 1 else (n, h, w, c)
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)), "fortran_order": False, "shape": shape}
    extras: dict[str, list[np.ndarray]] = {}
    with atomic_open(path, "wb") as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        with zf.open("images.npy", "w", force_zip64=True) as entry:
            np.lib.format.write_array_header_1_0(entry, header)
            for array, more in batches:
                entry.write(np.ascontiguousarray(array[..., 0] if c == 1 else array).tobytes())
                for key, values in more.items():
                    extras.setdefault(key, []).append(values)
                progress(len(array))
        for key, parts in extras.items():
            with zf.open(f"{key}.npy", "w") as entry:
                np.lib.format.write_array(entry, np.concatenate(parts))


def write_grid(path: Path, batches: Iterator[Batch], n: int, image_shape: tuple[int, int, int],
               progress: Callable[[int], None] = lambda _n: None) -> None:
    """A square-ish grid (ceil(sqrt(n)) per row) of every sample, laid out as grid.make_grid."""
    from studio.core.train.grid import png_bytes

    _, h, w = image_shape
    columns = int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / columns))
    canvas = np.full((rows * (h + PADDING) + PADDING, columns * (w + PADDING) + PADDING, 3), PAD_VALUE, np.uint8)
    index = 0
    for array, _extras in batches:
        for image in array:
            y, x = divmod(index, columns)
            top, left = y * (h + PADDING) + PADDING, x * (w + PADDING) + PADDING
            canvas[top : top + h, left : left + w] = image  # a grey channel broadcasts to RGB
            index += 1
        progress(len(array))
    atomic_write_bytes(path, png_bytes(canvas))
