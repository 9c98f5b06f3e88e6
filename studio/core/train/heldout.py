"""Held-out likelihood as a trainer callback: bits/dim on the held-out split every N steps.

For models that declare ``has_likelihood`` (a VAE's negative ELBO, a PixelCNN's exact
NLL): every ``every`` steps and at the last step, ``likelihood_metrics`` of the sampling
model on the held-out split (the dataset's test split, else a seeded 10% of the
training images, as the evaluator's floor uses) is yielded as a Metrics event, so it
lands in metrics.jsonl and in whatever listens (a hyperparameter search reports it).

Every run has one (``default_callbacks``) that is active only for an exact likelihood
(a PixelCNN), so its Train tab shows train and held-out bits/dim side by side; a search
passes its own, ``required``, for any likelihood model (a VAE's bound too).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from studio.core.train import events as ev
from studio.core.train.callbacks import Callback, StepInfo

if TYPE_CHECKING:
    from studio.core.data.dataset import ImageData
    from studio.core.train.trainer import Trainer

HELDOUT_MAX = 1000  # images scored per check: the figure is steady well before that
DEFAULT_MAX = 200  # the default check's images: ~1 s on one core (256 logits a pixel), ±0.01 bits/dim
DEFAULT_CHECKS = 13  # the default check's count over a run (the PixelCNN preset: every 500 steps, ~4%)


class HeldoutLikelihood(Callback):
    """``nelbo_bpd``/``nll_bpd`` (and nats) of the held-out split every ``every`` steps."""

    name = "heldout_likelihood"

    rank_zero_only = True

    def __init__(self, every: int = 0, heldout: ImageData | None = None, max_n: int = HELDOUT_MAX,
                 required: bool = True):
        self.every = max(0, int(every))  # 0: DEFAULT_CHECKS over the run
        self.heldout = heldout
        self.max_n = max_n
        self.required = required  # a model without a likelihood fails the run (else: no checks)
        self.active = False

    @classmethod
    def default(cls) -> HeldoutLikelihood:
        """Every run's: held-out bits/dim of exact-likelihood models, a few times a run."""
        return cls(0, max_n=DEFAULT_MAX, required=False)

    def on_start(self, trainer: Trainer) -> Iterable[ev.Event]:
        model = trainer.model
        has = getattr(model, "has_likelihood", False)
        self.active = has and (self.required or not model.likelihood_is_bound)
        if self.required and not has:
            family = trainer.config.model.family
            return [trainer.fail(f"the {family} model has no likelihood: held-out bits/dim need a VAE or a PixelCNN")]
        if not self.active:
            return ()
        if not self.every:
            self.every = max(1, trainer.config.train.steps // DEFAULT_CHECKS)
        if self.heldout is None:
            from studio.core.metrics.evaluate import eval_splits

            _, self.heldout = eval_splits(trainer.config.data, trainer.data)
        if len(self.heldout) > self.max_n:
            self.heldout = _first(self.heldout, self.max_n)
        return ()

    def on_step(self, trainer: Trainer, info: StepInfo) -> Iterable[ev.Event]:
        if not self.active or (info.step % self.every and not info.last):
            return ()
        from studio.core.metrics.likelihood import likelihood_metrics

        values = likelihood_metrics(trainer.sampling_model, self.heldout, seed=trainer.config.train.seed)
        return [ev.Metrics(info.step, values)]


def _first(data: Any, n: int) -> Any:
    from studio.core.data.dataset import ImageData

    labels = None if data.labels is None else data.labels[:n]
    return ImageData(data.name, data.images[:n], labels, data.class_names, data.source)
