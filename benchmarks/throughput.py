"""Training throughput: the tutorials' own loops versus Trainer, same model, same steps.

Pairs, each run in this one process on the embedded mnist-5k digits:
  seed-gan      the seed article's MLP GAN (G 100-256-512-1024-784, D 784-512-256-1,
                batch 64, Adam 2e-4, BCE), fed as the article feeds it: torchvision
                MNIST over the embedded files, ToTensor + Normalize, DataLoader(shuffle)
  examples-vae  the pytorch/examples VAE (784-400-20, batch 128, Adam 1e-3), fed by
                torchvision MNIST + ToTensor + DataLoader, as in that example
  ddpm          the cddpm preset's UNet trained as the popular conditional-MNIST DDPM
                scripts do it (TeaPearce/Conditional_Diffusion_MNIST and its kin):
                torchvision MNIST + ToTensor + DataLoader(shuffle), t, noise and the
                label-dropout mask drawn per batch, MSE on the noise, Adam, loss.item()
each against the same model trained by studio's Trainer (the gan-mlp and vae-mlp presets, in
their own train.precision: gan-mlp's "auto" is bf16 autocast on a CPU with native bf16, and
the line says so);
the ddpm pair against the studio's DiffusionAlgorithm on whole-tensor batches
(BatchSampler) with its EMA, as the Trainer runs it, without the Trainer.
Runs alternate and the median of --repeats is kept, so a noisy machine hurts both sides.
A UNet step costs about a hundred MLP steps, so the ddpm pair runs --ddpm-steps.

    python benchmarks/throughput.py [--steps 300] [--ddpm-steps 30] [--repeats 3]
                                    [--pairs seed-gan,examples-vae,ddpm]
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

from studio.core.data import BatchSampler, load_dataset
from studio.core.presets import preset
from studio.core.train import events as ev
from studio.core.train.ema import EMA


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


# -- the conditional-MNIST DDPM scripts' loop, with the cddpm preset's UNet -----------------
def conditional_ddpm_script(root: Path, steps: int) -> float:
    from studio.core.models.unet import UNet

    cfg, train = preset("cddpm").model, preset("cddpm").train
    n_T, drop_prob, null = cfg.timesteps, cfg.label_dropout, 10
    model = UNet(cfg, 1, 10)  # the network the studio trains, fed the scripts' way
    betas = torch.linspace(1e-4, 0.02, n_T)  # the scripts' precomputed schedule
    alphabar = torch.cumprod(1 - betas, dim=0)
    sqrtab, sqrtmab = alphabar.sqrt(), (1 - alphabar).sqrt()
    loader = DataLoader(datasets.MNIST(root, train=True, transform=transforms.ToTensor()),
                        batch_size=train.batch_size, shuffle=True)
    optim = torch.optim.Adam(model.parameters(), lr=train.lr)

    def step(x: torch.Tensor, c: torch.Tensor) -> None:
        optim.zero_grad()
        _ts = torch.randint(0, n_T, (x.shape[0],))
        noise = torch.randn_like(x)
        x_t = sqrtab[_ts, None, None, None] * x + sqrtmab[_ts, None, None, None] * noise
        context_mask = torch.bernoulli(torch.zeros(c.shape) + drop_prob).bool()
        loss = F.mse_loss(model(x_t, _ts, torch.where(context_mask, null, c)), noise)
        loss.backward()
        loss.item()  # the scripts' running loss for the progress bar
        optim.step()

    return _time_loader_loop(loader, step, steps, labels=True)


def _time_loader_loop(loader: DataLoader, step: Callable[..., None], steps: int, labels: bool = False) -> float:
    done, images = 0, 0
    start = time.perf_counter()
    while done < steps:
        for batch, y in loader:
            step(batch, y) if labels else step(batch)
            done, images = done + 1, images + batch.size(0)
            if done == steps:
                break
    return images / (time.perf_counter() - start)


# -- the same models through Trainer --------------------------------------------------------
def studio(preset_name: str, steps: int, workdir: Path) -> float:
    from studio.core.train.trainer import Trainer

    config = preset(preset_name).with_overrides(
        # the thread count this comparison sets, not the auto tuner's (it would change it mid-run)
        train={"steps": steps, "log_every": steps, "sample_every": steps, "checkpoint_every": steps,
               "threads": torch.get_num_threads()}
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


# -- the cddpm preset through the studio's algorithm -----------------------------------------
def studio_ddpm(steps: int) -> float:
    """img/s of the cddpm preset's DiffusionAlgorithm + EMA on BatchSampler batches, set up
    (data, model, optimiser) before the clock starts, as Trainer.prepare is."""
    config = preset("cddpm")
    data = load_dataset(config.data, "train")
    family = config.family
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.train.seed)
        model = family.model_class()(config.model, data.image_shape, data.num_classes)
    algorithm = family.algorithm_class()(model, config, torch.Generator().manual_seed(config.train.seed))
    ema = EMA(model, config.train.ema)
    sampler = BatchSampler(data, config.train.batch_size, torch.Generator().manual_seed(config.train.seed + 1))
    start = time.perf_counter()
    for _ in range(steps):
        losses = algorithm.step(*sampler.next())
        ema.update()
    float(losses["loss"])
    elapsed = time.perf_counter() - start
    return steps * config.train.batch_size / elapsed


def precision_label(precision: str) -> str:
    """How a step set to ``precision`` (a preset's train.precision, or the diffusion family's
    model.precision) computes on this machine: "auto" is bf16 where the CPU has it natively."""
    from studio.core.train.precision import resolve_precision

    chosen = resolve_precision(precision, torch.device("cpu"))
    return "bf16 autocast" if chosen == "bf16" else chosen


def measure(pairs: dict, steps: int, repeats: int, root: Path, workdir: Path,
            ddpm_steps: int = 30) -> dict[str, tuple[float, float]]:
    """Pairs of (baseline, preset name for Trainer or a studio function of steps)."""
    results = {}
    for name, (baseline, ours_by) in pairs.items():
        n = steps if isinstance(ours_by, str) else ddpm_steps
        base, ours = [], []
        for _ in range(repeats):  # alternate, so drift in machine load hits both sides
            base.append(baseline(root, n))
            ours.append(studio(ours_by, n, workdir) if isinstance(ours_by, str) else ours_by(n))
        results[name] = (statistics.median(base), statistics.median(ours))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ddpm-steps", type=int, default=30)
    parser.add_argument("--pairs", default="seed-gan,examples-vae,ddpm", help="comma-separated pairs to run")
    args = parser.parse_args()
    root = mnist_root()
    workdir = Path(tempfile.mkdtemp(prefix="throughput-runs-"))
    pairs = {"seed-gan": (article_gan, "gan-mlp"), "examples-vae": (examples_vae, "vae-mlp")}
    pairs["ddpm"] = (conditional_ddpm_script, studio_ddpm)
    chosen = [p for p in args.pairs.split(",") if p]
    unknown = set(chosen) - set(pairs)
    if unknown:
        parser.error(f"unknown pair {sorted(unknown)[0]!r}; the pairs are {', '.join(pairs)}")
    pairs = {name: pairs[name] for name in chosen}
    default_threads = torch.get_num_threads()
    try:
        for threads in sorted({1, default_threads}):
            torch.set_num_threads(threads)
            print(f"\n== torch threads: {threads} ==")
            results = measure(pairs, args.steps, args.repeats, root, workdir, args.ddpm_steps)
            for name, (base, ours) in results.items():
                if name == "ddpm":
                    print(f"{name}: script loop {base:,.1f} img/s, studio algorithm {ours:,.1f} img/s "
                          f"({precision_label(preset('cddpm').model.precision)})")
                else:
                    print(f"{name}: tutorial loop {base:,.0f} img/s (fp32), studio Trainer {ours:,.0f} img/s "
                          f"({precision_label(preset(pairs[name][1]).train.precision)})")
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
