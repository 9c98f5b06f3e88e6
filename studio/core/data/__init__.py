"""Datasets as whole uint8 tensors: the embedded digits, torchvision sets, image folders.

``load_dataset(cfg, split)`` gives an ImageData; ``BatchSampler`` turns it into shuffled
float batches on the training device; ``make_augmenter`` builds per-image batch
augmentation; ``list_datasets``/``download_dataset`` serve the CLI and the dataset tab.
"""

from studio.core.data.augment import make_augmenter
from studio.core.data.catalog import dataset_names, default_root
from studio.core.data.dataset import ImageData
from studio.core.data.download import download_dataset
from studio.core.data.folder import load_image_folder
from studio.core.data.idx import read_idx
from studio.core.data.registry import DatasetInfo, list_datasets, load_dataset
from studio.core.data.sampler import BatchSampler
from studio.core.errors import DataError, DownloadCancelled

__all__ = [
    "BatchSampler",
    "DataError",
    "DatasetInfo",
    "DownloadCancelled",
    "ImageData",
    "dataset_names",
    "default_root",
    "download_dataset",
    "list_datasets",
    "load_dataset",
    "load_image_folder",
    "make_augmenter",
    "read_idx",
]
