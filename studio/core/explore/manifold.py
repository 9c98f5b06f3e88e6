"""The 2-D manifold map of a VAE (Kingma & Welling 2014, fig. 4): decode a grid of z
values spaced by the normal distribution's quantiles, so equal areas of the map hold
equal prior mass. Clicks map back to z through the same quantile transform."""

from __future__ import annotations

from statistics import NormalDist
from typing import TYPE_CHECKING

import numpy as np

from studio.core.explore.images import tile, to_uint8

if TYPE_CHECKING:  # torch loads lazily: the GUI maps clicks with this module before it
    from studio.core.models.base import GenerativeModel

EDGE = 0.02  # prior mass left out at each edge: the map spans z in about [-2.05, 2.05]
_NORMAL = NormalDist()


def fraction_to_z(u: float) -> float:
    """A position across the map (0 = left/bottom, 1 = right/top) -> a latent value."""
    u = min(max(float(u), 0.0), 1.0)
    return _NORMAL.inv_cdf(EDGE + u * (1 - 2 * EDGE))


def z_to_fraction(z: float) -> float:
    """The inverse of fraction_to_z, clipped to the map."""
    return min(max((_NORMAL.cdf(float(z)) - EDGE) / (1 - 2 * EDGE), 0.0), 1.0)


def manifold_map(
    model: GenerativeModel,
    n: int = 15,
    label: int | None = None,
    base: np.ndarray | None = None,
    dims: tuple[int, int] = (0, 1),
) -> np.ndarray:
    """Decode an n x n grid over latent dims ``dims`` (others from ``base``, else 0).

    Returns uint8 (n*H, n*W, 3) with no padding, so a click at fraction (u, v) of the map
    is z = (fraction_to_z(u), fraction_to_z(v)); rows run top (high z) to bottom.
    """
    values = [fraction_to_z((j + 0.5) / n) for j in range(n)]
    z = np.zeros((n * n, model.capabilities().latent_size), dtype=np.float32)
    if base is not None:
        z[:] = base
    for row in range(n):
        for col in range(n):
            z[row * n + col, dims[0]] = values[col]
            z[row * n + col, dims[1]] = values[n - 1 - row]
    import torch

    labels = None if label is None or not model.conditional else label
    images = model.sample(n * n, z=torch.from_numpy(z), labels=labels)  # sample() is no_grad
    return tile(to_uint8(images), n)
