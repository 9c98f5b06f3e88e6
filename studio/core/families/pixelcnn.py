"""PixelCNN families: a Gated PixelCNN, unconditional (pixelcnn) and class-conditional (cpixelcnn).

An autoregressive model with an exact likelihood and no latent space: each grey level is
a 256-way categorical given the pixels before it in raster order. The implementation is
studio.core.models.pixelcnn.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.core.config import Config, DataConfig, TrainConfig
from studio.core.families.base import Family, Preset
from studio.core.fields import spec

SCHEDULES = ("cosine", "constant")


@dataclass(frozen=True)
class PixelCNNConfig:
    family: str = "pixelcnn"
    channels: int = spec(32, "Channels", "feature maps of each stack (vertical and horizontal) in every layer",
                         lo=4, hi=512)
    layers: int = spec(8, "Gated layers", "gated residual layers after the masked first layer; each widens "
                       "the receptive field by kernel // 2 pixels", lo=1, hi=40)
    kernel: int = spec(3, "Kernel size", "of the gated layers' vertical (k//2+1 x k) and horizontal "
                       "(1 x k//2+1) convolutions", choices=(3, 5, 7))
    first_kernel: int = spec(7, "First kernel", "the masked first layer's kernel: it sees the k//2 rows "
                             "above and the k//2 pixels to the left", choices=(3, 5, 7, 9))
    lr_schedule: str = spec("cosine", "Learning-rate schedule", "cosine: from train.lr down to 5% of it "
                            "at train.steps (then held); constant: train.lr throughout",
                            choices=SCHEDULES, group="Optimisation")


OBJECTIVE = (
    r"\max\; \log p(x) = \sum_{i=1}^{H W} \log p(x_i \mid x_{<i})"
    r"\quad\text{(raster order; } p(x_i \mid x_{<i}) \text{ a softmax over 256 grey levels)}"
)
LOSS_LABELS = {
    "nll": "negative log-likelihood: -log p(x) / (H·W·C·ln 2), bits per dimension (8 = uniform guessing)",
}


def _train(**values) -> TrainConfig:
    # Sample grids cost a full raster pass (784 network evaluations per pixel row and column
    # window), so they come less often than for the one-pass families.
    return TrainConfig(**{"batch_size": 32, "lr": 2e-3, "beta1": 0.9, "beta2": 0.999,
                          "sample_every": 500, "checkpoint_every": 1000, **values})


PRESETS_PIXELCNN = (
    Preset("pixelcnn", "Gated PixelCNN (32 channels, 8 gated layers, 7x7 masked first layer), "
           "exact likelihood; about 15 min here",
           Config(DataConfig(), PixelCNNConfig("pixelcnn"), _train(steps=3000))),
)
PRESETS_CPIXELCNN = (
    Preset("cpixelcnn", "Class-conditional Gated PixelCNN: a label embedding in every gate, "
           "one row per digit; about 15 min here",
           Config(DataConfig(), PixelCNNConfig("cpixelcnn"), _train(steps=3000))),
)

_COMMON = dict(section=PixelCNNConfig, model="studio.core.models.pixelcnn:PixelCNN",
               algorithm="studio.core.models.pixelcnn:PixelCNNAlgorithm",
               objective=OBJECTIVE, loss_labels=LOSS_LABELS)
FAMILIES = (
    Family("pixelcnn", "PixelCNN", conditional=False, presets=PRESETS_PIXELCNN,
           description="An autoregressive model: each pixel given the ones before it, "
           "exact likelihood (Gated PixelCNN, van den Oord et al. 2016)", **_COMMON),
    Family("cpixelcnn", "Conditional PixelCNN", conditional=True, presets=PRESETS_CPIXELCNN,
           description="A Gated PixelCNN whose every gate sees the class label", **_COMMON),
)
