"""Reading MNIST, Fashion-MNIST, KMNIST, EMNIST and CIFAR-10 from a root folder.

The on-disk layout, file names and class names come from torchvision's dataset classes
(see catalog.py); the bytes do not go through torchvision's readers. Its IDX reader reads
a whole file before checking anything (a 2 GB file costs about 5 GB of memory before the
image and label counts are compared), so the MNIST family uses idx.py: both headers are
read and compared first, then each payload is read into one allocation. A split's files
may be plain or gzip-compressed (``name`` or ``name.gz``).

CIFAR-10 uses torchvision's layout but not its reader either: torchvision insists on the
published md5 of every batch and unpickles them with no restriction, while the house
rule is that files on disk are untrusted. Here the batches go through an unpickler that
only builds plain containers and numpy arrays.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from studio.core.data.catalog import (
    DatasetSpec,
    cifar_files,
    class_names,
    dataset_dir,
    idx_files,
    tv_class,
)
from studio.core.data.dataset import ImageData
from studio.core.data.idx import read_idx, read_idx_header
from studio.core.errors import DataError

MAX_PICKLE_BYTES = 256 * 1024**2  # a CIFAR-10 batch is about 31 MB


def load_idx_set(spec: DatasetSpec, root: Path, split: str) -> ImageData:
    """An MNIST-like split: both headers checked against each other, then the payloads read."""
    folder = dataset_dir(spec, root)
    images_path, labels_path = (_on_disk(folder / name) for name in idx_files(spec, split))
    _check_pair(images_path, labels_path)
    images = torch.from_numpy(read_idx(images_path))
    labels = torch.from_numpy(read_idx(labels_path).astype(np.int64))
    if spec.emnist_split:
        images = images.transpose(1, 2)  # EMNIST is stored transposed; make letters upright
    labels -= spec.label_offset
    classes = class_names(spec)[spec.label_offset :]
    _check_labels(labels_path, labels, len(classes))
    return ImageData(spec.name, images.unsqueeze(1).contiguous(), labels, classes, str(folder))


def _on_disk(path: Path) -> Path:
    """The plain file when it is there, else its hand-placed ``.gz`` (read as it is)."""
    gz = path.with_name(f"{path.name}.gz")
    return gz if not path.is_file() and gz.is_file() else path


def _check_pair(images_path: Path, labels_path: Path) -> None:
    """Shapes, types and counts from the headers alone: nothing is allocated yet."""
    images, labels = read_idx_header(images_path), read_idx_header(labels_path)
    if images.dtype != np.uint8 or len(images.shape) != 3:
        raise DataError(
            f"{images_path}: expected uint8 images (N, H, W), got {images.dtype} {images.shape}"
        )
    if labels.dtype.kind not in "iu" or len(labels.shape) != 1:
        raise DataError(
            f"{labels_path}: expected integer labels (N,), got {labels.dtype} {labels.shape}"
        )
    if images.shape[0] != labels.shape[0]:
        raise DataError(
            f"{images_path}: {images.shape[0]:,} images but {labels_path.name} has "
            f"{labels.shape[0]:,} labels"
        )


def load_cifar(spec: DatasetSpec, root: Path, split: str) -> ImageData:
    """CIFAR-10 batches (pickled dicts of uint8 rows) through the restricted unpickler."""
    folder = dataset_dir(spec, root)
    classes = _cifar_classes(folder, tv_class(spec).meta)
    images, labels = [], []
    for name in cifar_files(spec, split):
        rows, targets = _cifar_batch(folder / name)
        images.append(rows)
        labels.append(targets)
    x = torch.from_numpy(np.concatenate(images).reshape(-1, 3, 32, 32))  # rows are CHW already
    y = torch.from_numpy(np.concatenate(labels))
    _check_labels(folder / cifar_files(spec, split)[0], y, len(classes))
    return ImageData(spec.name, x.contiguous(), y, classes, str(folder))


class _ArrayUnpickler(pickle.Unpickler):
    """Builds dicts, lists, strings, numbers and numpy arrays; refuses everything else."""

    _ALLOWED = {
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy._core.numeric", "_frombuffer"),  # numpy's pickle protocol 5 form
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how Python 3 writes bytes at pickle protocol 2
        ("builtins", "bytearray"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("numpy.core"):  # pickles from numpy 1.x (and Python 2)
            module = "numpy._core" + module[len("numpy.core") :]
        if module == "__builtin__":  # Python 2's name, still written at protocol 2
            module = "builtins"
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def unpickle(path: Path) -> dict[str, Any]:
    """Read a pickled dict of arrays safely; DataError names the file and the problem."""
    try:
        size = path.stat().st_size
        if size > MAX_PICKLE_BYTES:
            raise DataError(f"{path}: {size:,} bytes, too big for a dataset batch")
        with path.open("rb") as handle:
            value = _ArrayUnpickler(handle, encoding="latin1").load()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (
        OSError,
        EOFError,
        pickle.UnpicklingError,
        ValueError,
        TypeError,
        AttributeError,
    ) as exc:
        raise DataError(
            f"{path}: not a readable dataset batch ({exc or type(exc).__name__})"
        ) from None
    if not isinstance(value, dict):
        raise DataError(f"{path}: expected a pickled dict, got {type(value).__name__}")
    return {_text(k): v for k, v in value.items()}


def _cifar_classes(folder: Path, meta: dict[str, str]) -> list[str]:
    path = folder / meta["filename"]
    names = _field(path, unpickle(path), meta["key"])
    if not isinstance(names, list | tuple):
        raise DataError(f"{path}: {meta['key']!r} must be a list of class names")
    return [_text(name) for name in names]


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    entry = unpickle(path)
    rows = _field(path, entry, "data")
    targets = entry.get("labels", entry.get("fine_labels"))
    if (
        not isinstance(rows, np.ndarray)
        or rows.dtype != np.uint8
        or rows.ndim != 2
        or rows.shape[1] != 3 * 32 * 32
    ):
        got = f"{rows.dtype} {rows.shape}" if isinstance(rows, np.ndarray) else type(rows).__name__
        raise DataError(f"{path}: 'data' must be uint8 rows of 3072 values, got {got}")
    try:
        labels = np.asarray(targets, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError):
        raise DataError(f"{path}: 'labels' must be a list of class numbers") from None
    if len(labels) != len(rows):
        raise DataError(f"{path}: {len(rows)} images but {len(labels)} labels")
    return rows, labels


def _field(path: Path, entry: dict[str, Any], key: str) -> Any:
    if key not in entry:
        raise DataError(f"{path}: no {key!r} entry (keys: {', '.join(entry) or 'none'})")
    return entry[key]


def _text(value: Any) -> str:
    return value.decode("latin1") if isinstance(value, bytes) else str(value)


def _check_labels(path: Path, labels: torch.Tensor, num_classes: int) -> None:
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise DataError(
            f"{path}: labels run from {int(labels.min())} to {int(labels.max())}, "
            f"outside the {num_classes} classes"
        )
