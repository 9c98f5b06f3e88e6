"""ESPCN: super-resolution with an efficient sub-pixel convolution (Shi et al. 2016).

Three convolutions run at the low resolution, f1 = 5x5 to n1 maps, f2 = 3x3 to n1/2
maps (tanh after each, eqs. 1-2), f3 = 3x3 to C·r² maps, and the periodic shuffle PS
rearranges (C·r², h, w) into (C, r·h, r·w) (eqs. 3-4; ``nn.PixelShuffle``). Working at
the low resolution, rather than on a bicubically pre-upscaled input like SRCNN, is the
paper's speed-up. Training regresses the real image from its downscaled copy with the
pixel-wise MSE of eq. 5; the pairs are made inside the step from real batches.

Capabilities: an upscaler (``is_upscaler``): ``upscale(images01)`` is r times larger,
no latent, not a sampler of new images (``sample`` raises).
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from studio.core.config import ConfigError
from studio.core.families.espcn import ESPCNConfig
from studio.core.models.base import GenerativeModel
from studio.core.train.algorithm import Algorithm, make_optimizer

UPSCALE_BATCH = 256  # images per forward pass in upscale(): bounds the memory of a large --n


def downscale(x: torch.Tensor, r: int, value_range: tuple[float, float] = (-1.0, 1.0)) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, H // r, W // r): antialiased bicubic, as the paper's training
    pairs (and MATLAB's imresize) are made; clamped to ``value_range`` like a saved image."""
    h, w = x.shape[-2:]
    low = F.interpolate(x, size=(h // r, w // r), mode="bicubic", antialias=True, align_corners=False)
    return low.clamp(*value_range)


def bicubic_upscale(low: torch.Tensor, r: int) -> torch.Tensor:
    """The baseline: plain bicubic interpolation r times larger (not clamped)."""
    h, w = low.shape[-2:]
    return F.interpolate(low, size=(h * r, w * r), mode="bicubic", align_corners=False)


def psnr_from_mse(mse01: torch.Tensor) -> torch.Tensor:
    """PSNR in dB of images in [0, 1]: 10 log10(1 / MSE), capped at 100 dB for identical images."""
    return -10 * torch.log10(mse01.clamp_min(1e-10))


class ESPCN(GenerativeModel):
    is_upscaler: ClassVar[bool] = True

    def __init__(self, cfg: ESPCNConfig, image_shape: tuple[int, int, int], num_classes: int | None):
        super().__init__(image_shape, None)  # no labels: the same digits upscale the same way
        c, h, w = image_shape
        r = self.scale = cfg.scale
        if h % r or w % r:
            raise ConfigError(f"model.scale {r} must divide the image size, got {h}x{w}")
        self.low_shape = (c, h // r, w // r)
        act = nn.Tanh if cfg.activation == "tanh" else nn.ReLU
        n1, n2 = cfg.width, max(cfg.width // 2, 1)
        # Replicate padding: zero padding means mid-grey in [-1, 1], a false edge at every border.
        pad = dict(padding_mode="replicate")
        self.net = nn.Sequential(
            nn.Conv2d(c, n1, 5, padding=2, **pad), act(),
            nn.Conv2d(n1, n2, 3, padding=1, **pad), act(),
            nn.Conv2d(n2, c * r * r, 3, padding=1, **pad),
            nn.PixelShuffle(r),
        )

    def forward(self, low: torch.Tensor) -> torch.Tensor:
        """(N, C, h, w) in [-1, 1] -> (N, C, r·h, r·w), unclamped; any h and w."""
        return self.net(low)

    @torch.no_grad()
    def upscale(self, images01: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] of any size -> r times larger, in [0, 1], on the input's device."""
        if images01.dim() != 4 or images01.shape[1] != self.image_shape[0]:
            raise ValueError(f"the {self.family} model upscales (N, {self.image_shape[0]}, H, W) images, "
                             f"got {tuple(images01.shape)}")
        was_training = self.training
        self.eval()
        try:
            out = [self(chunk.to(self.device).float() * 2 - 1).add(1).div(2).clamp(0, 1).to(images01.device)
                   for chunk in images01.split(UPSCALE_BATCH)]
        finally:
            self.train(was_training)
        return torch.cat(out) if out else images01.new_zeros(0, images01.shape[1], *(s * self.scale for s in images01.shape[2:]))

    def onnx_module(self):
        """For ONNX export: the upscaler, image -> image ``scale`` times larger, both in [0, 1],
        of any height and width."""
        from studio.core.onnx_export import OnnxGraph

        low = tuple(self.low_shape)

        def make_inputs(n: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
            return (torch.rand(n, *low, generator=generator),)

        usage = (f"upscaled = network(image): (N, {low[0]}, {self.scale}·h, {self.scale}·w) in [0, 1] from images "
                 f"(N, {low[0]}, h, w) in [0, 1] of any h and w (trained on {low[1]}x{low[2]})")
        return OnnxGraph(Upscale01(self), make_inputs, ("image",), ("upscaled",), "upscaler (image) -> upscaled",
                         usage, dynamic_axes={"image": {2: "height", 3: "width"}}, metadata={"scale": str(self.scale)})

    def _sample(self, n, labels, generator, z, options) -> torch.Tensor:
        raise TypeError(f"the {self.family} model upscales images, it does not sample new ones: use "
                        "upscale(images), or `latent-studio sample GENERATOR --upscale THIS_RUN`")


class Upscale01(nn.Module):
    """For ONNX export: images in [0, 1] -> r times larger in [0, 1] (``upscale`` in one pass)."""

    def __init__(self, model: ESPCN):
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.model(image * 2 - 1).add(1).div(2).clamp(0, 1)


class ESPCNAlgorithm(Algorithm):
    """Pairs (downscale(x), x) from each real batch; Adam on the pixel-wise MSE (eq. 5)."""

    def __init__(self, model: ESPCN, config, generator: torch.Generator):
        self.model = model
        self.r = model.scale
        self.optimizers = {"espcn": make_optimizer(model.parameters(), config, config.train.lr)}
        self.net: nn.Module = model  # a DDP wrapper when distributed

    def distribute(self, wrap) -> None:
        self.net = wrap(self.model)

    def step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        low = downscale(x, self.r)
        loss = F.mse_loss(self.net(low), x)
        opt = self.optimizers["espcn"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():  # [-1, 1] -> [0, 1] divides the MSE by 4
            base = F.mse_loss(bicubic_upscale(low, self.r).clamp(-1, 1), x)
            return {"mse": loss.detach(), "psnr": psnr_from_mse(loss.detach() / 4),
                    "psnr_bicubic": psnr_from_mse(base / 4)}


def nearest_upscale(low01: torch.Tensor, r: int) -> torch.Tensor:
    """Each low-res pixel as an r x r block: how the network's input looks at full size."""
    return low01.repeat_interleave(r, dim=-2).repeat_interleave(r, dim=-1)


@torch.no_grad()
def comparison_grid(model: ESPCN, real01: torch.Tensor) -> torch.Tensor:
    """The live grid's rows: low-res input (nearest) / bicubic / ESPCN / the real image."""
    r = model.scale
    real01 = real01.to(model.device).float()
    low = downscale(real01, r, (0.0, 1.0))
    rows = [nearest_upscale(low, r), bicubic_upscale(low, r).clamp(0, 1), model.upscale(low), real01]
    return torch.cat(rows)

