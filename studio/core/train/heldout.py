"""Held-out likelihood as a trainer callback: bits/dim on the held-out split every N steps.

For models that declare ``has_likelihood`` (a VAE's negative ELBO, a PixelCNN's exact
NLL): every ``every`` steps and at the last step, ``likelihood_metrics`` of the sampling
model on the held-out split (the dataset's test split, else a seeded 10% of the
training images, as the evaluator's floor uses) is yielded as a Metrics event, so it
lands in metrics.jsonl and in whatever listens (a hyperparameter search reports it).
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


class HeldoutLikelihood(Callback):
    """``nelbo_bpd``/``nll_bpd`` (and nats) of the held-out split every ``every`` steps."""

    name = "heldout_likelihood"

    def __init__(self, every: int, heldout: ImageData | None = None, max_n: int = HELDOUT_MAX):
        self.every = max(1, int(every))
        self.heldout = heldout
        self.max_n = max_n

    def on_setup(self, trainer: Trainer) -> Iterable[ev.Event]:
        if self.heldout is None:
            from studio.core.metrics.evaluate import eval_splits

            _, self.heldout = eval_splits(trainer.config.data, trainer.data)
        if len(self.heldout) > self.max_n:
            self.heldout = _first(self.heldout, self.max_n)
        return ()

    def on_start(self, trainer: Trainer) -> Iterable[ev.Event]:
        if not getattr(trainer.model, "has_likelihood", False):
            family = trainer.config.model.family
            return [trainer.fail(f"the {family} model has no likelihood: held-out bits/dim need a VAE or a PixelCNN")]
        return ()

    def on_step(self, trainer: Trainer, info: StepInfo) -> Iterable[ev.Event]:
        if info.step % self.every and not info.last:
            return ()
        from studio.core.metrics.likelihood import likelihood_metrics

        values = likelihood_metrics(trainer.sampling_model, self.heldout, seed=trainer.config.train.seed)
        return [ev.Metrics(info.step, values)]


def _first(data: Any, n: int) -> Any:
    from studio.core.data.dataset import ImageData

    labels = None if data.labels is None else data.labels[:n]
    return ImageData(data.name, data.images[:n], labels, data.class_names, data.source)
