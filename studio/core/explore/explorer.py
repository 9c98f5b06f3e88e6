"""One loaded model, seen through the explorer's controls. Methods are plain calls on
numpy arrays; the GUI calls them from its render thread, one at a time."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from studio.core.explore.directions import Directions, latent_directions
from studio.core.explore.encode import encode_image, prepare_drawing
from studio.core.explore.images import to_uint8
from studio.core.explore.latent import interpolate, random_latent
from studio.core.explore.manifold import manifold_map
from studio.core.models.base import GenerativeModel

AXIS_SLIDERS = 8  # a GAN shows its first k latent dimensions ...
PCA_SLIDERS = 8  # ... plus this many GANSpace directions
MAX_SLIDERS = 64  # beyond this a per-dimension slider list is unusable


@dataclass(frozen=True, eq=False)
class ExplorerInfo:
    """What the controls need to know about the model; plain values only."""

    family: str
    kind: str  # "gan" or "vae"
    latent_dim: int
    num_classes: int | None
    class_names: tuple[str, ...]
    image_shape: tuple[int, int, int]
    axis_dims: int  # sliders for latent dims 0 .. axis_dims-1
    directions: int  # sliders for principal directions after those
    explained: tuple[float, ...]  # variance share per direction, for the labels
    direction_vectors: np.ndarray | None  # float32 (directions, latent_dim), unit rows
    has_map: bool  # a 2-D latent: show the clickable manifold map
    can_encode: bool  # a VAE: the drawing canvas works
    step: int
    source: str

    @property
    def conditional(self) -> bool:
        return self.num_classes is not None

    def latent(self, z: np.ndarray, offsets: np.ndarray | None = None) -> np.ndarray:
        """z moved along the principal directions by ``offsets`` (one per direction)."""
        z = np.asarray(z, dtype=np.float32)
        if offsets is None or self.direction_vectors is None or not np.any(offsets):
            return z.copy()
        return z + np.asarray(offsets, dtype=np.float32) @ self.direction_vectors


class Explorer:
    def __init__(
        self,
        model: GenerativeModel,
        class_names: list[str] | None = None,
        step: int = 0,
        source: str = "",
        n_directions: int = PCA_SLIDERS,
    ):
        self.model = model.eval()
        kind = "vae" if hasattr(model, "encode") else "gan"
        d = model.latent_dim
        self.directions: Directions | None = None
        if kind == "gan" and d > AXIS_SLIDERS and n_directions > 0:
            self.directions = latent_directions(model, k=n_directions)
        axis_dims = min(d, AXIS_SLIDERS) if kind == "gan" else min(d, MAX_SLIDERS)
        names = class_names or ([str(i) for i in range(model.num_classes)] if model.num_classes else [])
        self.info = ExplorerInfo(
            family=model.family,
            kind=kind,
            latent_dim=d,
            num_classes=model.num_classes,
            class_names=tuple(names),
            image_shape=tuple(model.image_shape),
            axis_dims=axis_dims,
            directions=0 if self.directions is None else len(self.directions.vectors),
            explained=() if self.directions is None else tuple(map(float, self.directions.explained)),
            direction_vectors=None if self.directions is None else self.directions.vectors.copy(),
            has_map=kind == "vae" and d == 2,
            can_encode=kind == "vae",
            step=step,
            source=source,
        )

    @classmethod
    def from_checkpoint(cls, path: str | Path) -> Explorer:
        """A run directory or a .safetensors file; CheckpointError names a bad file."""
        from studio.core.train.checkpoint import load_checkpoint

        loaded = load_checkpoint(path, device="cpu")
        return cls(loaded.model, loaded.class_names, loaded.step, str(loaded.path))

    def random_latent(self, seed: int) -> np.ndarray:
        return random_latent(self.model.latent_dim, seed)

    def latent(self, z: np.ndarray, offsets: np.ndarray | None = None) -> np.ndarray:
        return self.info.latent(z, offsets)

    @torch.inference_mode()
    def render(self, z: np.ndarray, offsets: np.ndarray | None = None, label: int | None = None) -> np.ndarray:
        """One image, uint8 (H, W, 3)."""
        return self.render_batch(self.latent(z, offsets)[None], label)[0]

    @torch.inference_mode()
    def render_batch(self, z: np.ndarray, label: int | None = None) -> np.ndarray:
        """uint8 (N, H, W, 3) for latents (N, d)."""
        labels = label if self.model.conditional else None
        if labels is None and self.model.conditional:
            labels = 0
        images = self.model.sample(len(z), z=torch.from_numpy(np.ascontiguousarray(z, np.float32)), labels=labels)
        return to_uint8(images)

    def strip(self, z0: np.ndarray, z1: np.ndarray, n: int, label: int | None = None) -> np.ndarray:
        """Slerp from z0 to z1 in n frames: uint8 (n, H, W, 3)."""
        return self.render_batch(interpolate(z0, z1, n), label)

    def manifold(self, n: int = 15, label: int | None = None, base: np.ndarray | None = None) -> np.ndarray:
        return manifold_map(self.model, n, label, base)

    def reconstruct(self, drawing: np.ndarray, label: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A drawing (H, W) in [0, 1] -> (model input uint8, reconstruction uint8, latent mean)."""
        image = prepare_drawing(drawing, self.info.image_shape)
        recon, mu = encode_image(self.model, image, label)
        shown = to_uint8(torch.from_numpy(image)[None])[0]
        return shown, recon, mu
