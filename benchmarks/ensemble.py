"""Ensembles of GANs on mnist-5k: members alone, their mixture, their pixel average, and
the weight average of one run's checkpoints, scored with the studio's evaluator.

Three cGANs (the cgan preset cut to --steps steps, 600 by default instead of its 3000,
so that the three trainings fit a few minutes of a CPU; each keeps its EMA generator)
are trained from seeds 0, 1 and 2. Scored at n samples each against the training split:

- each member alone;
- their mixture (each image from one member drawn uniformly): the set gains the
  members' diversity, so recall and coverage are where it may help;
- their pixel average (one z through every member, images averaged): members of
  different seeds do not share a latent space, so this blurs;
- the pixel average and the weight average of run 0's last three checkpoints (which do
  share one: the setting those two modes are offered for).

    python benchmarks/ensemble.py [--steps 600] [--n 2000] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from studio.core.config import DataConfig
from studio.core.ensemble import Member, build_ensemble
from studio.core.metrics.evaluate import (
    Reference,
    Scores,
    eval_splits,
    real_floor,
    sample_images,
    score,
)
from studio.core.metrics.evaluator import get_evaluator
from studio.core.metrics.report import format_comparison
from studio.core.presets import PRESETS
from studio.core.train import events as ev
from studio.core.train.trainer import Trainer

KEYS = ["fid_eval", "kid_eval", "precision", "recall", "coverage", "class_kl", "min_class_share", "cond_acc"]
NO_OUTPUT = 10_000_000


def train(steps: int, run_dir: Path, seed: int) -> float:
    """The cgan preset for ``steps`` steps, four checkpoints kept; training seconds."""
    cfg = PRESETS["cgan"].with_overrides(train={"steps": steps, "seed": seed, "sample_every": NO_OUTPUT,
                                                "checkpoint_every": max(1, steps // 4)})
    trainer = Trainer(cfg, run_dir)
    trainer.prepare()
    started = time.perf_counter()
    for event in trainer.steps():
        if isinstance(event, ev.Failed):
            raise SystemExit(f"seed {seed}: training failed: {event.message}")
    return time.perf_counter() - started


def evaluate(model, ref: Reference, n: int, seed: int) -> Scores:
    images, asked = sample_images(model, n, seed, ref.data_hist)
    feats, probs = ref.evaluator.embed(images)
    return score(ref, feats, probs, asked, seed=seed)


def open_ensemble(paths: list[Path], mode: str):
    return build_ensemble([Member(p) for p in paths], mode, source=Path(f"<{mode}>")).model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600, help="training steps per cGAN (the preset has 3000)")
    parser.add_argument("--n", type=int, default=2000, help="samples per model")
    parser.add_argument("--seed", type=int, default=0, help="sampling and scoring seed")
    args = parser.parse_args()

    fit, heldout = eval_splits(DataConfig(dataset="mnist-5k"))
    evaluator = get_evaluator(fit, heldout, progress=lambda f, m: print(f"\r{m}", end="\n" if f >= 1 else "", file=sys.stderr))
    ref = Reference.build(evaluator, fit, seed=args.seed)
    rows: list[tuple[str, Scores]] = []
    with tempfile.TemporaryDirectory(prefix="ensemble-") as tmp:
        runs = [Path(tmp) / f"seed{s}" for s in range(3)]
        for s, run in enumerate(runs):
            print(f"training cgan seed {s} for {args.steps} steps ...", file=sys.stderr, flush=True)
            seconds = train(args.steps, run, s)
            print(f"  {seconds:.0f} s", file=sys.stderr)
        lasts = runs  # a run directory opens its last checkpoint
        for s, path in enumerate(lasts):
            rows.append((f"cgan seed {s} alone", evaluate(open_ensemble([path], "mixture"), ref, args.n, args.seed)))
        rows.append(("mixture of the 3 seeds", evaluate(open_ensemble(lasts, "mixture"), ref, args.n, args.seed)))
        rows.append(("pixel average of the 3 seeds", evaluate(open_ensemble(lasts, "pixel-average"), ref, args.n, args.seed)))
        q = max(1, args.steps // 4)
        own = [runs[0] / "checkpoints" / f"step-{q * k}.safetensors" for k in (2, 3)] + [lasts[0]]
        steps = ", ".join(str(q * k) for k in (2, 3)) + f", {args.steps}"
        rows.append((f"seed 0, pixel average of steps {steps}", evaluate(open_ensemble(own, "pixel-average"), ref, args.n, args.seed)))
        rows.append((f"seed 0, weight average of steps {steps}", evaluate(open_ensemble(own, "weight-average"), ref, args.n, args.seed)))
    floor = real_floor(ref, heldout, seed=args.seed)
    rows.append((f"real floor: held-out vs train (n={floor.n})", floor))
    print(f"\nEnsembles of cGANs on mnist-5k ({args.steps} steps each, EMA generators), n={args.n} samples per model;"
          f" evaluator {evaluator.accuracy:.1%} held-out accuracy")
    print(format_comparison(rows, KEYS))
    singles = rows[:3]
    mixture = rows[3][1].values
    best_recall = max(s.values["recall"] for _, s in singles)
    best_fid = min(s.values["fid_eval"] for _, s in singles)
    print(f"\nmixture vs the best single member: recall {mixture['recall']:.3f} vs {best_recall:.3f}, "
          f"FID {mixture['fid_eval']:.2f} vs {best_fid:.2f} (mean of members "
          f"{sum(s.values['fid_eval'] for _, s in singles) / 3:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
