"""Diffusion families: a DDPM with a small UNet, unconditional (ddpm) and class-conditional
with classifier-free guidance (cddpm).

The implementation is studio.core.models.diffusion (the process: noise schedule,
q_sample, the loss and the samplers) and studio.core.models.unet (the network).
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.core.config import Config, ConfigError, DataConfig, TrainConfig
from studio.core.families.base import Family, Preset
from studio.core.fields import spec

SCHEDULES = ("linear", "cosine")
PREDICTIONS = ("eps", "v")
PRECISIONS = ("auto", "fp32", "bf16")
LEVELS = 3  # resolutions 1, 1/2, 1/4: 28 -> 14 -> 7 px for the digits
_CONDITIONAL = {"family": ("cddpm",)}


@dataclass(frozen=True)
class DiffusionConfig:
    family: str = "ddpm"
    width: int = spec(16, "Base width", "channels at full resolution; the lower resolutions multiply it",
                      lo=4, hi=512)
    channel_mult: str = spec("1,2,2", "Channel multipliers",
                             "three factors of the base width, for full, 1/2 and 1/4 resolution (28, 14, 7 px)")
    res_blocks: int = spec(1, "Blocks per resolution", "residual blocks at each resolution (the decoder has one more)",
                           lo=1, hi=4)
    attention: bool = spec(True, "Attention at 1/4 resolution", "self-attention over the 7x7 features")
    dropout: float = spec(0.0, "Dropout", "inside the residual blocks", lo=0.0, hi=0.9)
    timesteps: int = spec(1000, "Timesteps T", "noise levels of the forward process", lo=2, hi=4000)
    schedule: str = spec("cosine", "Noise schedule", "linear: Ho et al. 2020, β from 1e-4 to 0.02 (scaled to T); "
                         "cosine: Nichol & Dhariwal 2021", choices=SCHEDULES)
    # v by default: with the cosine schedule an ε-predictor's x̂₀ = (x_t − √(1−ᾱ) ε̂)/√ᾱ blows
    # its errors up by 1/√ᾱ ≈ 1000 at the noisiest steps; short runs then sample speckled digits.
    prediction: str = spec("v", "Prediction", "what the network predicts: eps, the noise (Ho et al.); "
                           "v = √ᾱ ε − √(1−ᾱ) x₀ (Salimans & Ho 2022), steadier at high noise",
                           choices=PREDICTIONS)
    label_dropout: float = spec(0.1, "Label dropout", "share of training labels replaced by the null class, "
                                "so one network also learns the unconditional model (classifier-free guidance)",
                                lo=0.0, hi=1.0, when=_CONDITIONAL)
    guidance: float = spec(0.5, "Guidance w", "default classifier-free guidance: ε̂ = ε_c + w (ε_c − ε_u); "
                           "0 = the plain conditional model, −1 = the unconditional one", lo=-1.0, hi=20.0,
                           when=_CONDITIONAL)
    precision: str = spec("auto", "UNet precision", "the diffusion family's own mixed precision, on any device "
                          "(measured to keep its losses; it replaces train.precision): bf16 autocast with fp32 "
                          "weights, about 1.6x faster steps where the processor computes bf16 natively; auto "
                          "picks it there, fp32 elsewhere",
                          choices=PRECISIONS, group="Optimisation")
    sample_steps: int = spec(50, "Sampling steps", "default DDIM steps; T with η = 1 is the ancestral DDPM sampler",
                             lo=1, hi=4000)
    eta: float = spec(0.0, "DDIM η", "0: deterministic given the starting noise; 1: DDPM's noise", lo=0.0, hi=1.0)

    @property
    def multipliers(self) -> tuple[int, ...]:
        return parse_multipliers(self.channel_mult)


def parse_multipliers(text: str) -> tuple[int, ...]:
    """"1,2,2" -> (1, 2, 2); ConfigError naming the field unless there are three factors in 1..16."""
    try:
        mult = tuple(int(v) for v in text.replace(" ", "").split(","))
    except ValueError:
        mult = ()
    if len(mult) != LEVELS or not all(1 <= m <= 16 for m in mult):
        raise ConfigError(f"Channel multipliers (model.channel_mult) must be {LEVELS} whole numbers from 1 to 16 "
                          f"separated by commas, e.g. 1,2,2; got {text!r}")
    return mult


def _validate(config: Config) -> None:
    m = config.model
    parse_multipliers(m.channel_mult)
    if m.sample_steps > m.timesteps:
        raise ConfigError(f"Sampling steps (model.sample_steps) must be at most model.timesteps ({m.timesteps}), "
                          f"got {m.sample_steps}")
    if config.train.precision != "fp32":  # one precision setting per run, not two autocasts
        raise ConfigError(f"train.precision = {config.train.precision}: a diffusion model sets its precision in "
                          "model.precision (auto, bf16 or fp32); leave train.precision at fp32")
    size = config.data.image_size
    if size and size % 4:
        raise ConfigError(f"data.image_size must be a multiple of 4 for the diffusion UNet, got {size}")


OBJECTIVE = (
    r"L_\text{simple} = \mathbb{E}_{t, x_0, \varepsilon}\left\|\varepsilon - "
    r"\varepsilon_\theta(\sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon,\; t)\right\|^2"
    r"\quad\text{(Ho et al. 2020, eq. 14; with v-prediction the target is } "
    r"v = \sqrt{\bar\alpha_t}\,\varepsilon - \sqrt{1-\bar\alpha_t}\,x_0\text{)}"
)
LOSS_LABELS = {
    "loss": "L_simple: mean squared error of the predicted noise (or v), all t",
    "loss_low": "the same over the least noisy third of t (fine detail)",
    "loss_mid": "the same over the middle third of t",
    "loss_high": "the same over the noisiest third of t (global shape)",
}
# A live grid of 80 digits at 10 DDIM steps (guided: 20 network passes) takes about 3 s on
# one core, some 15 training steps; at this step count the digits look as at 50 steps.
PREVIEW_OPTIONS = {"steps": 10}


def _train(**values) -> TrainConfig:
    return TrainConfig(**{"batch_size": 64, "lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "ema": 0.999,
                          "sample_every": 500, **values})


# 5000 steps: a step takes about 120 ms on this 2-core CPU with bf16 (200 ms on one core,
# 310 ms in fp32 on one), so 10-11 min of steps, 12-13 min with the live grid and metrics;
# about 1.5x that on a CPU without native bf16.
PRESETS_DDPM = (
    Preset("ddpm", "DDPM, v-prediction on the cosine schedule, a 3-level UNet (width 16) with attention at "
           "7x7, EMA; 50-step DDIM samples; about 15 min here",
           Config(DataConfig(), DiffusionConfig("ddpm"), _train(steps=5000))),
)
PRESETS_CDDPM = (
    Preset("cddpm", "Class-conditional DDPM with classifier-free guidance (10% label dropout, w = 0.5), "
           "v-prediction, cosine schedule, EMA; 50-step DDIM samples; about 15 min here",
           Config(DataConfig(), DiffusionConfig("cddpm"), _train(steps=5000))),
)

_COMMON = dict(section=DiffusionConfig, model="studio.core.models.diffusion:Diffusion",
               algorithm="studio.core.models.diffusion:DiffusionAlgorithm", objective=OBJECTIVE,
               loss_labels=LOSS_LABELS, preview_options=PREVIEW_OPTIONS, validate=_validate)
FAMILIES = (
    Family("ddpm", "Diffusion (DDPM)", conditional=False, presets=PRESETS_DDPM,
           description="Learns to remove Gaussian noise step by step; samples by denoising pure noise "
                       "(Ho et al. 2020), with DDIM's faster sampler (Song et al. 2021)", **_COMMON),
    Family("cddpm", "Conditional diffusion", conditional=True, presets=PRESETS_CDDPM,
           description="A DDPM that sees the class label, dropped 10% of the time so that sampling can be "
                       "guided without a classifier (Ho & Salimans 2022)", **_COMMON),
)
