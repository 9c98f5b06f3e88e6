"""The embedded mnist-5k digits that ship in studio/resources/ (CC BY-SA 3.0, see its README)."""

from __future__ import annotations

from pathlib import Path

import torch

from studio.core.data.dataset import ImageData
from studio.core.data.idx import read_idx
from studio.core.errors import DataError

# Inside the package, so the editable install, a wheel and a PyInstaller bundle all find it
# beside the code (pyproject.toml lists it as package data).
RESOURCES = Path(__file__).resolve().parents[2] / "resources"
MNIST_5K = RESOURCES / "mnist-5k"
DIGITS = [str(i) for i in range(10)]


def load_idx_pair(images_path: Path, labels_path: Path, name: str) -> ImageData:
    """Read an IDX image file and its label file into an ImageData."""
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3:
        raise DataError(f"{images_path}: expected images of shape (N, H, W), got {images.shape}")
    if labels.ndim != 1:
        raise DataError(f"{labels_path}: expected labels of shape (N,), got {labels.shape}")
    if len(images) != len(labels):
        raise DataError(
            f"{images_path}: {len(images)} images but {labels_path.name} has {len(labels)} labels"
        )
    x = torch.from_numpy(images.astype("uint8", copy=True)).unsqueeze(1)
    y = torch.from_numpy(labels.astype("int64", copy=True))
    n_classes = int(y.max()) + 1 if len(y) else 0
    names = DIGITS if n_classes <= 10 else [str(i) for i in range(n_classes)]
    return ImageData(name, x.contiguous(), y, names, str(images_path.parent))


def load_mnist_5k(split: str = "train") -> ImageData:
    prefix = {"train": "train", "test": "t10k"}[split]
    return load_idx_pair(
        MNIST_5K / f"{prefix}-images-idx3-ubyte.gz",
        MNIST_5K / f"{prefix}-labels-idx1-ubyte.gz",
        "mnist-5k",
    )
