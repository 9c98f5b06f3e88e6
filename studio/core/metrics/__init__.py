"""Quality and diversity metrics in the feature space of a per-dataset evaluator network.

- ``evaluator``: the small CNN classifier, trained per labelled dataset and cached.
- ``stats``: FID, KID, precision/recall, class coverage and KL, two-sample test (pure).
- ``likelihood``: negative ELBO in nats and bits/dim on held-out images.
- ``evaluate``: the real reference, scoring, sampling, the real-data floor.
- ``monitor``: the cheap live metrics the Trainer runs every N steps; collapse warnings.
- ``report``: ``evaluate_checkpoint`` and the ``latent-studio eval`` table.
"""

from studio.core.metrics.evaluator import Evaluator, EvaluatorCancelled, get_evaluator
from studio.core.metrics.monitor import LiveMonitor, collapse_warning, prepare_monitor
from studio.core.metrics.report import (
    METRICS,
    EvalReport,
    evaluate_checkpoint,
    format_table,
    run_eval,
)

__all__ = [
    "METRICS",
    "EvalReport",
    "Evaluator",
    "EvaluatorCancelled",
    "LiveMonitor",
    "collapse_warning",
    "evaluate_checkpoint",
    "format_table",
    "get_evaluator",
    "prepare_monitor",
    "run_eval",
]
