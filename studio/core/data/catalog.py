"""The datasets the studio knows by name, and where torchvision keeps their files.

The on-disk layout (folder names, file names, URLs and checksums) is read from the
torchvision dataset classes themselves, so a root folder filled by torchvision, by
``latent-studio datasets`` or by hand with torchvision's layout all work.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

EMBEDDED = "mnist-5k"


@dataclass(frozen=True)
class DatasetSpec:
    """One named dataset: what it looks like and which torchvision class holds it."""

    name: str
    title: str
    tv_class: str  # the torchvision.datasets class; "" for the embedded set
    shape: tuple[int, int, int]  # (C, H, W)
    num_classes: int
    counts: tuple[int, int]  # train, test
    download_bytes: int = 0  # about how much a download fetches, for progress bars
    emnist_split: str = ""
    label_offset: int = 0  # EMNIST letters count from 1; we count from 0

    @property
    def embedded(self) -> bool:
        return not self.tv_class

    @property
    def idx_layout(self) -> bool:
        """MNIST-like: IDX files under <root>/<Class>/raw."""
        return self.tv_class in ("MNIST", "FashionMNIST", "KMNIST", "EMNIST")

    def describe(self) -> str:
        c, h, w = self.shape
        colour = "grey" if c == 1 else "RGB"
        train, test = self.counts
        return f"{h}x{w} {colour}, {self.num_classes} classes, {train:,} train / {test:,} test"


SPECS: dict[str, DatasetSpec] = {
    s.name: s
    for s in (
        DatasetSpec(
            EMBEDDED, "MNIST digits, 5k subset (built in)", "", (1, 28, 28), 10, (4500, 500)
        ),
        DatasetSpec("mnist", "MNIST digits", "MNIST", (1, 28, 28), 10, (60000, 10000), 11_594_722),
        DatasetSpec(
            "fashion-mnist",
            "Fashion-MNIST clothes",
            "FashionMNIST",
            (1, 28, 28),
            10,
            (60000, 10000),
            30_878_645,
        ),
        DatasetSpec(
            "kmnist",
            "Kuzushiji-MNIST (cursive Japanese)",
            "KMNIST",
            (1, 28, 28),
            10,
            (60000, 10000),
            21_240_888,
        ),
        DatasetSpec(
            "emnist-balanced",
            "EMNIST balanced (digits and letters)",
            "EMNIST",
            (1, 28, 28),
            47,
            (112800, 18800),
            561_753_746,
            emnist_split="balanced",
        ),
        DatasetSpec(
            "emnist-letters",
            "EMNIST letters",
            "EMNIST",
            (1, 28, 28),
            26,
            (124800, 20800),
            561_753_746,
            emnist_split="letters",
            label_offset=1,
        ),
        DatasetSpec(
            "cifar10",
            "CIFAR-10 small photos",
            "CIFAR10",
            (3, 32, 32),
            10,
            (50000, 10000),
            170_498_071,
        ),
    )
}


def dataset_names() -> list[str]:
    return list(SPECS)


def get_spec(name: str) -> DatasetSpec | None:
    return SPECS.get(name)


def default_root() -> Path:
    """The per-user folder for downloaded datasets (e.g. ~/.local/share/latent-studio/datasets)."""
    return Path(platformdirs.user_data_dir("latent-studio")) / "datasets"


def resolve_root(root: str | os.PathLike[str] = "") -> Path:
    return Path(root).expanduser() if str(root) else default_root()


def tv_class(spec: DatasetSpec) -> Any:
    """The torchvision class; imported late because torchvision.datasets is slow to import."""
    import torchvision.datasets

    return getattr(torchvision.datasets, spec.tv_class)


def class_names(spec: DatasetSpec) -> list[str]:
    """An IDX dataset's class names, as torchvision's class lists them (before label_offset)."""
    cls = tv_class(spec)
    if spec.emnist_split:
        return list(cls.classes_split_dict[spec.emnist_split])
    return list(cls.classes)


def dataset_dir(spec: DatasetSpec, root: Path) -> Path:
    """The folder that holds the dataset's files (what a person fills by hand)."""
    cls = tv_class(spec)
    if spec.idx_layout:
        return root / cls.__name__ / "raw"  # torchvision's MNIST.raw_folder
    return root / cls.base_folder


def idx_files(spec: DatasetSpec, split: str) -> tuple[str, str]:
    """Uncompressed (images, labels) file names of a split, as torchvision expects them."""
    if spec.emnist_split:
        prefix = f"emnist-{spec.emnist_split}-{split}"
        return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"
    names = [Path(name).stem for name, _ in tv_class(spec).resources]  # drop ".gz"
    wanted = "train" if split == "train" else "t10k"
    images = next(n for n in names if n.startswith(wanted) and "images" in n)
    labels = next(n for n in names if n.startswith(wanted) and "labels" in n)
    return images, labels


def cifar_files(spec: DatasetSpec, split: str | None = None) -> list[str]:
    """Batch file names of a split (both splits and the meta file when split is None)."""
    cls = tv_class(spec)
    train = [name for name, _ in cls.train_list]
    test = [name for name, _ in cls.test_list]
    if split == "train":
        return train
    if split == "test":
        return test
    return [*train, *test, cls.meta["filename"]]


def required_files(spec: DatasetSpec) -> list[str]:
    """Every file of both splits, relative to dataset_dir()."""
    if spec.idx_layout:
        return [*idx_files(spec, "train"), *idx_files(spec, "test")]
    return cifar_files(spec)


def missing_files(spec: DatasetSpec, root: Path) -> list[str]:
    """Required files that are neither there nor there as ``name.gz`` (which we can unpack)."""
    folder = dataset_dir(spec, root)
    return [
        name
        for name in required_files(spec)
        if not (folder / name).is_file()
        and not (spec.idx_layout and (folder / f"{name}.gz").is_file())
    ]


def download_urls(spec: DatasetSpec) -> list[str]:
    """Where the files come from, for messages (first mirror of each file)."""
    cls = tv_class(spec)
    if spec.tv_class == "EMNIST":
        return [cls.url]
    if spec.idx_layout:
        return [f"{cls.mirrors[0]}{name}" for name, _ in cls.resources]
    return [cls.url]
