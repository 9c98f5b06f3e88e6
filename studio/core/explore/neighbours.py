"""Nearest training images to a sample, in the evaluator's features: a memorisation check.

Pixel distance would call a digit shifted by one pixel far from itself; the evaluator's
penultimate layer (the same features FID uses here) is what "looks alike" means for the
metrics. The evaluator comes from the same cache the Measure button uses
(``get_evaluator`` over ``eval_splits``), so the first use may train it (under a minute).
The search covers the whole training split, not only the evaluator's fit part.

For scale, ``typical`` is the median distance from a held-out real image to its nearest
training image: a sample much closer to a training image than that is likely a copy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from studio.core.errors import StudioError
from studio.core.explore.images import to_uint8

TYPICAL_N = 500  # held-out images for the typical distance


@dataclass(frozen=True)
class Neighbours:
    images: np.ndarray  # uint8 (k, H, W, 3), nearest first
    distances: np.ndarray  # float (k,), L2 in evaluator features
    labels: tuple[int | None, ...]
    indices: tuple[int, ...]  # into the training split
    searched: int  # training images compared
    typical: float  # median held-out-to-nearest-training distance (nan when there is no held-out split)


class TrainingIndex:
    """The training split embedded once by the dataset's evaluator."""

    def __init__(self, evaluator, images: torch.Tensor, labels: torch.Tensor | None, features: torch.Tensor,
                 typical: float = float("nan")):
        self.evaluator = evaluator
        self.images = images  # uint8 (N, C, H, W)
        self.labels = labels
        self.features = features  # float64 (N, F)
        self.typical = typical

    @classmethod
    def build(cls, data_cfg, progress: Callable[[float, str], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> TrainingIndex:
        from studio.core.data import load_dataset
        from studio.core.metrics.evaluate import eval_splits
        from studio.core.metrics.evaluator import get_evaluator

        if data_cfg is None:
            raise StudioError("this model was not opened from a checkpoint: its training data is not known")
        train = load_dataset(data_cfg, "train")
        fit, held = eval_splits(data_cfg, train=train)
        if fit.labels is None:
            raise StudioError(f"{train.name} has no labels, so it has no evaluator to compare images with")
        evaluator = get_evaluator(fit, held, progress=progress, should_stop=should_stop)
        features, _ = evaluator.embed(train.images)
        typical = float("nan")
        if len(held) and fit is train:  # a held-out part carved from the training split would be found in it
            held_feats, _ = evaluator.embed(held.images[:TYPICAL_N])
            typical = float(torch.cdist(held_feats, features).min(dim=1).values.median())
        return cls(evaluator, train.images, train.labels, features, typical)

    def query(self, image: np.ndarray, k: int = 8) -> Neighbours:
        """The k training images nearest to one uint8 (H, W, 3) image."""
        c = self.images.shape[1]
        x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]
        x = x[:, :1] if c == 1 else x[:, :c]
        query, _ = self.evaluator.embed(x)
        dist = torch.cdist(query, self.features)[0]
        k = min(k, len(dist))
        best = torch.topk(dist, k, largest=False).indices
        labels = tuple(None if self.labels is None else int(self.labels[i]) for i in best)
        images = to_uint8(self.images[best].float() / 255)
        return Neighbours(images, dist[best].numpy(), labels, tuple(int(i) for i in best), len(dist), self.typical)
