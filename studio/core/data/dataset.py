"""The in-memory dataset: every image as one uint8 tensor, plus labels."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch


@dataclass
class ImageData:
    """A whole split in memory. Batches are index lookups into ``images``."""

    name: str
    images: torch.Tensor  # uint8 (N, C, H, W)
    labels: torch.Tensor | None  # int64 (N,), None when unlabelled
    class_names: list[str] | None = None
    source: str = ""  # where it was read from, for messages and the GUI
    skipped: list[str] = field(default_factory=list)  # unreadable files that were left out
    # Plain lines for the person: what was found, skipped or decided (image folders fill it).
    notes: tuple[str, ...] = ()

    @property
    def num_classes(self) -> int | None:
        return len(self.class_names) if self.class_names else None

    @property
    def image_shape(self) -> tuple[int, int, int]:
        c, h, w = self.images.shape[1:]
        return int(c), int(h), int(w)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def to(self, device: torch.device | str) -> ImageData:
        labels = None if self.labels is None else self.labels.to(device)
        return replace(self, images=self.images.to(device), labels=labels)
