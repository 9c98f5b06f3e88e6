"""Scoring a generative model (or any image set) against a dataset, in evaluator space.

``Reference`` holds the evaluator features of the real training split, computed once.
``score`` turns the features and class predictions of a set under test into metric
values; ``sample_images`` draws a model's samples with class labels in the dataset's
proportions; ``real_floor`` scores held-out real images the same way: the calibration
a model's figure is read against.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from studio.core.data.dataset import ImageData
from studio.core.metrics import stats
from studio.core.metrics.evaluator import Evaluator

HOLDOUT_FRACTION = 0.1  # held out of a dataset that has no test split of its own


@dataclass
class Reference:
    """Evaluator features of real training images, plus their class shares."""

    evaluator: Evaluator
    feats: torch.Tensor  # float64 (m, D)
    data_hist: torch.Tensor  # float64 (K,) class shares of the whole split
    mu: torch.Tensor = field(init=False)
    sigma: torch.Tensor = field(init=False)
    _radii: dict[tuple[int, int], torch.Tensor] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.mu, self.sigma = stats.gaussian_stats(self.feats)

    @classmethod
    def build(cls, evaluator: Evaluator, train: ImageData, max_n: int = 10_000, seed: int = 0) -> Reference:
        """Embed up to ``max_n`` training images (a seeded random subset beyond that)."""
        if train.labels is None:
            raise ValueError(f"{train.name}: the reference needs labels")
        images = train.images
        if len(images) > max_n:
            idx = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:max_n]
            images = images[idx]
        feats, _ = evaluator.embed(images)
        return cls(evaluator, feats, stats.label_histogram(train.labels, evaluator.num_classes))

    def subset(self, n: int) -> torch.Tensor:
        """The first n reference features (already a random order when subsampled)."""
        return self.feats[:n]

    def radii(self, n: int, k: int) -> torch.Tensor:
        """k-NN radii of the first n reference features, cached: the live monitor reuses them."""
        key = (n, k)
        if key not in self._radii:
            self._radii[key] = stats.kth_nn_radius(self.subset(n).float(), k)
        return self._radii[key]


@dataclass
class Scores:
    """Metric values of one image set, plus its predicted class shares."""

    n: int
    values: dict[str, float]
    class_histogram: np.ndarray | None = None

    def to_dict(self) -> dict:
        hist = None if self.class_histogram is None else [round(float(v), 6) for v in self.class_histogram]
        return {"n": self.n, "values": self.values, "class_histogram": hist}


def score(
    ref: Reference,
    feats: torch.Tensor,
    probs: torch.Tensor,
    asked: torch.Tensor | None = None,
    *,
    full: bool = True,
    pr_reference_n: int | None = None,
    seed: int = 0,
) -> Scores:
    """Metrics of a set under test given its evaluator features and class probabilities.

    ``asked``: the labels a conditional model was asked for (conditional accuracy).
    ``full``: also the costlier KID and classifier two-sample test (not in live mode).
    ``pr_reference_n``: real samples for precision/recall (default: as many as ``feats``,
    since the k-NN radii depend on set size; Kynkäänniemi et al. use equal sizes).
    """
    hist = stats.class_histogram(probs)
    values: dict[str, float] = {
        "fid_eval": stats.frechet_from_stats(ref.mu, ref.sigma, *stats.gaussian_stats(feats)),
    }
    if full:
        values["kid_eval"] = stats.kernel_inception_distance(ref.feats, feats)
    m = min(len(ref.feats), pr_reference_n or len(feats))
    precision, recall = stats.precision_recall(ref.subset(m), feats, k=3, real_radii=ref.radii(m, 3))
    values["precision"], values["recall"] = precision, recall
    values["coverage"] = float(stats.class_coverage(hist, ref.data_hist))
    values["num_classes"] = float(int((ref.data_hist > 0).sum()))
    values["class_kl"] = stats.class_kl(hist, ref.data_hist)
    present = ref.data_hist > 0
    values["min_class_share"] = float(hist[present].min()) if bool(present.any()) else 0.0
    if asked is not None:
        values["cond_acc"] = stats.conditional_accuracy(probs, asked)
    if full:
        values["c2st_acc"] = stats.classifier_two_sample_test(ref.feats, feats, seed=seed)
    return Scores(len(feats), values, hist.numpy())


def stratified_labels(n: int, shares: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """n labels in the given class shares (largest remainder), in a seeded random order."""
    shares = shares.double() / shares.sum()
    exact = shares * n
    counts = exact.floor().long()
    remainder = n - int(counts.sum())
    if remainder:
        counts[torch.argsort(exact - counts, descending=True)[:remainder]] += 1
    labels = torch.repeat_interleave(torch.arange(len(shares)), counts)
    return labels[torch.randperm(n, generator=torch.Generator().manual_seed(seed))]


@torch.no_grad()
def sample_images(
    model, n: int, seed: int = 0, shares: torch.Tensor | None = None, batch_size: int = 500,
    options: dict | None = None, should_stop=None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """n samples in [0, 1] on the CPU, and the labels asked for when conditional.

    Seeded per batch from ``seed`` with a generator of its own: the caller's random
    stream (and so a training run's) is untouched. ``options``: the model's sampling
    options (diffusion steps, temperature, ...). ``should_stop``: checked between batches.
    """
    from studio.core.models.base import seeded

    asked = None
    if model.conditional:
        shares = shares if shares is not None else torch.ones(model.num_classes)
        asked = stratified_labels(n, shares[: model.num_classes], seed)
    out = []
    for i, start in enumerate(range(0, n, batch_size)):
        m = min(batch_size, n - start)
        labels = None if asked is None else asked[start : start + m]
        if should_stop is not None and should_stop():
            from studio.core.metrics.evaluator import EvaluatorCancelled

            raise EvaluatorCancelled("sampling was cancelled")
        images = model.sample(m, labels, seeded(seed * 100_003 + i), **(options or {})).float().cpu()
        out.append(images.nan_to_num_(0.5))  # a diverged model scores as grey, not as an exception
    images = torch.cat(out) if out else torch.zeros(0, *model.image_shape)
    return images, asked


def evaluate_model(model, ref: Reference, n: int, seed: int = 0) -> tuple[Scores, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Sample n images from ``model`` and score them; also returns (feats, probs, asked)."""
    images, asked = sample_images(model, n, seed, ref.data_hist)
    feats, probs = ref.evaluator.embed(images)
    return score(ref, feats, probs, asked, seed=seed), feats, probs, asked


def real_floor(ref: Reference, heldout: ImageData, n: int | None = None, *, full: bool = True, seed: int = 0) -> Scores:
    """Held-out real images scored as if generated: the best a model can do at that n.

    Its conditional accuracy is the evaluator's own held-out accuracy.
    """
    images, labels = heldout.images, heldout.labels
    if n is not None and n < len(images):
        idx = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:n]
        images = images[idx]
        labels = None if labels is None else labels[idx]
    feats, probs = ref.evaluator.embed(images)
    return score(ref, feats, probs, labels, full=full, seed=seed)


def split_heldout(train: ImageData, test: ImageData | None, seed: int = 0) -> tuple[ImageData, ImageData]:
    """(fit, held-out). A dataset whose test split is missing or repeats its training split
    (an image folder) gets a seeded 10% of its training images held out instead."""
    if test is not None and len(test) and not _same(train, test):
        return train, test
    n = len(train)
    k = max(1, int(round(n * HOLDOUT_FRACTION))) if n > 1 else 0
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    hold, fit = perm[:k].sort().values, perm[k:].sort().values

    def part(idx: torch.Tensor, suffix: str) -> ImageData:
        labels = None if train.labels is None else train.labels[idx]
        return ImageData(train.name + suffix, train.images[idx], labels, train.class_names, train.source)

    return part(fit, ""), part(hold, " (held-out 10%)")


def _same(a: ImageData, b: ImageData) -> bool:
    return a.images.shape == b.images.shape and torch.equal(a.images, b.images)


def eval_splits(data_cfg, train: ImageData | None = None) -> tuple[ImageData, ImageData]:
    """(fit, held-out) for a DataConfig: what the evaluator trains on and the floor uses.

    ``train``: the training split when the caller has it loaded already (the Trainer).
    """
    from studio.core.data import load_dataset
    from studio.core.errors import DataError

    if train is None:
        train = load_dataset(data_cfg, "train")
    try:
        test = load_dataset(data_cfg, "test")
    except DataError:
        test = None
    return split_heldout(train, test)
