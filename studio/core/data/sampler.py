"""Batches as index lookups into the whole uint8 dataset, held on the training device.

Epochs are shuffled permutations drawn from a torch.Generator; a batch that runs past
the end of one permutation continues into the next, so every image is seen once per
epoch and every batch is full. ``state_dict()`` holds the permutation, the position
and the generator's state, so a resumed run draws exactly the batches it would have.

Several processes (torchrun): ``shard = (rank, world)``. ``batch_size`` stays the global
batch; every rank draws the same permutation from the same seed and keeps its own
contiguous slice of each global batch, so together they see what one process would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from studio.core.data.dataset import ImageData
from studio.core.errors import DataError

DEVICE_SHARE = 0.5  # keep the dataset on a GPU only if it takes at most this share of free memory


class BatchSampler:
    """Shuffled batches of a dataset as float tensors in [-1, 1] on ``device``."""

    def __init__(
        self,
        data: ImageData,
        batch_size: int,
        generator: torch.Generator,
        device: torch.device | str = "cpu",
        augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
        shard: tuple[int, int] = (0, 1),
    ) -> None:
        if len(data) == 0:
            raise DataError(f"{data.name}: the dataset has no images")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.device = _concrete(torch.device(device))
        self.batch_size = batch_size
        self.rank, self.world = shard
        if batch_size % self.world:
            raise ValueError(f"batch_size {batch_size} does not divide among {self.world} processes")
        self.generator = generator
        self.augment = augment
        self.num_images = len(data)
        home = self.device if fits_on_device(data.images, self.device) else torch.device("cpu")
        self.images = data.images.to(home)
        self.labels = None if data.labels is None else data.labels.to(home)
        self.epoch = 0
        self._perm = self._new_perm()
        self._pos = 0

    @property
    def on_device(self) -> bool:
        """Whether the whole dataset sits on the training device (else batches are copied)."""
        return self.images.device == self.device

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The next batch: images float (B, C, H, W) in [-1, 1] and labels int64 (B,) or None."""
        index = self._take(self.batch_size)
        if self.world > 1:
            per = self.batch_size // self.world
            index = index[self.rank * per : (self.rank + 1) * per]
        x = self.images[index].to(self.device, non_blocking=True).float().div_(127.5).sub_(1.0)
        y = None if self.labels is None else self.labels[index].to(self.device, non_blocking=True)
        if self.augment is not None:
            x = self.augment(x)
        return x, y

    def state_dict(self) -> dict[str, Any]:
        return {
            "perm": self._perm.cpu(),
            "pos": self._pos,
            "epoch": self.epoch,
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        perm = torch.as_tensor(state["perm"], dtype=torch.int64).cpu()
        pos = int(state["pos"])
        if perm.ndim != 1 or not 0 <= pos <= len(perm):
            raise DataError("the saved batch order is damaged")
        if len(perm) < self.num_images or int(perm.max()) >= self.num_images or int(perm.min()) < 0:
            raise DataError(
                f"the saved batch order is for another dataset, not this one of {self.num_images} images"
            )
        self._perm = perm.to(self.images.device)
        self._pos = pos
        self.epoch = int(state["epoch"])
        self.generator.set_state(state["generator"])

    def _take(self, count: int) -> torch.Tensor:
        while len(self._perm) - self._pos < count:
            self._perm = torch.cat([self._perm[self._pos :], self._new_perm()])
            self._pos = 0
            self.epoch += 1
        index = self._perm[self._pos : self._pos + count]
        self._pos += count
        return index

    def _new_perm(self) -> torch.Tensor:
        perm = torch.randperm(
            self.num_images, generator=self.generator, device=self.generator.device
        )
        return perm.to(self.images.device)


def _concrete(device: torch.device) -> torch.device:
    """Turn "cuda" into "cuda:0" (the current one): it then equals a tensor's device."""
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return device


def fits_on_device(images: torch.Tensor, device: torch.device) -> bool:
    """True on CPU and MPS; on CUDA when the data takes at most DEVICE_SHARE of free memory."""
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    return images.numel() * images.element_size() <= DEVICE_SHARE * free
