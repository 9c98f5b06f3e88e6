"""Interpretable latent directions, GANSpace style (Härkönen et al. 2020).

Choice: PCA of the sampler's *first hidden layer activations* (the output of the first
nonlinearity after its first Linear layer), transferred back to z by least squares.
This is GANSpace's recipe for BigGAN, whose z feeds a plain first layer like ours.
PCA of z itself would be useless (z ~ N(0, I) is isotropic: every direction has the
same variance); the first layer's activations are where the generator has already
stretched z along the axes it uses most. Steps:

1. draw N latents z_i (and random labels for conditional models), run the sampler up to
   that layer and keep its activations y_i (the forward pass is cut short there);
2. centre y (per class for conditional models, so the components capture style rather
   than the label's own shift) and take its top-k principal components V;
3. project x_i = V^T (y_i - mean), then solve z_i ~ x_i B by least squares: row k of B,
   normalised, is the direction in z-space that moves the activations along component k.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from studio.core.models.base import GenerativeModel

_ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid)


@dataclass(frozen=True)
class Directions:
    vectors: np.ndarray  # float32 (k, latent_dim), unit rows
    explained: np.ndarray  # float (k,) share of the layer's activation variance per component
    layer: str  # the module the activations came from, for the tooltip


class _Stop(Exception):
    """Raised by the hook to end the forward pass at the captured layer."""


def hidden_layer(model: GenerativeModel) -> tuple[str, nn.Module]:
    """The first nonlinearity after the first Linear of the model's sampler."""
    root = model.sampling_module()
    first_linear: tuple[str, nn.Module] | None = None
    for name, module in root.named_modules():
        if isinstance(module, nn.Linear) and first_linear is None:
            first_linear = (name, module)
        elif first_linear is not None and isinstance(module, _ACTIVATIONS):
            return name, module
    if first_linear is None:
        raise ValueError(f"{type(root).__name__} has no Linear layer to take directions from")
    return first_linear


@torch.no_grad()
def latent_directions(
    model: GenerativeModel, k: int = 8, n_samples: int = 2000, seed: int = 0
) -> Directions:
    """The top-k GANSpace directions of ``model`` in its z-space (see the module doc)."""
    name, layer = hidden_layer(model)
    generator = torch.Generator().manual_seed(seed)
    z = model.sample_latent(n_samples, generator)
    labels = None
    if model.conditional:
        labels = torch.randint(model.num_classes, (n_samples,), generator=generator).to(z.device)
    captured: list[torch.Tensor] = []

    def hook(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
        captured.append(output.flatten(1).float())
        raise _Stop

    handle = layer.register_forward_hook(hook)
    was_training = model.training
    model.eval()
    try:
        model.decode(z, labels)
    except _Stop:
        pass
    finally:
        handle.remove()
        model.train(was_training)
    # On the CPU from here: the PCA's random projections then come from the CPU RNG that
    # fork_rng below protects (on a CUDA tensor they would draw from the global CUDA RNG).
    acts = captured[0].cpu()
    labels = None if labels is None else labels.cpu()
    acts = acts - _group_means(acts, labels)
    k = max(1, min(k, acts.shape[1], n_samples - 1, model.capabilities().latent_size))
    with torch.random.fork_rng(devices=[]):  # pca_lowrank draws from the global RNG
        torch.manual_seed(seed)
        _, s, v = torch.pca_lowrank(acts, q=min(k + 8, *acts.shape), center=False, niter=4)
    coords = acts @ v[:, :k]  # (N, k)
    basis = torch.linalg.lstsq(coords, z.float().cpu()).solution  # (k, latent_dim)
    vectors = basis / basis.norm(dim=1, keepdim=True).clamp_min(1e-12)
    total = acts.pow(2).sum().clamp_min(1e-12)
    explained = (s[:k] ** 2 / total).numpy()
    return Directions(vectors.numpy().astype(np.float32), explained, name)


def _group_means(acts: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    if labels is None:
        return acts.mean(0, keepdim=True)
    means = torch.zeros_like(acts)
    for c in labels.unique():
        rows = labels == c
        means[rows] = acts[rows].mean(0, keepdim=True)
    return means


def random_directions(dim: int, k: int, seed: int = 0) -> Directions:
    """k fixed random orthonormal directions in a latent of ``dim`` dimensions.

    For an image-shaped latent (a diffusion model's starting noise under deterministic
    DDIM) there are no learned axes: moving along a few fixed random directions still
    moves the image smoothly, and the same seed gives the same sliders every time.
    """
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(dim, k, generator=gen, dtype=torch.float64))
    vectors = q.T.float().numpy()  # unit rows, like GANSpace's: a slider moves z by that many sigmas
    return Directions(vectors, np.full(k, 1.0 / k, dtype=np.float32), "random")
