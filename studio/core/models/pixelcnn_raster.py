"""PixelCNN's 8-bit symbols and its raster-order sampler (studio.core.models.pixelcnn).

``Raster`` is one sampling run over a batch: every pixel's uniform drawn up front from
the caller's generator, then for each pixel in raster order its logits (the cached
stacks over the receptive field only, or a full forward pass when ``naive``), classifier-
free guidance when asked, and an inverse-CDF draw of its level at its uniform. Both
samplers therefore give the same images for the same seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from studio.core.errors import SamplingCancelled
from studio.core.models.base import seeded

if TYPE_CHECKING:
    from studio.core.models.pixelcnn import PixelCNN

LEVELS = 256  # 8-bit grey levels
StopFn = Callable[[], bool]


@dataclass(frozen=True)
class SampleProgress:
    """One step of ``iter_sample``: the images so far and how likely each chosen value was.

    ``images``: (N, C, H, W) in [0, 1] on the CPU, pixels not yet sampled are 0.
    ``probs``: (N, C, H, W) probability of each sampled value under the distribution it was
    drawn from (tempered); NaN where nothing was sampled (not yet, or a known pixel).
    ``row``/``col``: the pixel (or the row's last pixel) just done; ``done`` on the last.
    """

    row: int
    col: int
    images: torch.Tensor
    probs: torch.Tensor
    done: bool


def to_symbols(images01: torch.Tensor) -> torch.Tensor:
    """[0, 1] images -> int64 8-bit grey levels."""
    return images01.float().mul(LEVELS - 1).round().clamp(0, LEVELS - 1).long()


def from_symbols(symbols: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """8-bit grey levels -> the network's input in [-1, 1] (level / 127.5 - 1, as batches are)."""
    return symbols.to(dtype).div((LEVELS - 1) / 2).sub(1)


class Raster:
    """One raster-order sampling run over a batch: the state the samplers share."""

    def __init__(self, model: PixelCNN, images01: torch.Tensor | None, known_mask: torch.Tensor | None,
                 labels: torch.Tensor | int | None, generator: torch.Generator | None, options: dict,
                 n: int | None, naive: bool):
        self.model = model
        self.temperature = options["temperature"]
        self.guidance = options.get("guidance", 0.0)
        self.naive = naive
        c, h, w = model.image_shape
        if images01 is None:
            if n is None:
                raise ValueError("give the number of images n, or images to complete")
            symbols = torch.zeros(n, c, h, w, dtype=torch.long)
            known = torch.zeros(n, c, h, w, dtype=torch.bool)
        else:
            if known_mask is None:
                raise ValueError("completing images needs known_mask: which of their pixels to keep")
            symbols = to_symbols(images01.detach().cpu())
            n = symbols.shape[0]
            known = torch.as_tensor(known_mask).cpu().bool().expand(n, c, h, w).clone()
            symbols = symbols.masked_fill(~known, 0)
        gen = generator if generator is not None else seeded(None)
        # Every pixel's uniform up front: the images do not depend on which sampler (or which
        # pixels are known) consumes them. The draws happen on the CPU in float64 (MPS has
        # no float64; a pixel's logits are small), only the network's input lives on its device.
        self.uniforms = torch.rand(n, c, h, w, generator=gen, device=gen.device, dtype=torch.float64).cpu()
        self.symbols = symbols
        self.known = known
        self.probs = torch.full((n, c, h, w), math.nan, dtype=torch.float64)
        labels = model.labels_for(n, labels)
        # Guidance runs the batch twice over, once with the labels and once with "no label".
        self.copies = 2 if self.guidance > 0 else 1
        if self.copies == 2:
            labels = torch.cat([labels, torch.full_like(labels, model.null_label)])
        self.x = from_symbols(symbols, model.dtype).to(model.device).repeat(self.copies, 1, 1, 1)
        self.biases = model.class_biases(labels)
        self.links: list[torch.Tensor] = []

    def steps(self, by: str, should_stop: StopFn | None) -> Iterator[SampleProgress]:
        if by not in ("pixel", "row", "image"):
            raise ValueError(f"by must be pixel, row or image, got {by!r}")
        _, _, h, w = self.x.shape
        for i in range(h):
            todo_row = not bool(self.known[:, :, i].all())
            if todo_row and not self.naive:
                self._row_links(i)
            for j in range(w):
                if should_stop is not None and should_stop():
                    raise SamplingCancelled(f"sampling stopped at pixel ({i}, {j})")
                if todo_row and not bool(self.known[:, :, i, j].all()):
                    self._draw(i, j, self._logits(i, j))
                last = i == h - 1 and j == w - 1
                if by == "pixel" or (by == "row" and j == w - 1) or last:
                    yield self._progress(i, j, last)

    def _row_links(self, i: int) -> None:
        """The vertical stack's links for row i, computed from the receptive field's rows only."""
        start = max(0, i - self.model.receptive_field)
        links = self.model.vertical_stack(self.x[:, :, start : i + 1], self.biases, row=start)
        self.links = [link[:, :, -1:] for link in links]

    def _logits(self, i: int, j: int) -> torch.Tensor:
        """Logits (N, 256, C) of pixel (i, j) given everything before it (guided when asked)."""
        if self.naive:
            logits = self.model.horizontal_stack(self.x, self.model.vertical_stack(self.x, self.biases),
                                                 self.biases)[..., i, j]
        else:
            start = max(0, j - self.model.receptive_field)
            row = self.x[:, :, i : i + 1, start : j + 1]
            links = [link[..., start : j + 1] for link in self.links]
            logits = self.model.horizontal_stack(row, links, self.biases, row=i, col=start)[..., 0, -1]
        logits = logits.cpu().double()
        if self.copies == 1:
            return logits
        # Classifier-free guidance (Ho & Salimans 2022) on each pixel's conditional:
        # log p_w(x_i | x_<i, y) ∝ (1 + w) log p(x_i | x_<i, y) − w log p(x_i | x_<i).
        cond, uncond = logits.chunk(2)
        return cond.log_softmax(1) * (1 + self.guidance) - uncond.log_softmax(1) * self.guidance

    def _draw(self, i: int, j: int, logits: torch.Tensor) -> None:
        """Inverse-CDF draw of each unknown value of pixel (i, j) at its pre-drawn uniform."""
        probs = torch.softmax(logits / self.temperature, dim=1)  # (N, 256, C)
        cdf = probs.cumsum(dim=1)
        level = (cdf < self.uniforms[:, None, :, i, j]).sum(dim=1).clamp_(max=LEVELS - 1)  # (N, C)
        chosen = probs.gather(1, level[:, None]).squeeze(1)
        unknown = ~self.known[:, :, i, j]
        self.symbols[:, :, i, j] = torch.where(unknown, level, self.symbols[:, :, i, j])
        value = from_symbols(self.symbols[:, :, i, j], self.x.dtype).to(self.x.device)
        self.x[:, :, i, j] = value.repeat(self.copies, 1)
        self.probs[:, :, i, j] = torch.where(unknown, chosen, self.probs[:, :, i, j])

    def _progress(self, i: int, j: int, done: bool) -> SampleProgress:
        return SampleProgress(i, j, self.symbols.float().div(LEVELS - 1), self.probs.float(), done)
