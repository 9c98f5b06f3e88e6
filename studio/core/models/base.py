"""The model protocol: what every generative model offers, and the capabilities it declares.

The trainer, the explorer, the metrics and the CLI read a model's declared
capabilities, never its family name:

- ``latent_shape``: the shape of one latent (``(64,)`` for a GAN's z, ``(1, 28, 28)`` for
  a diffusion model's starting noise); None for a model without one (PixelCNN).
  ``decode(z, labels)`` exists exactly when it is set.
- ``conditional`` / ``num_classes``: whether ``labels`` are taken.
- ``can_encode``: ``encode(x, labels)`` gives a latent for an image (a VAE).
- ``has_likelihood``: ``nll_nats(images01, labels, generator)`` gives a negative
  log-likelihood per image in nats; ``likelihood_is_bound`` when it is an upper bound
  (a VAE's negative ELBO) rather than exact.
- ``sample_options``: named sampling knobs with ranges (a diffusion model's steps and
  guidance, a PixelCNN's temperature), accepted by ``sample(**options)``.
- ``is_upscaler``: an image -> image model (ESPCN) rather than a sampler: latent_shape is
  None, ``upscale(images01)`` returns the images ``scale`` times larger and ``sample`` raises.
- ``can_cancel``: ``sample(..., should_stop=fn)`` polls fn and stops (a sampler of seconds).
- ``can_denoise``: ``denoising_path(label, generator, z=, should_stop=, **options)`` yields each
  sampler step's x_t and predicted x_0 (a diffusion model).
- ``can_complete``: ``complete(images01, known_mask, labels, generator, ...)`` fills the unknown
  pixels, and ``iter_sample`` draws pixel by pixel with each chosen value's probability (PixelCNN).

Sampling takes an explicit ``torch.Generator`` and never touches the global RNG, so two
models (or two trainers) in one process do not disturb each other. Images inside the
models live in [-1, 1]; ``sample`` hands them out in [0, 1].

ONNX export (``studio.core.onnx_export``) takes what a model offers through the optional
``onnx_module() -> OnnxGraph``: the network a deployment needs (an nn.Module, exported in
eval mode), ``make_inputs(n, generator)`` giving random CPU inputs of batch n, the input
and output names, a ``usage`` text (how to sample with it: a multi-step sampler goes there,
not into the graph) and extra metadata. Without it, a latent model with no sampling options
exports ``decode`` as ``(z[, labels]) -> image``; any other model cannot be exported.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn


@dataclass(frozen=True)
class SampleOption:
    """One sampling knob: its default, range (or choices) and a label for forms and the CLI."""

    default: float | int
    lo: float | int
    hi: float | int
    label: str
    help: str = ""
    integer: bool = False

    def check(self, name: str, value: Any) -> float | int:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"sampling option {name} must be a number, got {value!r}")
        if self.integer and int(value) != value:
            raise ValueError(f"sampling option {name} must be a whole number, got {value!r}")
        if not self.lo <= value <= self.hi:
            raise ValueError(f"sampling option {name} must be between {self.lo:g} and {self.hi:g}, got {value!r}")
        return int(value) if self.integer else float(value)


@dataclass(frozen=True)
class Capabilities:
    """A model's capabilities as plain values (for views that must not hold the model)."""

    family: str
    image_shape: tuple[int, int, int]
    latent_shape: tuple[int, ...] | None
    num_classes: int | None
    can_encode: bool
    has_likelihood: bool
    likelihood_is_bound: bool
    sample_options: dict[str, SampleOption]
    is_upscaler: bool = False

    @property
    def conditional(self) -> bool:
        return self.num_classes is not None

    @property
    def latent_size(self) -> int:
        """Number of latent dimensions (0 without a latent)."""
        if self.latent_shape is None:
            return 0
        size = 1
        for d in self.latent_shape:
            size *= d
        return size


def seeded(seed: int | None, device: torch.device | str = "cpu") -> torch.Generator:
    """A generator seeded with ``seed``, or with fresh entropy when None (never the global RNG)."""
    return torch.Generator(device=device).manual_seed(secrets.randbits(63) if seed is None else int(seed))


class GenerativeModel(nn.Module):
    family: str = ""
    latent_shape: tuple[int, ...] | None = None
    can_encode: ClassVar[bool] = False
    has_likelihood: ClassVar[bool] = False
    likelihood_is_bound: ClassVar[bool] = False
    sample_options: ClassVar[dict[str, SampleOption]] = {}
    is_upscaler: ClassVar[bool] = False
    can_cancel: ClassVar[bool] = False
    can_denoise: ClassVar[bool] = False
    can_complete: ClassVar[bool] = False

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int | None):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.num_classes = num_classes

    @property
    def conditional(self) -> bool:
        return self.num_classes is not None

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def capabilities(self) -> Capabilities:
        return Capabilities(self.family, self.image_shape, self.latent_shape, self.num_classes, self.can_encode,
                            self.has_likelihood, self.likelihood_is_bound, dict(self.sample_options),
                            self.is_upscaler)

    def sampling_module(self) -> nn.Module:
        """The part an EMA tracks and a sampler needs (default: the whole model)."""
        return self

    # -- sampling ----------------------------------------------------------------------
    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n latents from the prior N(0, I), drawn on the CPU so a seed gives the same z anywhere."""
        if self.latent_shape is None:
            raise TypeError(f"the {self.family} model has no latent space")
        z = torch.randn(n, *self.latent_shape, generator=generator or seeded(None))
        return z.to(self.device)

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """(N, *latent_shape) [+ (N,) labels] -> (N, C, H, W) images in [-1, 1]."""
        raise NotImplementedError

    @torch.no_grad()
    def sample(
        self,
        n: int,
        labels: torch.Tensor | int | None = None,
        generator: torch.Generator | None = None,
        *,
        z: torch.Tensor | None = None,
        **options: Any,
    ) -> torch.Tensor:
        """n images in [0, 1]. Labels default to 0, 1, 2, ... cycling when conditional.

        ``z`` (latent models): the latents to decode instead of drawing them.
        ``options``: the model's ``sample_options``; an unknown one is a ValueError.
        """
        options = self.check_options(options)
        labels = self.labels_for(n, labels)
        if generator is None:
            generator = seeded(None)
        was_training = self.training
        self.eval()
        try:
            images = self._sample(n, labels, generator, z, options)
        finally:
            self.train(was_training)
        return images.add(1).div(2).clamp(0, 1)

    def _sample(self, n: int, labels: torch.Tensor | None, generator: torch.Generator,
                z: torch.Tensor | None, options: dict[str, Any]) -> torch.Tensor:
        """Images in [-1, 1]; latent models decode z, the others override this."""
        z = self.sample_latent(n, generator) if z is None else z.to(self.device)
        return self.decode(z, labels)

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """Options filled with defaults and checked against their ranges."""
        unknown = set(options) - set(self.sample_options)
        if unknown:
            have = ", ".join(self.sample_options) or "none"
            raise ValueError(f"the {self.family} model has no sampling option {sorted(unknown)[0]!r} (it has: {have})")
        out = {k: o.default for k, o in self.sample_options.items()}
        out.update({k: self.sample_options[k].check(k, v) for k, v in options.items()})
        return out

    def labels_for(self, n: int, labels: torch.Tensor | int | None) -> torch.Tensor | None:
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

    # -- optional capabilities ---------------------------------------------------------
    def encode(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> Any:
        raise TypeError(f"the {self.family} model cannot encode images")

    def nll_nats(self, images01: torch.Tensor, labels: torch.Tensor | None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Per-image negative log-likelihood (or its bound) in nats, (N,) float64 on the CPU."""
        raise TypeError(f"the {self.family} model has no likelihood")
