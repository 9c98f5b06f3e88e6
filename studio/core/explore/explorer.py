"""One loaded model, seen through the explorer's controls. Methods are plain calls on
numpy arrays; the GUI calls them from its render thread, one at a time.

The controls follow the model's declared capabilities, never its family: a latent
model gets sliders (its first latent axes, plus GANSpace principal directions when it
cannot encode and has a vector latent; a few fixed random directions when its latent
is an image, like a diffusion model's starting noise); an encoder gets the drawing
canvas; a 2-D encoder latent the manifold map. Latents travel flat, (latent_size,).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from studio.core.explore.directions import Directions, latent_directions, random_directions
from studio.core.explore.encode import encode_image, prepare_drawing
from studio.core.explore.images import to_uint8
from studio.core.explore.latent import interpolate, random_latent
from studio.core.explore.manifold import manifold_map
from studio.core.models.base import GenerativeModel, seeded

AXIS_SLIDERS = 8  # a GAN shows its first k latent dimensions ...
PCA_SLIDERS = 8  # ... plus this many GANSpace directions
MAX_SLIDERS = 64  # beyond this a per-dimension slider list is unusable


@dataclass(frozen=True, eq=False)
class ExplorerInfo:
    """What the controls need to know about the model; plain values only."""

    family: str
    latent_dim: int  # flat size of the latent (0: none)
    latent_shape: tuple[int, ...] | None
    num_classes: int | None
    class_names: tuple[str, ...]
    image_shape: tuple[int, int, int]
    axis_dims: int  # sliders for latent dims 0 .. axis_dims-1
    directions: int  # sliders for principal directions after those
    explained: tuple[float, ...]  # variance share per direction, for the labels
    direction_vectors: np.ndarray | None  # float32 (directions, latent_dim), unit rows
    has_map: bool  # a 2-D latent: show the clickable manifold map
    can_encode: bool  # an encoder: the drawing canvas works
    sample_options: tuple[tuple[str, object], ...]  # (name, SampleOption) of the model
    step: int
    source: str
    # An ensemble's member names (studio.core.ensemble); for a mixture,
    # render_batch_with_members says which member drew each image.
    members: tuple[str, ...] = ()
    direction_kind: str = ""  # "ganspace" (learned from the network) or "random" (image-shaped latent)
    can_cancel: bool = False  # the sampler takes should_stop: seconds per image, run as cancellable jobs
    can_denoise: bool = False  # denoising_path: the scrubber over x_t and predicted x_0
    can_complete: bool = False  # pixel-by-pixel drawing and completions of a partial image
    can_truncate: bool = False  # a vector latent without an encoder (a GAN): the truncation slider
    is_upscaler: bool = False  # an ESPCN: nothing to sample; it serves the super-resolution view
    bookmarks: str = ""  # the run's bookmarks.json ("" when not known)

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
        caps = model.capabilities()
        d = caps.latent_size
        self.directions: Directions | None = None
        vector_latent = caps.latent_shape is not None and len(caps.latent_shape) == 1
        mixture = getattr(model, "mode", None) == "mixture"  # no single decoder to take directions from
        if d and n_directions > 0 and not caps.can_encode and not mixture:
            if not vector_latent:
                self.directions = random_directions(d, n_directions)
            elif d > AXIS_SLIDERS:
                self.directions = latent_directions(model, k=n_directions)
        if not vector_latent:
            axis_dims = 0  # an image-shaped latent: per-pixel sliders would mean nothing
        else:
            axis_dims = min(d, MAX_SLIDERS) if caps.can_encode else min(d, AXIS_SLIDERS)
        names = class_names or ([str(i) for i in range(model.num_classes)] if model.num_classes else [])
        self.info = ExplorerInfo(
            family=model.family,
            latent_dim=d,
            latent_shape=caps.latent_shape,
            num_classes=model.num_classes,
            class_names=tuple(names),
            image_shape=tuple(model.image_shape),
            axis_dims=axis_dims,
            directions=0 if self.directions is None else len(self.directions.vectors),
            explained=() if self.directions is None else tuple(map(float, self.directions.explained)),
            direction_vectors=None if self.directions is None else self.directions.vectors.copy(),
            has_map=caps.can_encode and d == 2,
            can_encode=caps.can_encode,
            sample_options=tuple(caps.sample_options.items()),
            step=step,
            source=source,
            members=tuple(getattr(model, "names", ())),
            direction_kind="" if self.directions is None else ("random" if not vector_latent else "ganspace"),
            can_cancel=model.can_cancel,
            can_denoise=model.can_denoise and caps.latent_shape is not None,
            can_complete=model.can_complete,
            can_truncate=vector_latent and not caps.can_encode,
            is_upscaler=caps.is_upscaler,
        )
        self.data_config: Any = None  # the run's DataConfig, for views that read training images
        self.cache: dict[str, Any] = {}  # what the slower views build once per model (studio.core.explore.views)

    @classmethod
    def from_checkpoint(cls, path: str | Path) -> Explorer:
        """A run directory or a .safetensors file; CheckpointError names a bad file."""
        from studio.core.explore.bookmarks import bookmarks_path
        from studio.core.train.checkpoint import load_checkpoint

        loaded = load_checkpoint(path, device="cpu")
        explorer = cls(loaded.model, loaded.class_names, loaded.step, str(loaded.path))
        explorer.data_config = loaded.config.data
        explorer.info = replace(explorer.info, bookmarks=str(bookmarks_path(loaded.path)))
        return explorer

    def random_latent(self, seed: int) -> np.ndarray:
        return random_latent(self.info.latent_dim, seed)

    def latent(self, z: np.ndarray, offsets: np.ndarray | None = None) -> np.ndarray:
        return self.info.latent(z, offsets)

    @torch.inference_mode()
    def render(self, z: np.ndarray, offsets: np.ndarray | None = None, label: int | None = None) -> np.ndarray:
        """One image, uint8 (H, W, 3)."""
        return self.render_batch(self.latent(z, offsets)[None], label)[0]

    @torch.inference_mode()
    def render_batch(self, z: np.ndarray, label: int | None = None, seed: int = 0, **options) -> np.ndarray:
        """uint8 (N, H, W, 3) for flat latents (N, d); a model without a latent draws N
        samples from ``seed`` instead."""
        labels = label if self.model.conditional else None
        if labels is None and self.model.conditional:
            labels = 0
        latents = None
        if self.info.latent_shape is not None:
            flat = torch.from_numpy(np.ascontiguousarray(z, np.float32))
            latents = flat.view(len(flat), *self.info.latent_shape)
        images = self.model.sample(len(z), labels, seeded(seed), z=latents, **options)
        return to_uint8(images)

    @torch.inference_mode()
    def render_batch_with_members(self, z: np.ndarray, label: int | None = None, seed: int = 0,
                                  members: np.ndarray | None = None, **options) -> tuple[np.ndarray, np.ndarray | None]:
        """Like ``render_batch``, plus the member index of each image for a mixture ensemble
        (None for any other model); ``members`` forces the assignment (one index per image)."""
        if getattr(self.model, "mode", None) != "mixture":
            return self.render_batch(z, label, seed, **options), None
        labels = (0 if label is None else label) if self.model.conditional else None
        latents = None
        if self.info.latent_shape is not None:
            flat = torch.from_numpy(np.ascontiguousarray(z, np.float32))
            latents = flat.view(len(flat), *self.info.latent_shape)
        forced = None if members is None else torch.as_tensor(np.asarray(members), dtype=torch.long)
        images, idx = self.model.sample_with_members(len(z), labels, seeded(seed), z=latents, members=forced, **options)
        return to_uint8(images), idx.numpy()

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
