"""`latent-studio eval` and the Explore tab: evaluate a checkpoint, print a table.

Every figure of the model stands beside the real-data floor: held-out real images
scored against the training split, at the same sample size. When the held-out split
is smaller than the model's n, the model is also scored on its first n_floor samples,
since FID, recall and the two-sample test depend on the sample size.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from studio.core.errors import StudioError
from studio.core.live_keys import METRIC_LABELS
from studio.core.metrics.evaluate import (
    Reference,
    Scores,
    eval_splits,
    real_floor,
    sample_images,
    score,
)
from studio.core.metrics.evaluator import Progress, get_evaluator
from studio.core.metrics.likelihood import likelihood_metrics, supports_likelihood


@dataclass(frozen=True)
class MetricInfo:
    label: str
    better: str  # "lower", "higher", or "0.5"
    fmt: Callable[[float, dict[str, float]], str]


def _num(spec: str, scale: float = 1.0) -> Callable[[float, dict[str, float]], str]:
    return lambda v, _values: format(v * scale, spec)


_FORMATS: dict[str, Callable[[float, dict[str, float]], str]] = {
    "fid_eval": _num(".2f"), "kid_eval": _num(".4f"), "precision": _num(".3f"), "recall": _num(".3f"),
    "coverage": lambda v, vals: f"{v:.0f}/{vals.get('num_classes', 0):.0f}",
    "class_kl": _num(".3f"), "min_class_share": _num(".1%"), "cond_acc": _num(".1%"), "c2st_acc": _num(".3f"),
    "nelbo_nats": _num(".2f"), "nelbo_bpd": _num(".4f"), "nll_nats": _num(".2f"), "nll_bpd": _num(".4f"),
}
# Display order, labels (studio.core.live_keys) and formats.
METRICS: dict[str, MetricInfo] = {k: MetricInfo(m.label, m.better, _FORMATS[k]) for k, m in METRIC_LABELS.items()}


@dataclass
class EvalReport:
    target: str
    checkpoint: str
    step: int
    family: str
    dataset: str
    seed: int
    model: Scores  # at n
    floor: Scores | None  # held-out real vs train, at n_floor
    model_matched: Scores | None = None  # the model at n_floor, when n_floor < n
    evaluator: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    conditional: bool = False  # the model takes class labels (conditional accuracy applies)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target, "checkpoint": self.checkpoint, "step": self.step, "family": self.family,
            "dataset": self.dataset, "seed": self.seed, "evaluator": self.evaluator,
            "model": self.model.to_dict(),
            "model_matched": None if self.model_matched is None else self.model_matched.to_dict(),
            "floor": None if self.floor is None else self.floor.to_dict(),
            "labels": {k: m.label for k, m in METRICS.items()}, "notes": self.notes, "conditional": self.conditional,
        }


def evaluate_loaded(
    model,
    data_cfg,
    n: int = 5000,
    seed: int = 0,
    *,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    cache_root: Path | None = None,
    options: dict[str, Any] | None = None,
) -> tuple[Scores, Scores | None, Scores | None, dict[str, Any], list[str]]:
    """(model at n, model at n_floor or None, floor, evaluator info, notes) for a model."""
    if n < 10:
        raise StudioError(f"--n must be at least 10, got {n}")
    fit, heldout = eval_splits(data_cfg)
    if tuple(model.image_shape) != fit.image_shape:
        raise StudioError(
            f"the model makes {tuple(model.image_shape)} images but {fit.name} has {fit.image_shape}; "
            "evaluate it on the data it was trained on"
        )
    notes: list[str] = []
    likelihood = likelihood_metrics(model, heldout, seed=seed) if supports_likelihood(model) else {}
    if fit.labels is None or not fit.num_classes:
        notes.append(f"{fit.name} has no labels: no evaluator, so only likelihood metrics")
        return Scores(0, likelihood), None, None, {}, notes
    ev = get_evaluator(fit, heldout, root=cache_root, progress=progress, should_stop=should_stop)
    info = {"key": ev.key, "accuracy": ev.accuracy, "path": str(ev.path) if ev.path else None,
            "train_seconds": round(ev.train_seconds, 1)}
    ref = Reference.build(ev, fit, seed=seed)
    images, asked = sample_images(model, n, seed, ref.data_hist, options=options, should_stop=should_stop)
    feats, probs = ev.embed(images)
    ours = score(ref, feats, probs, asked, seed=seed)
    ours.values.update(likelihood)
    n_floor = min(n, len(heldout))
    floor = real_floor(ref, heldout, n_floor, seed=seed)
    matched = None
    if n_floor < n:
        matched = score(ref, feats[:n_floor], probs[:n_floor], None if asked is None else asked[:n_floor], seed=seed)
        matched.values.update(likelihood)
    return ours, matched, floor, info, notes


def evaluate_checkpoint(
    target: str | Path,
    n: int = 5000,
    seed: int = 0,
    *,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    cache_root: Path | None = None,
    loaded: Any = None,
) -> EvalReport:
    """Evaluate a run's last checkpoint (or a checkpoint file, or an ensemble file) on the
    data it was trained on; ``loaded``: the LoadedModel when the caller has opened it.

    May train the dataset's evaluator first (under a minute; ``progress`` follows it);
    run it off the GUI thread. An upscaler is measured by PSNR/SSIM instead
    (studio.core.metrics.superres.evaluate_upscaler).
    """
    from studio.core.train.checkpoint import load_checkpoint

    loaded = load_checkpoint(target) if loaded is None else loaded
    if loaded.model.is_upscaler:
        raise StudioError(f"{loaded.path}: an upscaler is measured by PSNR/SSIM against bicubic "
                          "(superres.evaluate_upscaler), not by sampling")
    ours, matched, floor, info, notes = evaluate_loaded(
        loaded.model, loaded.config.data, n, seed, progress=progress, should_stop=should_stop, cache_root=cache_root
    )
    return EvalReport(str(target), str(loaded.path), loaded.step, loaded.model.family,
                      loaded.config.data.dataset, seed, ours, floor, matched, info, notes, loaded.model.conditional)


# --------------------------------------------------------------------------- text


def format_table(report: EvalReport) -> str:
    """The `latent-studio eval` table: one metric a row, model beside the real floor."""
    cols: list[tuple[str, Scores | None]] = [(f"model n={report.model.n}", report.model)]
    if report.model_matched is not None:
        cols.append((f"model n={report.model_matched.n}", report.model_matched))
    if report.floor is not None:
        cols.append((f"real floor n={report.floor.n}", report.floor))
    keys = [k for k in METRICS if k in report.model.values and not (k == "cond_acc" and not report.conditional)]
    header = ["metric", "better", *[c[0] for c in cols]]
    rows = [header]
    for key in keys:
        info = METRICS[key]
        cells = []
        for _, s in cols:
            v = None if s is None else s.values.get(key)
            cells.append("-" if v is None else info.fmt(v, s.values))
        rows.append([info.label, info.better, *cells])
    lines = [
        f"{report.checkpoint}: {report.family}, step {report.step}, dataset {report.dataset}",
    ]
    if report.evaluator:
        acc = report.evaluator.get("accuracy")
        lines.append(f"evaluator: a small CNN trained on {report.dataset}"
                     + (f", {acc:.1%} held-out accuracy" if acc is not None else ""))
    lines.append("")
    lines += _align(rows)
    if report.floor is not None:
        lines.append("")
        lines.append("real floor: held-out real images scored against the training split, the best a "
                     "model can do at that n (its conditional accuracy is the evaluator's accuracy).")
    lines += report.notes
    return "\n".join(lines)


def format_comparison(rows: list[tuple[str, Scores]], keys: list[str] | None = None) -> str:
    """A table with one model a row (the quality benchmark): name, then each metric."""
    keys = keys or [k for k in METRICS if any(k in s.values for _, s in rows)]
    header = ["model", *[_short(k) for k in keys]]
    table = [header]
    for name, s in rows:
        table.append([name, *[("-" if k not in s.values else METRICS[k].fmt(s.values[k], s.values)) for k in keys]])
    return "\n".join(_align(table, markdown=True))


_SHORT = {"fid_eval": "FID (eval. feat.)", "kid_eval": "KID (eval. feat.)", "precision": "precision",
          "recall": "recall", "coverage": "coverage", "class_kl": "class KL", "min_class_share": "rarest class",
          "cond_acc": "cond. acc.", "c2st_acc": "C2ST acc.", "nelbo_nats": "-ELBO nats", "nelbo_bpd": "-ELBO bits/dim",
          "nll_nats": "NLL nats", "nll_bpd": "NLL bits/dim"}


def _short(key: str) -> str:
    return _SHORT.get(key, key)


def _align(rows: list[list[str]], markdown: bool = False) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]

    def line(r: list[str]) -> str:
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        return ("| " + " | ".join(cells) + " |") if markdown else "  ".join(cells)

    out = [line(rows[0])]
    if markdown:
        out.append("|" + "|".join(("-" * (w + 1) + ":") if i else ("-" * (w + 2)) for i, w in enumerate(widths)) + "|")
    else:
        out.append("  ".join("-" * w for w in widths))
    out += [line(r) for r in rows[1:]]
    return out


def run_eval(target: str, n: int = 5000, json_path: str | None = None, seed: int = 0,
             out: IO[str] | None = None) -> int:
    """`latent-studio eval RUN_OR_CHECKPOINT [--n 5000] [--json FILE] [--seed 0]`.

    Raises the user's errors (StudioError, CheckpointError, DataError) for the CLI to print.
    """
    out = sys.stdout if out is None else out  # looked up now: a test may have replaced it

    def progress(fraction: float, message: str) -> None:
        print(f"\r{message} ({fraction:.0%})", end="" if fraction < 1 else "\n", file=sys.stderr, flush=True)

    from studio.core.train.checkpoint import load_checkpoint

    loaded = load_checkpoint(target)
    if loaded.model.is_upscaler:
        from studio.core.metrics.superres import run_superres_eval

        return run_superres_eval(loaded, json_path, out)
    report = evaluate_checkpoint(target, n, seed, progress=progress, loaded=loaded)
    print(format_table(report), file=out)
    if json_path:
        from studio.core.fileio import atomic_write_text

        atomic_write_text(Path(json_path), json.dumps(report.to_dict(), indent=2) + "\n")
        print(f"wrote {json_path}", file=out)
    return 0
