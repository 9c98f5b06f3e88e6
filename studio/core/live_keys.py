"""The names, labels and thresholds of the metrics, torch-free so the window can import
them before torch loads (and never keeps copies of its own).

The computations live in studio.core.metrics; these are what they are called and
when a warning fires.
"""

from __future__ import annotations

from dataclasses import dataclass

LIVE_N = 500  # samples per live check
MONITOR_BUDGET = 0.10  # the live metrics may take at most this share of the training time
KL_WARN = 0.2  # nats; one class lost out of ten is log(10/9) = 0.105, a single class log 10 = 2.3
COVERAGE_FRACTION = 0.2  # a class counts as covered at >= 20% of its data share (2% of 10 classes)

LIVE_KEYS = ("fid_eval", "precision", "recall", "coverage", "num_classes", "class_kl", "min_class_share", "cond_acc")
PLOT_KEYS = ("fid_eval", "precision", "recall", "coverage", "class_kl", "cond_acc")  # worth a curve each


@dataclass(frozen=True)
class MetricLabel:
    label: str
    better: str  # "lower", "higher", or "0.5"
    short: str  # for a narrow table


# Display order and labels. "evaluator features": a per-dataset classifier, not Inception.
METRIC_LABELS: dict[str, MetricLabel] = {
    "fid_eval": MetricLabel("FID (evaluator features)", "lower", "FID (eval. features)"),
    "kid_eval": MetricLabel("KID (evaluator features)", "lower", "KID (eval. features)"),
    "precision": MetricLabel("Precision (k=3)", "higher", "Precision"),
    "recall": MetricLabel("Recall (k=3)", "higher", "Recall"),
    "coverage": MetricLabel("Class coverage", "higher", "Class coverage"),
    "class_kl": MetricLabel("Class KL(generated || data), nats", "lower", "Class KL (nats)"),
    "min_class_share": MetricLabel("Rarest class share", "higher", "Rarest class"),
    "cond_acc": MetricLabel("Conditional accuracy", "higher", "Cond. accuracy"),
    "c2st_acc": MetricLabel("Classifier two-sample test accuracy", "0.5", "C2ST accuracy"),
    "nelbo_nats": MetricLabel("Negative ELBO, held-out (nats)", "lower", "-ELBO (nats)"),
    "nelbo_bpd": MetricLabel("Negative ELBO, held-out (bits/dim)", "lower", "-ELBO (bits/dim)"),
    "nll_nats": MetricLabel("NLL, held-out (nats)", "lower", "NLL (nats)"),
    "nll_bpd": MetricLabel("NLL, held-out (bits/dim)", "lower", "NLL (bits/dim)"),
}
