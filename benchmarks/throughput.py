"""Training throughput: the tutorials' own loops versus Trainer, same model, same steps.

Pairs, each run in this one process on the embedded mnist-5k digits:
  seed-gan      the seed article's MLP GAN (G 100-256-512-1024-784, D 784-512-256-1,
                batch 64, Adam 2e-4, BCE), fed as the article feeds it: torchvision
                MNIST over the embedded files, ToTensor + Normalize, DataLoader(shuffle)
  examples-vae  the pytorch/examples VAE (784-400-20, batch 128, Adam 1e-3), fed by
                torchvision MNIST + ToTensor + DataLoader, as in that example
each against the same model trained by studio's Trainer (the gan-mlp and vae presets).
Runs alternate and the median of --repeats is kept, so a noisy machine hurts both sides.

    python benchmarks/throughput.py [--steps 300] [--repeats 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from embedded_mnist import mnist_root  # benchmarks/, next to this script
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from studio.core.presets import preset
from studio.core.train import events as ev
from studio.core.train.trainer import Trainer


# -- the seed article's loop, as written ---------------------------------------------------
def article_gan(root: Path, steps: int) -> float:
    G = nn.Sequential(
        nn.Linear(100, 256), nn.LeakyReLU(0.2), nn.Linear(256, 512), nn.LeakyReLU(0.2),
        nn.Linear(512, 1024), nn.LeakyReLU(0.2), nn.Linear(1024, 784), nn.Tanh(),
    )
    D = nn.Sequential(
        nn.Linear(784, 512), nn.LeakyReLU(0.2), nn.Linear(512, 256), nn.LeakyReLU(0.2),
        nn.Linear(256, 1), nn.Sigmoid(),
    )
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    loader = DataLoader(datasets.MNIST(root, train=True, transform=tf), batch_size=64, shuffle=True)
    criterion = nn.BCELoss()
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))

    def step(images: torch.Tensor) -> None:
        real = images.view(images.size(0), -1)
        ones, zeros = torch.ones(real.size(0), 1), torch.zeros(real.size(0), 1)
        fake = G(torch.randn(real.size(0), 100))
        opt_d.zero_grad()
        d_loss = criterion(D(real), ones) + criterion(D(fake.detach()), zeros)
        d_loss.backward()
        opt_d.step()
        opt_g.zero_grad()
        g_loss = criterion(D(fake), ones)
        g_loss.backward()
        opt_g.step()

    return _time_loader_loop(loader, step, steps)


# -- the pytorch/examples VAE, as written ---------------------------------------------------
class ExamplesVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc21, self.fc22 = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20)
        self.fc3, self.fc4 = nn.Linear(20, 400), nn.Linear(400, 784)

    def forward(self, x):
        h = F.relu(self.fc1(x.view(-1, 784)))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar


def examples_vae(root: Path, steps: int) -> float:
    model = ExamplesVAE()
    loader = DataLoader(datasets.MNIST(root, train=True, transform=transforms.ToTensor()), batch_size=128, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(images: torch.Tensor) -> None:
        optimizer.zero_grad()
        recon, mu, logvar = model(images)
        bce = F.binary_cross_entropy(recon, images.view(-1, 784), reduction="sum")
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        (bce + kld).backward()
        optimizer.step()

    return _time_loader_loop(loader, step, steps)


def _time_loader_loop(loader: DataLoader, step: Callable[[torch.Tensor], None], steps: int) -> float:
    done, images = 0, 0
    start = time.perf_counter()
    while done < steps:
        for batch, _ in loader:
            step(batch)
            done, images = done + 1, images + batch.size(0)
            if done == steps:
                break
    return images / (time.perf_counter() - start)


# -- the same models through Trainer --------------------------------------------------------
def studio(preset_name: str, steps: int, workdir: Path) -> float:
    config = preset(preset_name).with_overrides(
        train={"steps": steps, "log_every": steps, "sample_every": steps, "checkpoint_every": steps}
    )
    trainer = Trainer(config, Path(tempfile.mkdtemp(dir=workdir)))
    trainer.prepare()  # data load and model build, like the DataLoader's construction above
    start, images = None, 0
    for event in trainer.steps():
        if isinstance(event, ev.Started):
            start = time.perf_counter()
        elif isinstance(event, ev.Step):
            elapsed, images = time.perf_counter() - start, event.step * config.train.batch_size
        elif isinstance(event, ev.Failed):
            raise RuntimeError(event.message)
    return images / elapsed


def measure(pairs: dict, steps: int, repeats: int, root: Path, workdir: Path) -> dict[str, tuple[float, float]]:
    results = {}
    for name, (baseline, preset_name) in pairs.items():
        base, ours = [], []
        for _ in range(repeats):  # alternate, so drift in machine load hits both sides
            base.append(baseline(root, steps))
            ours.append(studio(preset_name, steps, workdir))
        results[name] = (statistics.median(base), statistics.median(ours))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    root = mnist_root()
    workdir = Path(tempfile.mkdtemp(prefix="throughput-runs-"))
    pairs = {"seed-gan": (article_gan, "gan-mlp"), "examples-vae": (examples_vae, "vae")}
    default_threads = torch.get_num_threads()
    try:
        for threads in sorted({1, default_threads}):
            torch.set_num_threads(threads)
            print(f"\n== torch threads: {threads} ==")
            results = measure(pairs, args.steps, args.repeats, root, workdir)
            for name, (base, ours) in results.items():
                print(f"{name}: tutorial loop {base:,.0f} img/s, studio Trainer {ours:,.0f} img/s")
            if threads == default_threads:
                final = results
        print()
        for name, (base, ours) in final.items():
            print(f"{name} speedup: {ours / base:.2f}x")
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
