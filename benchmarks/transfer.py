"""Transfer learning on the embedded digits: a cGAN pretrained on digits 0-4, fine-tuned on
50 images per class of digits 5-9, against the same cGAN trained from scratch on them.

Data (all from the embedded mnist-5k, in memory, handed to ``Trainer(data=...)``):
pretraining uses every training-split image of digits 0-4; the target set is 50
training-split images per digit 5-9 (a seeded draw: 250 images, classes "5".."9",
labels 0..4). Fine-tuning is ``train.init_from`` the pretrained run (every tensor
loaded, optimisers fresh), plus a FreezeD variant that keeps the discriminator's two
convolutions fixed (the cgan family's "discriminator's convolutions (FreezeD)" freeze
preset; Mo et al. 2020). Scratch is the same config from a fresh initialisation. Each
budget trains all three for the same number of steps.

Measuring on 5-9 honestly: the studio's evaluator is trained on all ten digits of the
training split, so its features and its 10-way predictions are those of every other
`eval`. The FID reference is the evaluator features of the training-split digits 5-9
that no model saw (all of them except the 250: about 2000 images; the pretraining never
saw a 5-9 at all), not the 250 the models were trained on, so memorising the 250 does
not score as generalising. Conditional accuracy is the share of samples asked for
class k (digit 5 + k) that the 10-way evaluator labels 5 + k: a fine-tuned model still
drawing digits 0-4 scores as wrong. Two floors are printed beside the models: the 250
training images themselves, and the held-out test-split digits 5-9; both have fewer
images than the models' n, which biases their FID upwards.

    python benchmarks/transfer.py [--pretrain-steps 600] [--budgets 100,200,400] [--n 1000]

The last line is ``transfer gain: FID scratch/finetuned = N.NNx`` at the smallest budget
(target >= 1.5x).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from studio.core.config import DataConfig
from studio.core.data import ImageData, load_dataset
from studio.core.metrics.evaluate import Reference, Scores, score, stratified_labels
from studio.core.metrics.evaluator import get_evaluator
from studio.core.metrics.report import format_comparison
from studio.core.models import seeded
from studio.core.presets import PRESETS
from studio.core.train import events as ev
from studio.core.train.checkpoint import load_checkpoint
from studio.core.train.trainer import Trainer

PER_CLASS = 50
SOURCE, TARGET = range(0, 5), range(5, 10)
FREEZED = "discriminator's convolutions (FreezeD)"
KEYS = ["fid_eval", "cond_acc", "precision", "recall"]
NO_OUTPUT = 10_000_000


def pick(data: ImageData, keep: range, per_class: int | None = None, seed: int = 0) -> torch.Tensor:
    """Indices of the images of digits ``keep`` (at most ``per_class`` each, a seeded draw), sorted."""
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    parts = [order[data.labels[order] == d][:per_class] for d in keep]
    return torch.cat(parts).sort().values


def digits(data: ImageData, idx: torch.Tensor, keep: range) -> ImageData:
    """Those images, relabelled 0..len(keep)-1 with class names "5".."9" (or "0".."4")."""
    return replace(data, name=f"{data.name} digits {keep.start}-{keep.stop - 1}", images=data.images[idx],
                   labels=data.labels[idx] - keep.start, class_names=[str(d) for d in keep], notes=())


def train(data: ImageData, steps: int, run_dir: Path, seed: int, **train_values) -> float:
    """The cgan preset on ``data`` for ``steps``; training seconds."""
    cfg = PRESETS["cgan"].with_overrides(train={"steps": steps, "seed": seed, "sample_every": NO_OUTPUT,
                                                "checkpoint_every": NO_OUTPUT, **train_values})
    trainer = Trainer(cfg, run_dir, data=data)
    trainer.prepare()
    started = time.perf_counter()
    for event in trainer.steps():
        if isinstance(event, ev.Failed):
            raise SystemExit(f"{run_dir.name}: training failed: {event.message}")
    return time.perf_counter() - started


def target_reference(evaluator, unseen: ImageData) -> Reference:
    """Evaluator features of the unseen digits 5-9, their shares over the evaluator's ten classes."""
    feats, _ = evaluator.embed(unseen.images)
    hist = torch.zeros(evaluator.num_classes, dtype=torch.float64)
    hist[TARGET.start : TARGET.stop] = torch.bincount(unseen.labels, minlength=len(TARGET)).double()
    return Reference(evaluator, feats, hist / hist.sum())


def score_model(run_dir: Path, ref: Reference, n: int, seed: int) -> Scores:
    model = load_checkpoint(run_dir).model
    asked = stratified_labels(n, torch.ones(len(TARGET)), seed)
    images = torch.cat([model.sample(len(part), part, seeded(seed * 1000 + i)).float().cpu()
                        for i, part in enumerate(asked.split(500))])
    feats, probs = ref.evaluator.embed(images)
    return score(ref, feats, probs, asked + TARGET.start, full=False, seed=seed)


def score_real(images: ImageData, ref: Reference, seed: int) -> Scores:
    feats, probs = ref.evaluator.embed(images.images)
    return score(ref, feats, probs, images.labels + TARGET.start, full=False, seed=seed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretrain-steps", type=int, default=600, help="cgan steps on digits 0-4 (the preset has 3000)")
    parser.add_argument("--budgets", default="100,200,400", help="fine-tuning / scratch step budgets")
    parser.add_argument("--n", type=int, default=1000, help="samples per model")
    parser.add_argument("--no-freezed", action="store_true", help="skip the FreezeD fine-tuning")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    budgets = sorted(int(b) for b in args.budgets.split(","))

    cfg = DataConfig(dataset="mnist-5k")
    train_split, test_split = load_dataset(cfg, "train"), load_dataset(cfg, "test")
    evaluator = get_evaluator(train_split, test_split,
                              progress=lambda f, m: print(f"\r{m}", end="\n" if f >= 1 else "", file=sys.stderr))
    source = digits(train_split, pick(train_split, SOURCE), SOURCE)
    few_idx = pick(train_split, TARGET, PER_CLASS, args.seed)
    few = digits(train_split, few_idx, TARGET)
    all_idx = pick(train_split, TARGET)
    unseen = digits(train_split, all_idx[~torch.isin(all_idx, few_idx)], TARGET)  # never trained on
    ref = target_reference(evaluator, unseen)
    print(f"pretraining on {len(source)} images of digits 0-4; target: {len(few)} images of digits 5-9; "
          f"FID reference: {len(unseen)} unseen training digits 5-9", file=sys.stderr)

    rows: list[tuple[str, Scores]] = []
    fid: dict[tuple[str, int], float] = {}
    with tempfile.TemporaryDirectory(prefix="transfer-") as tmp:
        pre = Path(tmp) / "pretrained"
        seconds = train(source, args.pretrain_steps, pre, args.seed)
        print(f"pretrained {args.pretrain_steps} steps in {seconds:.0f} s", file=sys.stderr, flush=True)
        variants = {"scratch": {}, "finetuned": {"init_from": str(pre)}}
        if not args.no_freezed:
            from studio.core.families import get_family

            variants["finetuned, FreezeD"] = {"init_from": str(pre),
                                              "freeze": list(get_family("cgan").freeze_prefixes([FREEZED]))}
        for steps in budgets:
            for name, values in variants.items():
                run = Path(tmp) / f"{name.replace(', ', '-')}-{steps}"
                seconds = train(few, steps, run, args.seed, **values)
                scores = score_model(run, ref, args.n, args.seed)
                fid[(name, steps)] = scores.values["fid_eval"]
                rows.append((f"{name}, {steps} steps", scores))
                print(f"{name}, {steps} steps ({seconds:.0f} s): FID {scores.values['fid_eval']:.2f}, "
                      f"cond. acc. {scores.values['cond_acc']:.1%}", file=sys.stderr, flush=True)
    rows.append((f"real: the {len(few)} training images", score_real(few, ref, args.seed)))
    held = digits(test_split, pick(test_split, TARGET), TARGET)
    rows.append((f"real: held-out test digits 5-9 (n={len(held)})", score_real(held, ref, args.seed)))

    print(f"\nTransfer on mnist-5k: cgan pretrained {args.pretrain_steps} steps on digits 0-4, then "
          f"{PER_CLASS} images per digit 5-9; n={args.n} samples per model; FID against {len(unseen)} unseen "
          f"training digits 5-9 in the features of the 10-digit evaluator ({evaluator.accuracy:.1%} accurate)")
    print(format_comparison(rows, KEYS))
    print()
    for steps in budgets:
        ratio = fid[("scratch", steps)] / fid[("finetuned", steps)]
        print(f"{steps} steps: FID scratch {fid[('scratch', steps)]:.2f}, finetuned {fid[('finetuned', steps)]:.2f}"
              f" ({ratio:.2f}x)")
    smallest = budgets[0]
    print(f"transfer gain: FID scratch/finetuned = {fid[('scratch', smallest)] / fid[('finetuned', smallest)]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
