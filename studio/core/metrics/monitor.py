"""The live monitor: cheap metrics of a training model every N steps, and collapse warnings.

The Trainer calls ``monitor(model, step)`` with its sampling model (the EMA copy when
there is one) every ``monitor_every`` steps and yields the returned Metrics event. The
evaluator is trained or loaded *before* the run by ``prepare_monitor``, never inside
the training loop. One call samples ``n`` images from fixed seeds (the same noise every
time, so the curves show the model changing, not the noise) and computes:

- ``fid_eval``: FID in evaluator features against the training split, at this n;
- ``precision``/``recall`` (k=3) against n real images;
- ``coverage``, ``num_classes``, ``class_kl``, ``min_class_share`` and the class
  histogram of the evaluator's predictions;
- ``cond_acc`` for conditional models.

It uses the model's own seeded generator and touches no global random state, so a
monitored run trains exactly as an unmonitored one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from studio.core.data.dataset import ImageData
from studio.core.live_keys import COVERAGE_FRACTION, KL_WARN, LIVE_KEYS, LIVE_N, PLOT_KEYS
from studio.core.metrics.evaluate import Reference, eval_splits, real_floor, sample_images, score
from studio.core.metrics.evaluator import Evaluator, Progress, get_evaluator
from studio.core.train.events import Metrics

__all__ = ["KL_WARN", "LIVE_KEYS", "LIVE_N", "PLOT_KEYS", "LiveMonitor", "collapse_warning", "prepare_monitor"]


class LiveMonitor:
    """``monitor(model, step) -> Metrics``; ``floor`` holds held-out real values at the same n."""

    def __init__(self, evaluator: Evaluator, train: ImageData, heldout: ImageData | None = None,
                 n: int = LIVE_N, seed: int = 0, reference_n: int = 2000):
        self.evaluator = evaluator
        self.n = n
        self.seed = seed
        self.class_names = list(train.class_names or [])
        self.reference = Reference.build(evaluator, train, max_n=max(reference_n, n), seed=seed)
        self.reference.radii(n, 3)  # computed now, not during training
        self.floor: dict[str, float] = {}
        self.caveat = reliability_caveat(evaluator.accuracy, train)
        if heldout is not None and heldout.labels is not None and len(heldout) > 3:
            floor = real_floor(self.reference, heldout, n, full=False, seed=seed)
            self.floor = {k: v for k, v in floor.values.items() if k in LIVE_KEYS}
        self.calls = 0
        self.seconds = 0.0  # total time spent in calls, for the cost figure
        self.last_seconds = 0.0

    def __call__(self, model, step: int) -> Metrics:
        started = time.perf_counter()
        images, asked = sample_images(model, self.n, self.seed, self.reference.data_hist)
        feats, probs = self.evaluator.embed(images)
        scores = score(self.reference, feats, probs, asked, full=False, pr_reference_n=self.n)
        self.last_seconds = time.perf_counter() - started
        self.seconds += self.last_seconds
        self.calls += 1
        values = {k: float(v) for k, v in scores.values.items() if np.isfinite(v)}
        return Metrics(step, values, np.asarray(scores.class_histogram, dtype=np.float64))


def prepare_monitor(
    config,
    train: ImageData | None = None,
    *,
    n: int = LIVE_N,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    cache_root: Path | None = None,
) -> LiveMonitor | None:
    """The monitor for a run's dataset, training its evaluator first if it is not cached.

    None for an unlabelled dataset (no evaluator). Takes seconds with a cached evaluator,
    up to a minute without; call it from the worker thread before ``Trainer.steps()``.
    ``train``: the training split when already loaded. ``should_stop`` cancels training
    (EvaluatorCancelled).
    """
    fit, heldout = eval_splits(config.data, train)
    if fit.labels is None or not fit.num_classes:
        return None
    ev = get_evaluator(fit, heldout, root=cache_root, progress=progress, should_stop=should_stop)
    return LiveMonitor(ev, fit, heldout, n=n, seed=config.train.seed)


def collapse_warning(
    metrics: Metrics | Mapping[str, float],
    class_names: list[str] | None = None,
    kl_threshold: float = KL_WARN,
    floor: Mapping[str, float] | None = None,
) -> str | None:
    """A one-line mode-collapse warning when coverage falls, else None.

    Fires when a class gets under 20% of its data share of the samples (2% for ten
    balanced classes) or when KL(generated || data) exceeds ``kl_threshold`` nats.

    ``floor``: the held-out real images' figures at the same n. With it, the warning
    fires only beyond what real data shows (coverage under the floor's, KL above the
    floor's plus the threshold), and not while the samples are off the data manifold
    (precision under half the floor's): the evaluator files early blobs under whatever
    class they happen to resemble, so its class histogram means nothing yet.
    """
    values = metrics.values if isinstance(metrics, Metrics) else metrics
    hist = metrics.class_histogram if isinstance(metrics, Metrics) else None
    coverage, total, kl = values.get("coverage"), values.get("num_classes"), values.get("class_kl")
    floor = floor or {}
    if "precision" in values and floor.get("precision") and values["precision"] < 0.5 * floor["precision"]:
        return None
    full = floor.get("coverage", total)
    low = coverage is not None and full is not None and coverage < full
    high_kl = kl is not None and kl > kl_threshold + floor.get("class_kl", 0.0)
    if not (low or high_kl):
        return None
    parts = []
    if low:
        parts.append(f"coverage {coverage:.0f}/{total:.0f} classes")
        if hist is not None and len(hist):
            cut = COVERAGE_FRACTION / len(hist)
            rare = [_name(i, class_names) for i, share in enumerate(hist) if share < cut]
            if rare:
                parts.append(f"under {cut:.0%} of samples: {', '.join(rare[:10])}{' ...' if len(rare) > 10 else ''}")
    if high_kl:
        parts.append(f"class KL {kl:.2f} nats")
    if hist is not None and len(hist):
        top = int(np.argmax(hist))
        parts.append(f"most common: {_name(top, class_names)} at {float(hist[top]):.0%}")
    return "Mode collapse: " + "; ".join(parts)


MIN_ACCURACY = 0.75  # an evaluator that misreads one held-out image in four cannot judge classes
MIN_PER_CLASS = 50  # fewer training images a class than this: FID and k-NN figures are noise


def reliability_caveat(accuracy: float | None, train: ImageData) -> str:
    """Why the figures of this dataset should not be trusted ("" when they can be)."""
    reasons = []
    if accuracy is not None and accuracy < MIN_ACCURACY:
        reasons.append(f"the evaluator reads only {accuracy:.1%} of held-out images right")
    if train.labels is not None and len(train.labels):
        counts = np.bincount(train.labels.cpu().numpy())
        fewest = int(counts[counts > 0].min()) if (counts > 0).any() else 0
        if fewest < MIN_PER_CLASS:
            reasons.append(f"its smallest class has {fewest} training images (under {MIN_PER_CLASS})")
    if not reasons:
        return ""
    return ("These figures are unreliable for this dataset: " + " and ".join(reasons)
            + ". A model can score better than the real-data floor here; read them as rough trends only.")


def _name(i: int, class_names: list[str] | None) -> str:
    return f"'{class_names[i]}'" if class_names and i < len(class_names) else f"class {i}"


