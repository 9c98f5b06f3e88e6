"""What every generative model offers the trainer, the explorer and the metrics."""

from __future__ import annotations

import torch
from torch import nn


class GenerativeModel(nn.Module):
    """A model that maps a latent z (and a class label when conditional) to an image.

    Subclasses implement ``decode``; images inside the models live in [-1, 1],
    ``sample`` hands them out in [0, 1].
    """

    family: str = ""

    def __init__(self, latent_dim: int, image_shape: tuple[int, int, int], num_classes: int | None):
        super().__init__()
        self.latent_dim = latent_dim
        self.image_shape = tuple(image_shape)
        self.num_classes = num_classes

    @property
    def conditional(self) -> bool:
        return self.num_classes is not None

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """(N, latent_dim) [+ (N,) labels] -> (N, C, H, W) images in [-1, 1]."""
        raise NotImplementedError

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.latent_dim, generator=generator, device="cpu").to(self.device)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @torch.no_grad()
    def sample(
        self,
        n: int,
        z: torch.Tensor | None = None,
        labels: torch.Tensor | int | None = None,
        seed: int | None = None,
    ) -> torch.Tensor:
        """n images in [0, 1]. Labels default to 0, 1, 2, ... cycling when conditional."""
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        z = self.sample_latent(n, generator) if z is None else z.to(self.device)
        labels = self._labels_for(n, labels)
        was_training = self.training
        self.eval()
        try:
            images = self.decode(z, labels)
        finally:
            self.train(was_training)
        return images.add(1).div(2).clamp(0, 1)

    def _labels_for(self, n: int, labels: torch.Tensor | int | None) -> torch.Tensor | None:
        if not self.conditional:
            return None
        if labels is None:
            labels = torch.arange(n) % self.num_classes
        elif isinstance(labels, int):
            labels = torch.full((n,), labels)
        labels = torch.as_tensor(labels, dtype=torch.long)
        if labels.numel() and not 0 <= int(labels.min()) <= int(labels.max()) < self.num_classes:
            raise ValueError(f"labels must be in 0..{self.num_classes - 1}")
        return labels.to(self.device)
