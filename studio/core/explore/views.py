"""What the explorer's views compute, over an ``Explorer`` (Qt-free, on the render thread).

Every function here keys on the model's declared capabilities (``ExplorerInfo``), never
its family. The slow ones take ``should_stop`` (polled by the model's own sampler, or
between images) and ``progress(fraction, message, preview)``; a stopped one raises
``Stopped`` (or the sampler's own cancellation error), so no partial result passes for
a finished one.

- ``render_view``: the big image. A denoising model's comes with its whole path (x_t and
  the predicted x_0 at every sampler step, for the scrubber); a pixel-by-pixel model's
  with the probability of every chosen value (the heat map), drawn row by row; a mixture
  ensemble's with the member that drew it.
- ``strip``, ``seed_grid``: several images, one at a time for slow samplers (progress).
- ``complete``: k completions of a partly hidden image.
- ``nearest``: the training images nearest to a sample in evaluator features.
- ``super_resolve``: an ESPCN run's upscaling beside bicubic.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from studio.core.errors import StudioError
from studio.core.explore.images import to_uint8
from studio.core.explore.latent import interpolate
from studio.core.models.base import seeded

StopFn = Callable[[], bool] | None
ProgressFn = Callable[[float, str, Any], None] | None
LOG_P_FLOOR = -3.0  # the heat map spans log10 p from 0.001 (uniform over 256 levels is 0.004) to 1


class Stopped(Exception):
    """A view was cancelled or superseded before it finished."""


@dataclass(frozen=True)
class DenoisePath:
    ts: tuple[int, ...]  # the timestep of each step, noisiest first
    x_t: np.ndarray  # uint8 (steps, H, W, 3): what the network saw
    x0: np.ndarray  # uint8 (steps, H, W, 3): its guess of the clean image at that step


@dataclass(frozen=True)
class View:
    image: np.ndarray  # uint8 (H, W, 3)
    member: int | None = None  # index into ExplorerInfo.members: who drew it (a mixture)
    path: DenoisePath | None = None
    probs: np.ndarray | None = None  # float32 (H, W): probability of each chosen value (NaN: given)


def _check(should_stop: StopFn) -> None:
    if should_stop is not None and should_stop():
        raise Stopped("stopped")


def _report(progress: ProgressFn, fraction: float, message: str, preview: Any = None) -> None:
    if progress is not None:
        progress(fraction, message, preview)


def _label(ex, label: int | None) -> int | None:
    if not ex.info.conditional:
        return None
    return 0 if label is None else int(label)


def _latent_tensor(ex, z: np.ndarray) -> torch.Tensor:
    flat = torch.from_numpy(np.ascontiguousarray(z, np.float32))
    return flat.reshape(-1, *ex.info.latent_shape)


def heat_values(probs: np.ndarray) -> np.ndarray:
    """Probabilities -> [0, 1] on a log scale (LOG_P_FLOOR .. 0), NaN kept."""
    with np.errstate(divide="ignore", invalid="ignore"):
        v = (np.log10(np.asarray(probs, np.float64)) - LOG_P_FLOOR) / -LOG_P_FLOOR
    return np.clip(v, 0.0, 1.0).astype(np.float32)


# -- one image ----------------------------------------------------------------------------
def render_view(ex, z: np.ndarray, label: int | None = None, seed: int = 0, options: dict | None = None,
                should_stop: StopFn = None, progress: ProgressFn = None) -> View:
    """The big image for the point ``z`` (flat; empty without a latent) and ``seed``."""
    options = dict(options or {})
    info = ex.info
    if info.is_upscaler:
        raise StudioError(f"{info.source}: an upscaler draws nothing of its own; open a generator and pick "
                          "this run under Super-resolution")
    if info.can_denoise:
        return denoise(ex, z, label, seed, options, should_stop, progress)
    if info.can_complete:
        return draw(ex, label, seed, options, should_stop, progress)
    image, member = sample_one(ex, z, label, seed, options, should_stop)
    return View(image, member)


def sample_one(ex, z: np.ndarray, label: int | None, seed: int, options: dict,
               should_stop: StopFn = None) -> tuple[np.ndarray, int | None]:
    """One image (and, for a mixture, its member) with the same generator a render uses."""
    z = np.asarray(z, np.float32).reshape(1, -1)
    if ex.info.members:
        images, members = ex.render_batch_with_members(z, label, seed, **options)
        if members is not None:
            return images[0], int(members[0])
        return images[0], None
    extra = {"should_stop": should_stop} if ex.info.can_cancel and should_stop is not None else {}
    return ex.render_batch(z, label, seed, **options, **extra)[0], None


def denoise(ex, z: np.ndarray, label: int | None, seed: int, options: dict,
            should_stop: StopFn = None, progress: ProgressFn = None) -> View:
    """The sampler from the starting noise ``z``, keeping x_t and predicted x_0 of every step."""
    model = ex.model
    xs, x0s, ts = [], [], []
    with torch.inference_mode():
        path = model.denoising_path(_label(ex, label), seeded(seed), z=_latent_tensor(ex, z),
                                    should_stop=should_stop, **options)
        for step in path:
            xs.append(to_uint8(step.x_t)[0])
            x0s.append(to_uint8(step.x0)[0])
            ts.append(int(step.t))
            _report(progress, (step.index + 1) / step.steps,
                    f"denoising step {step.index + 1} of {step.steps} (t = {step.t})", x0s[-1])
    _check(should_stop)  # denoising_path ends quietly when stopped
    if not x0s:
        raise Stopped("no step was taken")
    return View(x0s[-1], path=DenoisePath(tuple(ts), np.stack(xs), np.stack(x0s)))


def _probs_map(probs: torch.Tensor) -> np.ndarray:
    """(C, H, W) probabilities -> (H, W): their mean over the channels (NaN where none)."""
    p = probs.float().numpy()
    with np.errstate(invalid="ignore"):
        return p[0] if p.shape[0] == 1 else np.nanmean(p, axis=0)


def draw(ex, label: int | None, seed: int, options: dict, should_stop: StopFn = None,
         progress: ProgressFn = None) -> View:
    """A pixel-by-pixel sample, row by row: the same image as ``sample(1, generator=seeded(seed))``."""
    model, h = ex.model, ex.info.image_shape[1]
    last = None
    with torch.inference_mode():
        steps = model.iter_sample(None, None, _label(ex, label), seeded(seed), n=1, by="row",
                                  should_stop=should_stop, **options)
        for last in steps:
            image, probs = to_uint8(last.images)[0], _probs_map(last.probs[0])
            _report(progress, (last.row + 1) / h, f"drawing row {last.row + 1} of {h}", (image, probs))
    if last is None:
        raise Stopped("nothing was drawn")
    return View(to_uint8(last.images)[0], probs=_probs_map(last.probs[0]))


# -- several images ----------------------------------------------------------------------
def strip(ex, a: np.ndarray, b: np.ndarray, n: int, label: int | None = None, seed: int = 0,
          options: dict | None = None, should_stop: StopFn = None, progress: ProgressFn = None) -> np.ndarray:
    """Slerp from a to b in n frames, uint8 (n, H, W, 3); a slow sampler one frame at a time."""
    options = dict(options or {})
    points = interpolate(a, b, n)
    if not ex.info.can_cancel:
        return ex.render_batch(points, label, seed, **options)
    frames = []
    for i, point in enumerate(points):
        frames.append(sample_one(ex, point, label, seed, options, should_stop)[0])
        _check(should_stop)
        _report(progress, (i + 1) / len(points), f"interpolation frame {i + 1} of {len(points)}")
    return np.stack(frames)


def seed_grid(ex, latents: list[np.ndarray], seeds: list[int], label: int | None = None,
              options: dict | None = None, should_stop: StopFn = None,
              progress: ProgressFn = None) -> tuple[np.ndarray, list[int | None]]:
    """One image per seed (latents: each seed's point, empty without a latent), each drawn
    exactly as a render of that seed would be: (uint8 (n, H, W, 3), member of each)."""
    options = dict(options or {})
    images, members = [], []
    for i, (z, seed) in enumerate(zip(latents, seeds, strict=True)):
        _check(should_stop)
        image, member = sample_one(ex, z, label, seed, options, should_stop)
        images.append(image)
        members.append(member)
        _report(progress, (i + 1) / len(seeds), f"seed {seed} ({i + 1} of {len(seeds)})")
    return np.stack(images), members


def complete(ex, image01: np.ndarray, known: np.ndarray, k: int, label: int | None = None, seed: int = 0,
             options: dict | None = None, should_stop: StopFn = None, progress: ProgressFn = None) -> np.ndarray:
    """k completions of ``image01`` (H, W) grey in [0, 1] where ``known`` (H, W) bool is False:
    uint8 (k, H, W, 3), all drawn in one batch from ``seeded(seed)``."""
    if not ex.info.can_complete:
        raise StudioError(f"a {ex.info.family} model cannot complete images")
    c, h, w = ex.info.image_shape
    x = torch.from_numpy(np.ascontiguousarray(image01, np.float32)).reshape(1, 1, h, w).expand(k, c, h, w)
    mask = torch.from_numpy(np.ascontiguousarray(known, bool)).reshape(h, w)
    labels = None if not ex.info.conditional else torch.full((k,), _label(ex, label), dtype=torch.long)
    last = None
    with torch.inference_mode():
        for last in ex.model.iter_sample(x.contiguous(), mask, labels, seeded(seed), by="row",
                                         should_stop=should_stop, **dict(options or {})):
            _report(progress, (last.row + 1) / h, f"completing row {last.row + 1} of {h} ({k} at once)",
                    to_uint8(last.images))
    if last is None:
        raise Stopped("nothing was completed")
    return to_uint8(last.images)


# -- data ----------------------------------------------------------------------------------
def real_image(ex, index: int) -> tuple[np.ndarray, int | None, int]:
    """A held-out (test) image: (grey (H, W) float32 in [0, 1], its label, how many there are)."""
    held = ex.cache.get("heldout")
    if held is None:
        from studio.core.metrics.evaluate import eval_splits

        if ex.data_config is None:
            raise StudioError("this model was not opened from a checkpoint: its data is not known")
        held = ex.cache["heldout"] = eval_splits(ex.data_config)[1]
    if not len(held):
        raise StudioError(f"{held.name} has no images")
    i = int(index) % len(held)
    image = held.images[i].float().div(255).mean(0).numpy()  # grey: the completion view edits one channel
    label = None if held.labels is None else int(held.labels[i])
    return image.astype(np.float32), label, len(held)


def nearest(ex, image: np.ndarray, k: int = 8, should_stop: StopFn = None, progress: ProgressFn = None):
    """The k training images nearest to ``image`` in evaluator features (neighbours.Neighbours)."""
    from studio.core.explore.neighbours import TrainingIndex

    index = ex.cache.get("neighbours")
    if index is None:
        def evaluator_progress(fraction: float, message: str) -> None:
            _report(progress, fraction, f"preparing the evaluator (once per dataset): {message}")

        _report(progress, 0.0, "embedding the training images…")
        index = ex.cache["neighbours"] = TrainingIndex.build(ex.data_config, evaluator_progress, should_stop)
    return index.query(image, k)


def embedding(ex):
    """Encoded training images in 2-D (embedding.Embedding), built once per model."""
    from studio.core.explore.embedding import encode_training

    if "embedding" not in ex.cache:
        ex.cache["embedding"] = encode_training(ex.model, ex.data_config)
    return ex.cache["embedding"]


# -- super-resolution ----------------------------------------------------------------------
def load_upscaler(ex, path: str | Path):
    """An ESPCN (any model declaring ``is_upscaler``) from a run or a checkpoint, cached."""
    from studio.core.train.checkpoint import load_checkpoint

    key = f"upscaler:{Path(path)}"
    if key not in ex.cache:
        model = load_checkpoint(path, device="cpu").model
        if not model.is_upscaler:
            raise StudioError(f"{path}: a {model.family} model, not a super-resolution model (train an espcn run)")
        ex.cache[key] = model
    return ex.cache[key]


def passes_for(scale: int, factor: int) -> int:
    """How many times an x``scale`` model runs for x``factor`` (x4 from an x2 model: twice)."""
    passes = round(math.log(factor, scale)) if scale > 1 else 0
    if passes < 1 or scale**passes != factor:
        raise StudioError(f"an x{scale} model cannot upscale x{factor}: pick an x{factor} run")
    return passes


def super_resolve(ex, image: np.ndarray, factor: int, upscaler_path: str | Path) -> tuple[np.ndarray, np.ndarray, str]:
    """uint8 (H, W, 3) -> (ESPCN x factor, bicubic x factor, a note), both uint8."""
    from studio.core.models.espcn import bicubic_upscale

    model = load_upscaler(ex, upscaler_path)
    passes = passes_for(model.scale, factor)
    c = model.image_shape[0]
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float().div(255)
    x = x[:, :1] if c == 1 else x[:, :c]
    up = x
    for _ in range(passes):
        up = model.upscale(up)
    bicubic = bicubic_upscale(x, factor).clamp(0, 1)
    note = f"{model.family} x{model.scale}" + (f", applied {passes} times" if passes > 1 else "")
    return to_uint8(up)[0], to_uint8(bicubic)[0], note
