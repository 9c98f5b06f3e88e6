"""Turns a DataConfig into ImageData, and lists the datasets the studio knows.

``DataConfig.dataset`` is a registry name (see ``dataset_names()``) or the path of an
image folder. An image folder has a single split: "test" gives the same images. A
relative folder path is read from the current directory; ``absolute_dataset`` pins it
down before a config is saved, so a run resumed from elsewhere finds the same folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from studio.core.config import DataConfig
from studio.core.data.catalog import (
    SPECS,
    DatasetSpec,
    dataset_dir,
    get_spec,
    missing_files,
    resolve_root,
)
from studio.core.data.dataset import ImageData
from studio.core.data.download import (
    CancelFn,
    ProgressFn,
    download_dataset,
    manual_hint,
    remove_unpacked,
    unpack_idx_gz,
)
from studio.core.data.embedded import MNIST_5K, load_mnist_5k
from studio.core.data.folder import load_image_folder
from studio.core.data.prepare import fit_data
from studio.core.data.torchvision_sets import load_cifar, load_idx_set
from studio.core.errors import DataError

SPLITS = ("train", "test")


@dataclass(frozen=True)
class DatasetInfo:
    """One row of ``latent-studio datasets`` and of the GUI's dataset list."""

    name: str
    title: str
    available: bool  # on disk now, usable offline
    location: str  # the folder that holds (or will hold) its files
    size: str  # e.g. "28x28 grey, 10 classes, 60,000 train / 10,000 test"
    download_size: str = ""  # e.g. "about 12 MB"; "" for the built-in set
    shape: tuple[int, int, int] = (1, 28, 28)
    num_classes: int = 10


def load_dataset(
    cfg: DataConfig,
    split: str = "train",
    *,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> ImageData:
    """The split as one uint8 tensor, resized and converted per ``cfg`` once, here.

    ``progress``/``cancel`` follow a download (when ``cfg.download`` and files are
    missing) or report files decoded from an image folder.
    """
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; expected train or test")
    data = _load_source(cfg, split, progress, cancel)
    return fit_data(data, cfg.image_size, cfg.channels)


def absolute_dataset(dataset: str) -> str:
    """``dataset`` with a folder path made absolute; registry names (and unknown names that
    are not paths, so their error message stays "unknown dataset") are returned unchanged."""
    if not dataset or get_spec(dataset) is not None or not _looks_like_path(dataset):
        return dataset
    return os.path.abspath(os.path.expanduser(dataset))


def list_datasets(root: str | os.PathLike[str] = "") -> list[DatasetInfo]:
    """Every named dataset, whether it is on disk under ``root`` and where it lives."""
    root_path = resolve_root(root)
    return [_info(spec, root_path) for spec in SPECS.values()]


def _info(spec: DatasetSpec, root: Path) -> DatasetInfo:
    if spec.embedded:
        return DatasetInfo(
            spec.name,
            spec.title,
            True,
            str(MNIST_5K),
            spec.describe(),
            "",
            spec.shape,
            spec.num_classes,
        )
    return DatasetInfo(
        spec.name,
        spec.title,
        not missing_files(spec, root),
        str(dataset_dir(spec, root)),
        spec.describe(),
        f"about {spec.download_bytes / 1e6:,.0f} MB",
        spec.shape,
        spec.num_classes,
    )


def _load_source(
    cfg: DataConfig, split: str, progress: ProgressFn | None, cancel: CancelFn | None
) -> ImageData:
    spec = get_spec(cfg.dataset)
    if spec is None:
        folder = _as_folder(cfg.dataset)
        return load_image_folder(folder, cfg.image_size, cfg.channels, progress=progress)
    if spec.embedded:
        return load_mnist_5k(split)
    root = resolve_root(cfg.root)
    _ensure_on_disk(spec, root, cfg.download, progress, cancel)
    if spec.idx_layout:
        return _load_idx(spec, root, split)
    return load_cifar(spec, root, split)


def _load_idx(spec: DatasetSpec, root: Path, split: str) -> ImageData:
    """Unpack hand-placed .gz files (torchvision's layout wants them plain), then load;
    when the load fails, the copies unpacked here are removed: no large leftovers."""
    unpacked = unpack_idx_gz(spec, dataset_dir(spec, root))
    try:
        return load_idx_set(spec, root, split)
    except BaseException:
        remove_unpacked(unpacked)
        raise


def _ensure_on_disk(
    spec: DatasetSpec,
    root: Path,
    download: bool,
    progress: ProgressFn | None,
    cancel: CancelFn | None,
) -> None:
    missing = missing_files(spec, root)
    if not missing:
        return
    if not download:
        folder = dataset_dir(spec, root)
        raise DataError(
            f"{spec.name} is not on disk: {folder} lacks {', '.join(missing)}. "
            f"Set download = true in [data] (or fetch it with `latent-studio datasets`) to download it. "
            f"{manual_hint(spec, root)}"
        )
    download_dataset(spec.name, root, progress, cancel)


def _as_folder(value: str) -> Path:
    path = Path(absolute_dataset(value))
    if path.is_dir():
        return path
    if path.exists():
        raise DataError(
            f"{path}: is a file; data.dataset must name a dataset or a folder of images"
        )
    if _looks_like_path(value):
        raise DataError(f"{path}: no such folder of images")
    raise DataError(
        f"unknown dataset {value!r}; expected one of {', '.join(SPECS)}, or the path of an image folder"
    )


def _looks_like_path(value: str) -> bool:
    return (
        any(sep in value for sep in ("/", "\\", "~"))
        or value.startswith(".")
        or Path(value).expanduser().exists()
    )
