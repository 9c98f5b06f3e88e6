"""Datasets as whole uint8 tensors: the embedded digits, torchvision sets, image folders."""

from studio.core.data.dataset import ImageData
from studio.core.data.registry import load_dataset

__all__ = ["ImageData", "load_dataset"]
