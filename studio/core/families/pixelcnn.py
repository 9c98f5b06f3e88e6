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
    dilation: int = spec(4, "Largest dilation", "the gated layers cycle through dilations 1, 2, 4, ... up to "
                         "this: a wider view for the same cost (1: none)", choices=(1, 2, 4, 8))
    position_bias: bool = spec(True, "Position bias", "a learned bias per pixel position: the model knows "
                               "where in the image it is drawing")
    level_basis: int = spec(32, "Smooth level basis", "the output's logits over the 256 grey levels are "
                            "built from this many smooth bumps (plus a free part), so neighbouring levels "
                            "learn together; 0: a plain 256-way output layer", lo=0, hi=128)
    label_dropout: float = spec(0.1, "Label dropout", "share of training images whose label is hidden "
                                "(a learned 'no label' class), so sampling can use class guidance",
                                lo=0.0, hi=0.9, when={"family": ("cpixelcnn",)}, group="Optimisation")
    lr_schedule: str = spec("cosine", "Learning-rate schedule", "cosine: from train.lr down to 5% of it "
                            "at train.steps (then held); constant: train.lr throughout",
                            choices=SCHEDULES, group="Optimisation")


OBJECTIVE = (
    r"\max\; \log p(x) = \sum_{i=1}^{H W} \; \log p(x_i \mid x_{<i})"
    r"\quad\text{(raster order; } p(x_i \mid x_{<i}) \text{ a softmax over 256 grey levels)}"
)
LOSS_LABELS = {
    "nll": "negative log-likelihood: -log p(x) / (H·W·C·ln 2), bits per dimension (8 = uniform guessing)",
}


def _train(**values) -> TrainConfig:
    # Small batches: on a CPU images/s hardly depends on the batch, and more (noisier) steps
    # learn faster here (held-out bits/dim at equal CPU time: batch 32 1.20, 16 1.19, 8 1.16).
    # A sample grid is a raster pass (80 images: ~9 s on one thread, twice that guided), so
    # grids come every ~4 minutes rather than every few seconds.
    return TrainConfig(**{"batch_size": 8, "lr": 3e-3, "beta1": 0.9, "beta2": 0.999, "steps": 7000, "ema": 0.999,
                          "sample_every": 2000, "checkpoint_every": 2000, **values})


# Steps: 111 ms each on this quiet 2-core CPU (6500 took 723 s in benchmarks/quality.py,
# held-out 1.1004 bits/dim with the EMA, 1.1016 without), so 7000 take about 13 min.
PRESETS_PIXELCNN = (
    Preset("pixelcnn", "Gated PixelCNN (32 channels, 8 gated layers up to dilation 4, masked 7x7 first "
           "layer), exact likelihood, about 1.1 bits/dim held out; about 12-13 min here",
           Config(DataConfig(), PixelCNNConfig("pixelcnn"), _train())),
)
PRESETS_CPIXELCNN = (
    Preset("cpixelcnn", "Class-conditional Gated PixelCNN: a label embedding in every gate, class "
           "guidance when sampling, one row per digit; about 13-14 min here",
           Config(DataConfig(), PixelCNNConfig("cpixelcnn"), _train())),
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
