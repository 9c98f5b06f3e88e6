"""GAN families: the classic tutorial MLP and DCGAN, unconditional (gan) and conditional (cgan).

The implementation is studio.core.models.gan.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.core.config import Config, ConfigError, DataConfig, TrainConfig
from studio.core.families.base import Family, Preset
from studio.core.fields import spec

LOSSES = ("bce", "hinge", "wgan-gp")


@dataclass(frozen=True)
class GANConfig:
    family: str = "gan"
    arch: str = spec("dcgan", "Architecture", "mlp: the tutorials' fully connected nets; dcgan: convolutional",
                     choices=("mlp", "dcgan"))
    latent_dim: int = spec(64, "Latent size", "dimensions of the noise z the generator maps to an image",
                           lo=1, hi=1024)
    width: int = spec(64, "Width", "base channel or unit count; each architecture scales from it", lo=4, hi=1024)
    loss: str = spec("bce", "GAN loss", "bce: non-saturating; hinge; wgan-gp: Wasserstein with gradient penalty",
                     choices=LOSSES)
    spectral_norm: bool = spec(False, "Spectral norm (D)", "normalise the discriminator's layers: steadier games")
    lr_d: float = spec(2e-4, "Learning rate (D)", "the discriminator's", lo=1e-7, hi=1.0, log=True,
                       group="Optimisation")
    n_critic: int = spec(1, "D steps per G step", lo=1, hi=20, group="Optimisation")
    gp_weight: float = spec(10.0, "Gradient penalty", "weight of WGAN-GP's penalty", lo=0.0, hi=1000.0,
                            when={"loss": ("wgan-gp",)}, group="Optimisation")


def _validate(config: Config) -> None:
    size = config.data.image_size
    if config.model.arch == "dcgan" and size and size % 4:
        raise ConfigError(f"data.image_size must be a multiple of 4 for the dcgan architecture, got {size}")


OBJECTIVE = (
    r"\min_G \max_D \; \mathbb{E}_{x}[\log D(x)] + \mathbb{E}_{z}[\log(1 - D(G(z)))]"
    r"\quad\text{(G minimises } -\log D(G(z)) \text{: non-saturating)}"
)
LOSS_LABELS = {
    "d": "D loss: -log D(x) - log(1 - D(G(z)))",
    "g": "G loss: -log D(G(z))",
    "gp": "gradient penalty: (||∇D(x̂)|| - 1)²",
}

# Named parameter groups to freeze when fine-tuning (train.freeze), by architecture: the
# dcgan names first, then the mlp ones ("discriminator features" fits both). A group of
# the other architecture is refused at the start, naming the parameters there are. None
# holds a class-dependent tensor, so they still apply when the new data has another class count.
FREEZE_PRESETS = {
    "generator's first block": ("generator.fc",),  # z (+ label embedding) -> the first feature map
    "discriminator features": ("discriminator.features",),  # all of D but its logit and class projection
    # FreezeD (Mo et al. 2020): D's lower layers fixed, its upper layers adapt.
    "discriminator's convolutions (FreezeD)": ("discriminator.features.0", "discriminator.features.2"),
    "MLP discriminator's first two layers (FreezeD)": ("discriminator.features.1", "discriminator.features.3"),
}


def _train(**values) -> TrainConfig:
    return TrainConfig(**{"batch_size": 64, "lr": 2e-4, "beta1": 0.5, **values})


PRESETS_GAN = (
    Preset("gan", "DCGAN with a spectral-norm discriminator and an EMA generator; about 2.5 min here",
           Config(DataConfig(), GANConfig("gan", "dcgan", 64, 32, spectral_norm=True), _train(steps=3000, ema=0.999))),
    Preset("gan-mlp", "The classic tutorial MLP GAN (G 100-256-512-1024-784, D 784-512-256-1); about 1.5 min here",
           Config(DataConfig(), GANConfig("gan", "mlp", 100, 64), _train(steps=6000, precision="auto"))),
    Preset("wgan-gp", "DCGAN critic with gradient penalty, 5 critic steps per G step: slow on a CPU, about 15 min here",
           Config(DataConfig(), GANConfig("gan", "dcgan", 64, 32, loss="wgan-gp", lr_d=1e-4, n_critic=5),
                  _train(steps=3000, lr=1e-4, beta1=0.0, beta2=0.9))),
)
PRESETS_CGAN = (
    # Without spectral norm, D wins early and each class collapses to one style.
    # 3000 steps read as the asked digit 94.4% of the time (quality.py, n=2000); 5000: see the README.
    Preset("cgan", "Conditional DCGAN, projection discriminator, EMA generator: one row per digit; about 4 min here",
           Config(DataConfig(), GANConfig("cgan", "dcgan", 64, 32, spectral_norm=True), _train(steps=5000, ema=0.999, precision="auto"))),
    Preset("cgan-mlp", "The tutorial MLP GAN with the label fed to both nets; about 1.5 min here",
           Config(DataConfig(), GANConfig("cgan", "mlp", 100, 64), _train(steps=6000, ema=0.999, precision="auto"))),
)

# Besides the learning rates (log-scale fields): the noise size and Adam's momentum, which
# decides much of how steady the game is (DCGAN's 0.5 against the default 0.9).
SEARCH_SPACE = {"model.latent_dim": {"choices": [32, 64, 128]}, "train.beta1": {"lo": 0.0, "hi": 0.9}}
_COMMON = dict(section=GANConfig, model="studio.core.models.gan:GAN", algorithm="studio.core.models.gan:GANAlgorithm",
               objective=OBJECTIVE, loss_labels=LOSS_LABELS, validate=_validate, search_space=SEARCH_SPACE)
FAMILIES = (
    Family("cgan", "Conditional GAN", conditional=True, presets=PRESETS_CGAN, freeze_presets=FREEZE_PRESETS,
           description="A GAN whose generator and discriminator both see the class label", **_COMMON),
    Family("gan", "GAN", conditional=False, presets=PRESETS_GAN, freeze_presets=FREEZE_PRESETS,
           description="A generator against a discriminator (Goodfellow et al. 2014)", **_COMMON),
)
