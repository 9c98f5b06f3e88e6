"""Where training digits land in a VAE's latent space, like TensorBoard's projector.

A few hundred training images are encoded to their posterior means. A 2-D latent is
plotted as it is (over the manifold map, through the map's own quantile transform);
a larger one is projected to its top two principal components, and each point keeps
its full mean so a click can decode it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from studio.core.errors import StudioError

N_POINTS = 500


@dataclass(frozen=True)
class Embedding:
    coords: np.ndarray  # float32 (n, 2): the means themselves, or their top two components
    latents: np.ndarray  # float32 (n, d): the posterior means
    labels: np.ndarray | None  # int64 (n,)
    method: str  # "latent means" or "PCA of the latent means (...)"


@torch.no_grad()
def encode_training(model, data_cfg, n: int = N_POINTS, seed: int = 0) -> Embedding:
    """Encode n training images (a seeded random choice) and lay them out in 2-D."""
    from studio.core.data import load_dataset

    if not model.can_encode:
        raise StudioError(f"a {model.family} model has no encoder")
    if data_cfg is None:
        raise StudioError("this model was not opened from a checkpoint: its training data is not known")
    train = load_dataset(data_cfg, "train")
    pick = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:n].sort().values
    x = train.images[pick].float().div(255).to(model.device)
    labels = None if train.labels is None else train.labels[pick]
    y = labels.to(model.device) if model.conditional and labels is not None else None
    if model.conditional and y is None:
        raise StudioError(f"{train.name} has no labels for the conditional encoder")
    mu, _ = model.encode(x * 2 - 1, y)
    latents = mu.float().cpu().numpy()
    coords, method = project_2d(latents)
    return Embedding(coords, latents, None if labels is None else labels.numpy(), method)


def project_2d(latents: np.ndarray) -> tuple[np.ndarray, str]:
    """(n, d) -> (n, 2) and how: as they are for d = 2, else their top two principal components."""
    if latents.shape[1] <= 2:
        return latents[:, :2].astype(np.float32), "latent means"
    centred = latents - latents.mean(0, keepdims=True)
    _, s, vt = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
    share = float((s[:2] ** 2).sum() / max((s**2).sum(), 1e-12))
    return (centred @ vt[:2].T).astype(np.float32), f"PCA of the latent means ({share:.0%} of their variance)"
