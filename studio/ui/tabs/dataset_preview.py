"""What the Dataset tab shows of a dataset, computed off the GUI thread and Qt-free.

``build_preview`` loads the train split on a TaskRunner thread and condenses it to numpy
arrays (a labelled grid, class counts, a few images for the augmentation preview):
the views never hold the torch tensors of the whole set. ``augment_batch`` applies the
trainer's own augmenter to those few images.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np

from studio.core.config import AugmentConfig, DataConfig
from studio.core.explore.images import tile

PREVIEW_COLUMNS = 10
PREVIEW_ROWS = 10
AUGMENT_SAMPLES = 16


@dataclass(frozen=True)
class DatasetPreview:
    name: str
    count: int
    shape: tuple[int, int, int]
    class_names: tuple[str, ...]
    counts: np.ndarray  # images per class (empty when unlabelled)
    grid: np.ndarray  # uint8 (H, W, 3): one row per class when labelled
    row_labels: tuple[str, ...]
    batch: np.ndarray  # uint8 (n, C, H, W) for the augmentation preview
    source: str
    skipped: int
    notes: tuple[str, ...] = ()  # an image folder's summary and its size/colour decision


def nchw_to_rgb(images: np.ndarray) -> np.ndarray:
    """uint8 (N, C, H, W) -> (N, H, W, 3)."""
    x = np.transpose(images, (0, 2, 3, 1))
    return np.ascontiguousarray(np.repeat(x, 3, axis=3) if x.shape[3] == 1 else x[..., :3])


def build_preview(cfg: DataConfig, seed: int = 0) -> DatasetPreview:
    """Load the train split (on a worker thread) and condense it for the views."""
    from studio.core.data import load_dataset

    data = load_dataset(cfg, "train")
    images = data.images.cpu().numpy()
    rng = np.random.default_rng(seed)
    names = tuple(data.class_names or ())
    if data.labels is not None and names:
        labels = data.labels.cpu().numpy()
        counts = np.bincount(labels, minlength=len(names))
        shown = [c for c in range(len(names)) if counts[c]][:PREVIEW_ROWS]
        picks = []
        for c in shown:
            idx = np.flatnonzero(labels == c)
            picks.append(rng.choice(idx, size=min(PREVIEW_COLUMNS, len(idx)), replace=False))
        cells = [np.pad(nchw_to_rgb(images[p]), ((0, PREVIEW_COLUMNS - len(p)), (0, 0), (0, 0), (0, 0))) for p in picks]
        grid = tile(np.concatenate(cells), PREVIEW_COLUMNS, pad=1, fill=64)
        row_labels = tuple(names[c] for c in shown)
    else:
        counts = np.zeros(0)
        pick = rng.choice(len(images), size=min(len(images), PREVIEW_COLUMNS * 8), replace=False)
        grid = tile(nchw_to_rgb(images[pick]), PREVIEW_COLUMNS, pad=1, fill=64)
        row_labels = ()
    batch = images[rng.choice(len(images), size=min(AUGMENT_SAMPLES, len(images)), replace=False)]
    return DatasetPreview(
        data.name, len(data), data.image_shape, names, counts, grid, row_labels, np.ascontiguousarray(batch),
        data.source, len(data.skipped), tuple(data.notes),
    )


def preview_text(preview: DatasetPreview) -> str:
    """The rich text above the grid: counts, shape, and what the loader found and decided."""
    c, h, w = preview.shape
    colour = "grey" if c == 1 else "RGB"
    classes = f"{len(preview.class_names)} classes" if preview.class_names else "unlabelled"
    skipped = f" · {preview.skipped} unreadable files skipped" if preview.skipped else ""
    notes = "".join(f"<br>{html.escape(line)}" for line in preview.notes)
    return (
        f"<b>{html.escape(preview.name)}</b> · {preview.count:,} training images · {h}×{w} pixels · "
        f"{c} channel{'s' if c > 1 else ''} ({colour}) · {classes}{skipped}<br>"
        f"<small>{html.escape(preview.source)}{notes}</small>"
    )


def augment_batch(batch: np.ndarray, cfg: AugmentConfig, seed: int) -> np.ndarray:
    """The augmenter the trainer will use, applied to a few real images: uint8 (n, H, W, 3)."""
    import torch

    from studio.core.data import make_augmenter

    augment = make_augmenter(cfg, batch.shape[1], torch.Generator().manual_seed(seed))  # repeatable
    x = torch.from_numpy(batch).float().div(127.5).sub(1)
    if augment is not None:
        x = augment(x)
    out = x.add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8).numpy()
    return nchw_to_rgb(out)
