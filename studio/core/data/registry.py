"""Turns a DataConfig into ImageData. (Minimal: the embedded set; extended by the data work.)"""

from __future__ import annotations

from studio.core.config import DataConfig
from studio.core.data.dataset import ImageData
from studio.core.data.embedded import load_mnist_5k
from studio.core.errors import DataError


def load_dataset(cfg: DataConfig, split: str = "train") -> ImageData:
    if cfg.dataset == "mnist-5k":
        return load_mnist_5k(split)
    raise DataError(f"unknown dataset {cfg.dataset!r}")
