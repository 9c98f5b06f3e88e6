"""The ESPCN family: single-image super-resolution (Shi et al. 2016), trained on real images.

Not a generative model of new images: an image -> image upscaler (``is_upscaler``). It
trains self-supervised on the dataset itself (each batch is downscaled bicubically and
the network learns to undo it), its live grid shows low-res / bicubic / ESPCN / real
rows, ``latent-studio eval`` reports PSNR and SSIM against bicubic upscaling, and
``latent-studio sample GENERATOR --upscale RUN`` applies it to any model's samples.
The implementation is studio.core.models.espcn.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.core.config import Config, ConfigError, DataConfig, TrainConfig
from studio.core.families.base import Family, Preset
from studio.core.fields import spec


@dataclass(frozen=True)
class ESPCNConfig:
    family: str = "espcn"
    scale: int = spec(2, "Upscaling factor", "r: the network maps (H/r, W/r) images to (H, W)", choices=(2, 3, 4))
    width: int = spec(64, "Width", "n1, the feature maps of the 5x5 first layer (the second has n1/2; "
                      "the paper's 64)", lo=4, hi=512)
    activation: str = spec("tanh", "Activation", "tanh, as the paper found better than ReLU for ESPCN",
                           choices=("tanh", "relu"))


def _validate(config: Config) -> None:
    size, r = config.data.image_size, config.model.scale
    if size and size % r:
        raise ConfigError(f"data.image_size must be a multiple of model.scale ({r}), got {size}")


OBJECTIVE = (
    r"\min_\theta \dfrac{1}{r^2 H W} \, \sum_{x,y} \left(I^{HR}_{x,y} - \mathrm{PS}(f_\theta(\downarrow_r I^{HR}))_{x,y}\right)^2"
    r"\quad\text{(}\downarrow_r\text{: antialiased bicubic; PS: the sub-pixel shuffle)}"
)
LOSS_LABELS = {
    "mse": "pixel-wise MSE to the real image, in the [-1, 1] range (Shi et al. eq. 5)",
    "psnr": "PSNR of the batch, dB (10 log10(1 / MSE) on [0, 1] images): higher is better",
    "psnr_bicubic": "PSNR of plain bicubic upscaling on the same batch, dB: the baseline to beat",
}


def _train(**values) -> TrainConfig:
    return TrainConfig(**{"batch_size": 64, "lr": 1e-3, "beta1": 0.9, "beta2": 0.999,
                          "sample_every": 250, **values})


PRESETS = (
    Preset("espcn-x2", "ESPCN x2 (14 -> 28 on the digits): 5x5/64, 3x3/32, 3x3 sub-pixel conv; about 2 min here",
           Config(DataConfig(), ESPCNConfig("espcn", 2), _train(steps=1000))),
    Preset("espcn-x4", "ESPCN x4 (7 -> 28 on the digits); about 30 s here",
           Config(DataConfig(), ESPCNConfig("espcn", 4), _train(steps=1000))),
)

FAMILIES = (
    Family("espcn", "Super-resolution (ESPCN)", ESPCNConfig, "studio.core.models.espcn:ESPCN",
           "studio.core.models.espcn:ESPCNAlgorithm", conditional=False, presets=PRESETS,
           description="Upscales images: convolutions at low resolution, then a sub-pixel shuffle "
                       "(Shi et al. 2016); trained on downscaled copies of the dataset",
           objective=OBJECTIVE, loss_labels=LOSS_LABELS, validate=_validate,
           preview_grid="studio.core.models.espcn:comparison_grid"),
)
