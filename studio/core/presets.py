"""Named starting configs that train well on the embedded mnist-5k digits on a laptop CPU."""

from __future__ import annotations

from studio.core.config import Config, ConfigError, DataConfig, ModelConfig, TrainConfig

DEFAULT_PRESET = "cgan"

PRESETS: dict[str, Config] = {
    # Conditional DCGAN, spectral-norm projection discriminator (without SN, D wins early
    # and each class collapses to one style): crisp digits, one row per class.
    "cgan": Config(
        DataConfig(),
        ModelConfig(family="cgan", arch="dcgan", latent_dim=64, width=32, spectral_norm=True),
        TrainConfig(steps=3000, batch_size=64, lr=2e-4, lr_d=2e-4, beta1=0.5, ema=0.999),
    ),
    "gan": Config(
        DataConfig(),
        ModelConfig(family="gan", arch="dcgan", latent_dim=64, width=32, spectral_norm=True),
        TrainConfig(steps=3000, batch_size=64, lr=2e-4, lr_d=2e-4, beta1=0.5, ema=0.999),
    ),
    # The classic tutorial MLP GAN (G 100-256-512-1024-784, D 784-512-256-1).
    "gan-mlp": Config(
        DataConfig(),
        ModelConfig(family="gan", arch="mlp", latent_dim=100, width=64),
        TrainConfig(steps=6000, batch_size=64, lr=2e-4, lr_d=2e-4, beta1=0.5),
    ),
    "cgan-mlp": Config(
        DataConfig(),
        ModelConfig(family="cgan", arch="mlp", latent_dim=100, width=64),
        TrainConfig(steps=6000, batch_size=64, lr=2e-4, lr_d=2e-4, beta1=0.5, ema=0.999),
    ),
    "wgan-gp": Config(
        DataConfig(),
        ModelConfig(family="gan", arch="dcgan", latent_dim=64, width=32, loss="wgan-gp"),
        TrainConfig(steps=3000, batch_size=64, lr=1e-4, lr_d=1e-4, beta1=0.0, beta2=0.9, n_critic=5),
    ),
    # The pytorch/examples VAE (784-400-20), batch 128, Adam 1e-3.
    "vae": Config(
        DataConfig(),
        ModelConfig(family="vae", arch="mlp", latent_dim=20, width=64),
        TrainConfig(steps=5000, batch_size=128, lr=1e-3, beta1=0.9, beta2=0.999),
    ),
    # A 2-D latent space: the explorer draws it as a clickable manifold map.
    "vae-2d": Config(
        DataConfig(),
        ModelConfig(family="vae", arch="mlp", latent_dim=2, width=64),
        TrainConfig(steps=5000, batch_size=128, lr=1e-3, beta1=0.9, beta2=0.999),
    ),
    "cvae": Config(
        DataConfig(),
        ModelConfig(family="cvae", arch="mlp", latent_dim=20, width=64),
        TrainConfig(steps=5000, batch_size=128, lr=1e-3, beta1=0.9, beta2=0.999),
    ),
    "vae-conv": Config(
        DataConfig(),
        ModelConfig(family="vae", arch="conv", latent_dim=20, width=32),
        TrainConfig(steps=2000, batch_size=128, lr=1e-3, beta1=0.9, beta2=0.999),
    ),
}


def preset(name: str) -> Config:
    """The preset of that name; a family name gives that family's default preset."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset or model {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]
