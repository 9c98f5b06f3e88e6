"""Points in latent space: seeded draws and spherical interpolation."""

from __future__ import annotations

import numpy as np


def random_latent(dim: int, seed: int) -> np.ndarray:
    """z ~ N(0, I) for a seed, flat; equals ``model.sample(1, generator=seeded(seed))``'s z
    (the same CPU torch draw as ``GenerativeModel.sample_latent``)."""
    import torch  # lazily: slerp and the GUI's views need only numpy

    generator = torch.Generator().manual_seed(int(seed))
    return torch.randn(1, dim, generator=generator)[0].numpy().astype(np.float32)


def slerp(a: np.ndarray, b: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    """Spherical interpolation from a (t=0) to b (t=1); t may be an array -> (len(t), d).

    Gaussian latents live near a sphere, so slerp keeps the norm typical where a straight
    line would pass through the low-density centre (White 2016, "Sampling Generative Networks").
    Interpolates the norm linearly; falls back to lerp when a and b are (anti)parallel.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    ts = np.atleast_1d(t)[:, None]
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na < 1e-8 or nb < 1e-8:
        out = (1 - ts) * a + ts * b
    else:
        ua, ub = a / na, b / nb
        omega = np.arccos(np.clip(ua @ ub, -1.0, 1.0))
        if np.sin(omega) < 1e-6:
            direction = (1 - ts) * ua + ts * ub
        else:
            direction = (np.sin((1 - ts) * omega) * ua + np.sin(ts * omega) * ub) / np.sin(omega)
        out = direction * ((1 - ts) * na + ts * nb)
    out = out.astype(np.float32)
    return out[0] if t.ndim == 0 else out


def interpolate(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """n points from a to b, both ends included: (n, d)."""
    return slerp(a, b, np.linspace(0.0, 1.0, max(2, n)))
