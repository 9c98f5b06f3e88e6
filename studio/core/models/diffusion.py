"""Denoising diffusion: the process (the schedule, q_sample, the training loss and the
samplers) around a small UNet, the network (studio.core.models.unet).

Notation follows Ho et al. 2020 ("DDPM"): ᾱ_t = ∏_{s<=t} (1 − β_s), and the forward
process q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I) (their eq. 4). Timesteps are indexed
0..T−1 here (the paper's 1..T). Images live in [-1, 1].

Capabilities: the latent is the starting noise x_T, of the image's own shape. With DDIM's
η = 0 the sampler is a deterministic map from x_T to an image (Song et al. 2021, §4.3), so
the explorer can move that noise like any other latent; with η > 0 fresh noise is drawn
from the caller's generator at every step.

Sampling options:
- ``steps``: sampler steps, 1..T, spread evenly over t = T−1 .. 0 (DDIM's sub-sequence τ,
  Song et al. §4.2). ``steps = T`` with ``eta = 1`` *is* the ancestral DDPM sampler
  (Ho et al. Algorithm 2 with σ_t² = β̃_t): DDIM's eq. 16 then gives exactly the DDPM
  posterior variance and mean.
- ``eta``: DDIM's η in [0, 1] (eq. 16).
- ``guidance`` (conditional models): classifier-free guidance w in
  ε̂ = ε_c + w (ε_c − ε_u) = (1 + w) ε_c − w ε_u (Ho & Salimans 2022, eq. 6): w = 0 is the
  plain conditional model, w = −1 the unconditional one, w > 0 trades variety for class
  fidelity. The mixture is applied to the raw network output: with v-prediction that is
  the same mixture of ε, since ε, x_0 and v are affine in one another given x_t with
  weights that sum to one.

Cancelling: every long sampler takes ``should_stop``, polled before each network
evaluation, so it returns within one denoising step (one forward pass over the batch).
``sample`` then raises SamplingCancelled; ``denoising_path`` simply ends.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from studio.core.config import ConfigError
from studio.core.errors import SamplingCancelled  # noqa: F401 - raised here, imported from here
from studio.core.families.diffusion import DiffusionConfig
from studio.core.models.base import GenerativeModel, SampleOption, seeded
from studio.core.models.unet import UNet
from studio.core.train.algorithm import Algorithm, make_optimizer
from studio.core.train.precision import resolve_precision

ShouldStop = Callable[[], bool] | None
MAX_GUIDANCE = 20.0
BANDS = ("loss_low", "loss_mid", "loss_high")


# -- the noise schedule -----------------------------------------------------------------------
def linear_alpha_bar(T: int) -> torch.Tensor:
    """ᾱ_t for β linear from 1e-4 to 0.02 at T = 1000 (Ho et al. §4), the ends scaled by
    1000/T so that other T keep ᾱ_T near 0 (as improved DDPM's code does)."""
    scale = 1000.0 / T
    betas = torch.linspace(1e-4 * scale, 0.02 * scale, T, dtype=torch.float64).clamp(max=0.999)
    return torch.cumprod(1 - betas, 0)


def cosine_alpha_bar(T: int, s: float = 0.008) -> torch.Tensor:
    """ᾱ_t = f(t)/f(0), f(t) = cos²(((t/T) + s)/(1 + s) · π/2) (Nichol & Dhariwal 2021, eq. 17),
    with β_t = 1 − ᾱ_t/ᾱ_{t−1} clipped to 0.999 as they do, so ᾱ stays positive."""
    steps = torch.arange(T + 1, dtype=torch.float64)
    f = torch.cos((steps / T + s) / (1 + s) * math.pi / 2) ** 2
    betas = (1 - f[1:] / f[:-1]).clamp(max=0.999)
    return torch.cumprod(1 - betas, 0)


SCHEDULES: dict[str, Callable[[int], torch.Tensor]] = {"linear": linear_alpha_bar, "cosine": cosine_alpha_bar}


class Process(nn.Module):
    """The forward process and the conversions between ε, v and x_0 for one schedule."""

    def __init__(self, timesteps: int, schedule: str, prediction: str):
        super().__init__()
        if schedule not in SCHEDULES:
            raise ConfigError(f"model.schedule must be one of {', '.join(SCHEDULES)}; got {schedule!r}")
        self.T = timesteps
        self.prediction = prediction
        # Derived from the config, so not saved with the weights.
        self.register_buffer("alpha_bar", SCHEDULES[schedule](timesteps).float(), persistent=False)

    def coefficients(self, t: torch.Tensor, ndim: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(√ᾱ_t, √(1 − ᾱ_t)) shaped to broadcast over images."""
        ab = self.alpha_bar[t].view(-1, *([1] * (ndim - 1)))
        return ab.sqrt(), (1 - ab).sqrt()

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε (Ho et al. eq. 4, reparameterised as in their §3.2)."""
        a, s = self.coefficients(t, x0.ndim)
        return a * x0 + s * eps

    def target(self, x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """What the network learns: ε (Ho et al. eq. 14) or v = √ᾱ_t ε − √(1 − ᾱ_t) x_0
        (Salimans & Ho 2022, Progressive Distillation, appendix D)."""
        if self.prediction == "eps":
            return eps
        a, s = self.coefficients(t, x0.ndim)
        return a * eps - s * x0

    def split(self, out: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Network output -> (x̂_0 clipped to [-1, 1], ε̂ consistent with the clipped x̂_0).

        x̂_0 = (x_t − √(1 − ᾱ_t) ε̂)/√ᾱ_t (Song et al. eq. 9) or x̂_0 = √ᾱ_t x_t − √(1 − ᾱ_t) v̂
        (Salimans & Ho, appendix D). Clipping x̂_0 to the data range keeps early steps,
        whose x̂_0 is a wild guess, from pushing pixels out of range (Ho et al.'s code does
        the same); ε̂ is then recomputed from it so that the update stays on one x̂_0.
        """
        a, s = self.coefficients(t, x_t.ndim)
        x0 = (x_t - s * out) / a if self.prediction == "eps" else a * x_t - s * out
        x0 = x0.clamp(-1, 1)
        return x0, (x_t - a * x0) / s


# -- the model: network + process + samplers --------------------------------------------------
@dataclass(frozen=True)
class DenoiseStep:
    """One sampler step for the denoising scrubber: the state the network saw and its guess."""

    index: int  # 0 .. steps-1
    steps: int
    t: int  # the timestep of x_t, T-1 .. 0
    x_t: torch.Tensor  # (N, C, H, W) in [0, 1]
    x0: torch.Tensor  # predicted x_0, (N, C, H, W) in [0, 1]


class Diffusion(GenerativeModel):
    """Capabilities: latent = the starting noise x_T (C, H, W); sampling options steps, eta
    and, when conditional, guidance. No likelihood (the variational bound is not computed)."""

    can_cancel = True
    can_denoise = True

    def __init__(self, cfg: DiffusionConfig, image_shape: tuple[int, int, int], num_classes: int | None):
        super().__init__(image_shape, num_classes)
        c, h, w = image_shape
        if h % 4 or w % 4:
            raise ConfigError(f"the diffusion UNet needs an image size that is a multiple of 4, got {h}x{w}")
        self.family = cfg.family
        self.latent_shape = tuple(image_shape)
        self.process = Process(cfg.timesteps, cfg.schedule, cfg.prediction)
        self.unet = UNet(cfg, c, num_classes)
        self.sample_options = self._options(cfg)

    def _options(self, cfg: DiffusionConfig) -> dict[str, SampleOption]:
        T = cfg.timesteps
        options = {
            "steps": SampleOption(min(cfg.sample_steps, T), 1, T, "Steps",
                                  f"denoising steps (DDIM); {T} with η = 1 is the ancestral DDPM sampler", integer=True),
            "eta": SampleOption(cfg.eta, 0.0, 1.0, "η", "0: deterministic given the starting noise; 1: DDPM noise"),
        }
        if self.conditional:
            options["guidance"] = SampleOption(cfg.guidance, -1.0, MAX_GUIDANCE, "Guidance",
                                               "classifier-free: 0 = conditional, −1 = unconditional, more = "
                                               "more typical of the class")
        return options

    @property
    def T(self) -> int:
        return self.process.T

    def sampling_module(self) -> nn.Module:
        return self.unet

    def onnx_module(self):
        """For ONNX export: the denoiser (x_t, t[, labels]) -> ε̂ (a v-prediction converted to ε);
        the DDIM sampler is written into ``usage`` and ᾱ_t into the metadata."""
        import json

        from studio.core.onnx_export import OnnxGraph

        shape, T, k = tuple(self.image_shape), self.T, self.num_classes

        def make_inputs(n: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
            x_t = torch.randn(n, *shape, generator=generator)
            t = torch.randint(0, T, (n,), generator=generator)
            return (x_t, t, torch.randint(0, k + 1, (n,), generator=generator)) if k else (x_t, t)

        names = ("x_t", "t", "labels") if k else ("x_t", "t")
        defaults = self.check_options({})
        usage = (
            f"eps = network(x_t, t{', labels' if k else ''}): the noise ε̂ in x_t (N, {', '.join(map(str, shape))}) "
            f"at timesteps t (int64 (N,), 0..{T - 1})"
            + (f"; labels int64 (N,): classes 0..{k - 1}, or {k} for the unconditional prediction" if k else "")
            + ". DDIM sampling (Song et al. 2021, η = 0): x ~ N(0, I); for the steps t_1 > ... > t_S spread evenly "
            f"over {T - 1}..0 (S = {defaults['steps']} by default): x̂0 = clip((x − √(1 − ᾱ_t) ε̂) / √ᾱ_t, −1, 1), "
            "ε̂ = (x − √ᾱ_t x̂0) / √(1 − ᾱ_t), x = √ᾱ_s x̂0 + √(1 − ᾱ_s) ε̂ with s the next step (ᾱ = 1 after the "
            "last); the image is (x + 1) / 2. ᾱ_t is the metadata's alpha_bar"
            + (f"; classifier-free guidance w: ε̂ = (1 + w) ε̂(labels) − w ε̂({k}), w = {defaults.get('guidance', 0):g} "
               "by default" if k else ""))
        metadata = {"alpha_bar": json.dumps([round(v, 8) for v in self.process.alpha_bar.double().cpu().tolist()]),
                    "timesteps": str(T), "trained_prediction": self.process.prediction,
                    "sample_steps": str(defaults["steps"]), "eta": str(defaults["eta"])}
        return OnnxGraph(EpsDenoiser(self), make_inputs, names, ("eps",), f"denoiser ({', '.join(names)}) -> eps",
                         usage, metadata=metadata)

    # -- one denoising evaluation --------------------------------------------------------
    def predict(self, x_t: torch.Tensor, t: int | torch.Tensor, labels: torch.Tensor | None,
                guidance: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
        """(x̂_0, ε̂) at timestep t, with classifier-free guidance w (see the module doc)."""
        n = x_t.shape[0]
        t = torch.as_tensor(t, device=x_t.device).long().expand(n)
        out = self._guided(x_t, t, labels, guidance)
        return self.process.split(out, x_t, t)

    def _guided(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None, w: float) -> torch.Tensor:
        if labels is None or w == 0:
            return self.unet(x, t, labels)
        null = torch.full_like(labels, self.num_classes)
        if w == -1:
            return self.unet(x, t, null)
        # One forward over both halves: cheaper on a CPU than two of half the size.
        both = self.unet(torch.cat([x, x]), torch.cat([t, t]), torch.cat([labels, null]))
        return guide(*both.chunk(2), w)

    # -- samplers ------------------------------------------------------------------------
    def timesteps_for(self, steps: int) -> list[int]:
        """``steps`` timesteps from T−1 down to 0, evenly spread (DDIM's τ, Song et al. §4.2)."""
        if not 1 <= steps <= self.T:
            raise ValueError(f"steps must be between 1 and {self.T}, got {steps}")
        if steps == 1:
            return [self.T - 1]
        return torch.linspace(self.T - 1, 0, steps, dtype=torch.float64).round().long().tolist()

    def _trajectory(self, x: torch.Tensor, labels: torch.Tensor | None, generator: torch.Generator,
                    options: dict[str, Any], should_stop: ShouldStop
                    ) -> Iterator[tuple[int, torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Yields (t, x_t, x̂_0, x_next) per step; the last x_next is the sample (= its x̂_0)."""
        ts = self.timesteps_for(options["steps"])
        eta, w = options["eta"], options.get("guidance", 0.0)
        ab = self.process.alpha_bar.double().tolist()  # scalars on the host: no device syncs per step
        for i, t in enumerate(ts):
            if should_stop is not None and should_stop():
                return
            x0, eps = self.predict(x, t, labels, w)
            x_next = ddim_step(x0, eps, ab[t], ab[ts[i + 1]] if i + 1 < len(ts) else 1.0, eta, generator)
            yield t, x, x0, x_next
            x = x_next

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | int | None = None, generator: torch.Generator | None = None,
               *, z: torch.Tensor | None = None, should_stop: ShouldStop = None, **options: Any) -> torch.Tensor:
        """n images in [0, 1] (see GenerativeModel.sample); ``z`` is the starting noise x_T.

        ``should_stop``: polled before each step; SamplingCancelled when it returns True.
        """
        options = self.check_options(options)
        labels = self.labels_for(n, labels)
        generator = seeded(None) if generator is None else generator
        with _eval_mode(self):
            x, done = self._run(self._start(n, generator, z), labels, generator, options, should_stop)
        if done < options["steps"]:
            raise SamplingCancelled(f"sampling stopped after {done} of {options['steps']} steps")
        return _to01(x)

    def _sample(self, n: int, labels: torch.Tensor | None, generator: torch.Generator,
                z: torch.Tensor | None, options: dict[str, Any]) -> torch.Tensor:
        return self._run(self._start(n, generator, z), labels, generator, options, None)[0]

    def _run(self, x: torch.Tensor, labels: torch.Tensor | None, generator: torch.Generator,
             options: dict[str, Any], should_stop: ShouldStop) -> tuple[torch.Tensor, int]:
        """The sampler to its end (or its stop): (the last state, the steps done)."""
        done = 0
        for _, _, _, x_next in self._trajectory(x, labels, generator, options, should_stop):
            x, done = x_next, done + 1
        return x, done

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """x_T -> image in [-1, 1] with the default options (deterministic when η = 0)."""
        options = self.check_options({})
        return self._sample(len(z), labels, seeded(0, z.device), z, options)

    def _start(self, n: int, generator: torch.Generator, z: torch.Tensor | None) -> torch.Tensor:
        if z is None:
            return self.sample_latent(n, generator)
        if tuple(z.shape) != (n, *self.latent_shape):
            raise ValueError(f"z must have shape {(n, *self.latent_shape)}, got {tuple(z.shape)}")
        return z.to(self.device, torch.float32)

    @torch.no_grad()
    def denoising_path(self, label: int | None = None, generator: torch.Generator | None = None, *,
                       z: torch.Tensor | None = None, should_stop: ShouldStop = None,
                       **options: Any) -> Iterator[DenoiseStep]:
        """For one image (one seed: ``generator`` or ``z``, one class): each sampler step's
        x_t and predicted x_0 in [0, 1], noisiest first; the last x0 is the sample.

        Ends early, without an error, when ``should_stop`` returns True.
        """
        options = self.check_options(options)
        labels = self.labels_for(1, label)
        generator = seeded(None) if generator is None else generator
        with _eval_mode(self):
            x = self._start(1, generator, None if z is None else z.reshape(1, *self.latent_shape))
            for i, (t, x_t, x0, _) in enumerate(self._trajectory(x, labels, generator, options, should_stop)):
                yield DenoiseStep(i, options["steps"], t, _to01(x_t), _to01(x0))


class EpsDenoiser(nn.Module):
    """ε̂(x_t, t[, labels]) for ONNX export; a v-prediction's output is converted:
    ε = √ᾱ_t v + √(1 − ᾱ_t) x_t (from v = √ᾱ_t ε − √(1 − ᾱ_t) x_0 and eq. 4)."""

    def __init__(self, model: Diffusion):
        super().__init__()
        self.unet, self.process, self.conditional = model.unet, model.process, model.conditional

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        out = self.unet(x_t, t, labels if self.conditional else None)
        if self.process.prediction == "eps":
            return out
        a, s = self.process.coefficients(t, x_t.ndim)
        return a * out + s * x_t


def guide(out_c: torch.Tensor, out_u: torch.Tensor, w: float) -> torch.Tensor:
    """Classifier-free guidance, Ho & Salimans 2022 eq. 6: (1 + w) ε_c − w ε_u = ε_c + w (ε_c − ε_u)."""
    return out_c + w * (out_c - out_u)


def ddim_step(x0: torch.Tensor, eps: torch.Tensor, ab_t: float, ab_s: float, eta: float,
              generator: torch.Generator) -> torch.Tensor:
    """x_s from x_t via (x̂_0, ε̂), for s < t (ᾱ_s = 1 past the last step):

    σ = η √((1 − ᾱ_s)/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_s)          (Song et al. 2021, eq. 16)
    x_s = √ᾱ_s x̂_0 + √(1 − ᾱ_s − σ²) ε̂ + σ z               (Song et al. eq. 12)

    With s = t − 1 and η = 1, σ² is DDPM's posterior variance β̃_t and the mean its
    posterior mean μ̃_t(x_t, x̂_0) (Ho et al. eqs. 6-7): ancestral sampling.
    """
    sigma = eta * math.sqrt(max(0.0, (1 - ab_s) / (1 - ab_t) * (1 - ab_t / ab_s)))
    x = math.sqrt(ab_s) * x0 + math.sqrt(max(0.0, 1 - ab_s - sigma**2)) * eps
    if sigma > 0:
        noise = torch.randn(x.shape, generator=generator, device=generator.device)
        x = x + sigma * noise.to(x.device)
    return x


def _to01(x: torch.Tensor) -> torch.Tensor:
    return x.add(1).div(2).clamp(0, 1)


class _eval_mode:
    """Eval mode for the duration of a sampler, the training flag restored afterwards."""

    def __init__(self, model: nn.Module):
        self.model, self.was = model, model.training

    def __enter__(self) -> None:
        self.model.eval()

    def __exit__(self, *exc: object) -> None:
        self.model.train(self.was)


# -- training ---------------------------------------------------------------------------------
class DiffusionAlgorithm(Algorithm):
    """L_simple (Ho et al. eq. 14, Algorithm 1) on ε or v, with label dropout for
    classifier-free guidance (Ho & Salimans Algorithm 1): t, the noise and the dropped
    labels all come from the trainer's generator.

    Besides the total it reports the loss over each third of t (low, mid and high noise);
    a band without a sample in a batch repeats its last value, so every value is finite.
    """

    def __init__(self, model: Diffusion, config, generator: torch.Generator):
        self.model = model
        self.rng = generator
        self.p_drop = config.model.label_dropout if model.conditional else 0.0
        self.optimizers = {"unet": make_optimizer(model.unet.parameters(), config, config.train.lr)}
        self.unet: nn.Module = model.unet  # a DDP wrapper when distributed
        self.bf16 = resolve_precision(config.model.precision, generator.device) == "bf16"  # auto: where native
        self._last_bands: torch.Tensor | None = None

    def distribute(self, wrap) -> None:
        self.unet = wrap(self.model.unet)

    def _draw(self, x: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        n, dev, rdev = x.shape[0], x.device, self.rng.device
        t = torch.randint(0, self.model.T, (n,), generator=self.rng, device=rdev).to(dev)
        eps = torch.randn(x.shape, generator=self.rng, device=rdev).to(dev)
        if y is None or not self.model.conditional:
            return t, eps, None
        if self.p_drop > 0:
            drop = torch.rand(n, generator=self.rng, device=rdev).to(dev) < self.p_drop
            y = torch.where(drop, torch.full_like(y, self.model.num_classes), y)
        return t, eps, y

    def step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        t, eps, y = self._draw(x, y)
        process = self.model.process
        with torch.autocast(x.device.type, torch.bfloat16, enabled=self.bf16):
            out = self.unet(process.q_sample(x, t, eps), t, y)
        per_image = (out.float() - process.target(x, t, eps)).square().flatten(1).mean(1)  # the loss in fp32
        loss = per_image.mean()
        opt = self.optimizers["unet"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        bands = self._band_means(per_image.detach(), t, loss.detach())
        return {"loss": loss.detach(), **dict(zip(BANDS, bands.unbind(), strict=True))}

    def _band_means(self, per_image: torch.Tensor, t: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
        """Mean loss over t in each third of 0..T−1, on the device (no synchronisation)."""
        band = (t * len(BANDS)) // self.model.T
        sums = torch.zeros(len(BANDS), device=per_image.device).index_add_(0, band, per_image)
        counts = torch.bincount(band, minlength=len(BANDS)).to(per_image.dtype)
        last = self._last_bands if self._last_bands is not None else loss.expand(len(BANDS))
        self._last_bands = torch.where(counts > 0, sums / counts.clamp(min=1), last)
        return self._last_bands
