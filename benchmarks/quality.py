"""The quality table: each preset trained as it ships (its default steps, the time it took
printed beside it), and the seed article's GAN loop, then scored with the studio's
metrics beside the real-data floor; likelihood models also get held-out NLL (bits/dim).

Each preset trains for its own default step count, capped at a time limit (seconds,
times --budget-scale): 120 for the VAEs, 300 for the GANs, 900 for PixelCNN and DDPM; a
run that hits its cap is marked "(cap)" so a preset that is too slow shows. With
--fixed-time each trains exactly that long instead (the old table). The article's MLP
GAN loop (300 s) is written out below exactly as the article has it (G 100-256-512-1024-784
LeakyReLU(0.2) + Tanh, D 784-512-256-1 LeakyReLU(0.2) + Sigmoid, BCELoss, Adam 2e-4
(0.5, 0.999), batch 64, torchvision MNIST over the embedded files with ToTensor +
Normalize((0.5,), (0.5,)) and a shuffling DataLoader).

Bars (issue 9): cgan cond. acc. >= 97%; vae FID at most half of 0.1.0's 11.11; cvae
cond. acc. >= 90%; cddpm FID within 3x of the real floor, cond. acc. >= 97%, 10/10
coverage; pixelcnn and cpixelcnn held-out NLL <= 1.1 bits/dim, cpixelcnn cond. acc.
>= 85%, 10/10 coverage.

    python benchmarks/quality.py [--presets vae,cvae,cgan,gan,...] [--n 5000] [--budget-scale 1]
                                 [--fixed-time] [--no-article] [--json FILE] [--seed 0] [--keep DIR]

``--keep DIR`` trains each preset into DIR/<preset> and leaves it there: a run directory
the studio opens (File > Open run) and ``latent-studio sample`` reads.

``--budget-scale 0.05 --n 500`` checks the whole pipeline in a few minutes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from embedded_mnist import mnist_root  # benchmarks/, next to this script
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from studio.core.config import DataConfig
from studio.core.metrics.evaluate import (
    Reference,
    Scores,
    eval_splits,
    real_floor,
    sample_images,
    score,
)
from studio.core.metrics.evaluator import get_evaluator
from studio.core.metrics.likelihood import likelihood_metrics, supports_likelihood
from studio.core.metrics.report import format_comparison
from studio.core.presets import PRESETS
from studio.core.train import events as ev
from studio.core.train.checkpoint import load_checkpoint
from studio.core.train.trainer import Trainer

CAPS = {"vae": 120.0, "cvae": 120.0, "vae-2d": 120.0, "vae-mlp": 120.0, "cvae-mlp": 120.0, "cgan": 300.0, "gan": 300.0,
        "article": 300.0}
DEFAULT_CAP = 900.0  # PixelCNN, DDPM: "default steps <= 15 min"
NO_OUTPUT = 10_000_000  # sample/checkpoint intervals beyond the run: time goes to training
DEFAULT_PRESETS = "vae,cvae,cgan,gan,pixelcnn,cpixelcnn,cddpm"


def train_preset(name: str, budget: float, run_dir: Path, seed: int, fixed_time: bool) -> tuple[object, int, float, bool]:
    """Train a preset for its default steps (or for ``budget`` s with ``fixed_time``),
    stopping at ``budget`` seconds in any case; (model, steps, seconds, hit the cap)."""
    steps = NO_OUTPUT if fixed_time else PRESETS[name].train.steps
    cfg = PRESETS[name].with_overrides(
        train={"steps": steps, "sample_every": NO_OUTPUT, "checkpoint_every": NO_OUTPUT, "seed": seed}
    )
    trainer = Trainer(cfg, run_dir)
    trainer.prepare()  # data and model set-up are not part of the budget
    started, capped = time.perf_counter(), False
    for event in trainer.steps():
        if isinstance(event, ev.Started):
            started = time.perf_counter()
        elif isinstance(event, ev.Step) and time.perf_counter() - started >= budget:
            capped = not fixed_time
            trainer.stop()
        elif isinstance(event, ev.Failed):
            raise SystemExit(f"{name}: training failed: {event.message}")
    seconds = time.perf_counter() - started
    loaded = load_checkpoint(run_dir)  # the EMA weights when the preset keeps an EMA
    return loaded.model, loaded.step, seconds, capped


# -- the seed article's loop, as written ------------------------------------------------------
class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.model = nn.Sequential(
            nn.Linear(100, 256), nn.LeakyReLU(0.2),
            nn.Linear(256, 512), nn.LeakyReLU(0.2),
            nn.Linear(512, 1024), nn.LeakyReLU(0.2),
            nn.Linear(1024, 784), nn.Tanh(),
        )

    def forward(self, z):
        return self.model(z)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.model = nn.Sequential(
            nn.Linear(784, 512), nn.LeakyReLU(0.2),
            nn.Linear(512, 256), nn.LeakyReLU(0.2),
            nn.Linear(256, 1), nn.Sigmoid(),
        )

    def forward(self, x):
        return self.model(x)


def train_article(root: Path, budget: float, seed: int) -> tuple[Generator, int]:
    torch.manual_seed(seed)
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    dataset = datasets.MNIST(root=str(root), train=True, download=False, transform=transform)
    dataloader = DataLoader(dataset, batch_size=64, shuffle=True)

    G, D = Generator(), Discriminator()
    criterion = nn.BCELoss()
    optimizer_G = torch.optim.Adam(G.parameters(), lr=0.0002, betas=(0.5, 0.999))
    optimizer_D = torch.optim.Adam(D.parameters(), lr=0.0002, betas=(0.5, 0.999))

    steps, started = 0, time.perf_counter()
    while time.perf_counter() - started < budget:  # the article's epoch loop, until the budget
        for real_images, _ in dataloader:
            real_images = real_images.view(-1, 784)
            batch_size = real_images.size(0)
            real_labels = torch.ones(batch_size, 1)
            fake_labels = torch.zeros(batch_size, 1)

            # Train the discriminator
            outputs = D(real_images)
            d_loss_real = criterion(outputs, real_labels)
            z = torch.randn(batch_size, 100)
            fake_images = G(z)
            outputs = D(fake_images.detach())
            d_loss_fake = criterion(outputs, fake_labels)
            d_loss = d_loss_real + d_loss_fake
            optimizer_D.zero_grad()
            d_loss.backward()
            optimizer_D.step()

            # Train the generator
            outputs = D(fake_images)
            g_loss = criterion(outputs, real_labels)
            optimizer_G.zero_grad()
            g_loss.backward()
            optimizer_G.step()

            steps += 1
            if time.perf_counter() - started >= budget:
                break
    return G, steps


class ArticleSampler:
    """The article's generator behind the interface sample_images() expects."""

    conditional = False
    num_classes = None
    image_shape = (1, 28, 28)

    def __init__(self, G: Generator):
        self.G = G.eval()

    @torch.no_grad()
    def sample(self, n: int, labels=None, generator: torch.Generator | None = None, **_options) -> torch.Tensor:
        z = torch.randn(n, 100, generator=generator)
        return self.G(z).view(n, 1, 28, 28).add(1).div(2).clamp(0, 1)


# -- scoring ----------------------------------------------------------------------------------
MATCHED_KEYS = ["fid_eval", "kid_eval", "precision", "recall", "c2st_acc"]


def score_model(model, ref: Reference, heldout, n: int, seed: int) -> tuple[Scores, Scores]:
    """(scores at n, the size-dependent scores again on the first len(heldout) samples)."""
    images, asked = sample_images(model, n, seed, ref.data_hist)
    feats, probs = ref.evaluator.embed(images)
    scores = score(ref, feats, probs, asked, seed=seed)
    if supports_likelihood(model):
        scores.values.update(likelihood_metrics(model, heldout, seed=seed))
    m = min(n, len(heldout))
    matched = score(ref, feats[:m], probs[:m], None if asked is None else asked[:m], seed=seed)
    return scores, matched


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-scale", type=float, default=1.0, help="multiply every time budget (0.05 for a smoke test)")
    parser.add_argument("--n", type=int, default=5000, help="samples per model")
    parser.add_argument("--presets", default=DEFAULT_PRESETS)
    parser.add_argument("--fixed-time", action="store_true", help="train each for its whole time budget instead")
    parser.add_argument("--no-article", action="store_true", help="skip the seed article's loop")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="train into DIR/<preset> and keep the run directories")
    args = parser.parse_args()

    fit, heldout = eval_splits(DataConfig(dataset="mnist-5k"))
    evaluator = get_evaluator(fit, heldout, progress=lambda f, m: print(f"\r{m}", end="\n" if f >= 1 else "", file=sys.stderr))
    ref = Reference.build(evaluator, fit, seed=args.seed)
    print(f"evaluator: {evaluator.accuracy:.1%} held-out accuracy ({evaluator.path})", file=sys.stderr)

    rows: list[tuple[str, Scores]] = []
    matched_rows: list[tuple[str, Scores]] = []
    info: dict[str, dict] = {}
    names = [p for p in args.presets.split(",") if p] + ([] if args.no_article else ["article"])
    with tempfile.TemporaryDirectory(prefix="quality-") as scratch:
        tmp = args.keep or Path(scratch)
        for name in names:
            budget = CAPS.get(name, DEFAULT_CAP) * args.budget_scale
            print(f"training {name} (at most {budget:.0f} s) ...", file=sys.stderr, flush=True)
            if name == "article":
                G, steps = train_article(mnist_root(Path(tmp) / "mnist"), budget, args.seed)
                model, label, seconds, capped = ArticleSampler(G), "article MLP GAN loop", budget, False
            else:
                model, steps, seconds, capped = train_preset(name, budget, Path(tmp) / name, args.seed, args.fixed_time)
                label = f"{name} preset"
            scores, matched = score_model(model, ref, heldout, args.n, args.seed)
            rows.append((f"{label} ({seconds:.0f} s{' (cap)' if capped else ''}, {steps} steps)", scores))
            matched_rows.append((label, matched))
            info[name] = {"budget_s": budget, "seconds": round(seconds, 1), "capped": capped, "steps": steps, **scores.to_dict(), "matched": matched.to_dict()}
            print(format_comparison(rows[-1:]), file=sys.stderr, flush=True)

    floor = real_floor(ref, heldout, seed=args.seed)
    rows.append((f"real floor: held-out vs train (n={floor.n})", floor))
    matched_rows.append(("real floor: held-out vs train", floor))
    print()
    print(f"Quality on mnist-5k, n={args.n} samples per model; evaluator {evaluator.accuracy:.1%} held-out accuracy")
    print(format_comparison(rows))
    if args.n > floor.n:
        print(f"\nThe sample-size-dependent metrics again at n={floor.n}, the size of the held-out floor:")
        print(format_comparison(matched_rows, MATCHED_KEYS))
    print("\nFID and KID are in the features of the studio's own mnist-5k evaluator, not Inception."
          " The real floor scores the held-out digits against the training digits: the best a model"
          " can do at that n; its conditional accuracy is the evaluator's own accuracy.")
    if args.json:
        info["floor"] = floor.to_dict()
        args.json.write_text(json.dumps(info, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
