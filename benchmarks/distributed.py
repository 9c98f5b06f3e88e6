"""torchrun on this machine: images/s for one and two processes, and the equivalence check.

Trains a preset (default: cgan, the studio's default) for ``--steps`` steps, the same
global batch each time, as

- one process with all cores' threads (what `latent-studio train` does),
- one process with one thread,
- two processes under torchrun with one thread each (gloo, DDP),

and prints images/s from the runs' own metrics.jsonl (the steps after the first
``--warmup``). Two processes on a 2-core laptop cannot beat one process using both
cores by much: the figure says how much it costs or gains, nothing more.

Then the equivalence check: espcn-x2 (no randomness besides the shared batch order) for
``--check-steps`` steps, one process against two; the largest relative difference of the
logged MSE must stay under 1e-4 (float32 summation order; tests/core/test_distributed.py
says why that tolerance).

    python benchmarks/distributed.py [--preset cgan] [--steps 300] [--warmup 50] [--check-steps 50]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

TOLERANCE = 1e-4


def train(run: Path, config: Path, processes: int, threads: int) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    if processes == 1:
        cmd = [sys.executable, "-m", "studio", "train"]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(processes),
               "-m", "studio", "train"]
    subprocess.run([*cmd, "--config", str(config), "--out", str(run)], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def step_records(run: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r.get("kind") == "step"]


def images_per_second(run: Path, batch: int, warmup: int) -> float:
    """From the logged wall times of the steps after ``warmup`` (start-up not counted)."""
    rows = [r for r in step_records(run) if r["step"] >= warmup]
    first, last = rows[0], rows[-1]
    return (last["step"] - first["step"]) * batch / (last["time"] - first["time"])


def write_config(path: Path, preset_name: str, **train) -> int:
    from studio.core.config import save_config
    from studio.core.presets import preset

    config = preset(preset_name).with_overrides(train={"log_every": 10, "sample_every": 10**7,
                                                       "checkpoint_every": 10**7, **train})
    save_config(config, path)
    return config.train.batch_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cgan")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--check-steps", type=int, default=50)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    print(f"{args.preset}, {args.steps} steps, {cores} CPUs, load average {os.getloadavg()[0]:.2f} at the start")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        figures = {}
        for label, processes, threads in ((f"1 process, {cores} threads", 1, cores), ("1 process, 1 thread", 1, 1),
                                          ("2 processes, 1 thread each", 2, 1)):
            run, config = root / f"speed-{processes}-{threads}", root / f"speed-{processes}-{threads}.toml"
            batch = write_config(config, args.preset, steps=args.steps, threads=threads)
            train(run, config, processes, threads)
            figures[label] = images_per_second(run, batch, args.warmup)
            print(f"  {label:28s} {figures[label]:8,.0f} img/s  (global batch {batch})")
        best_one = max(v for k, v in figures.items() if k.startswith("1 process"))
        two = figures["2 processes, 1 thread each"]

        write_config(root / "check.toml", "espcn-x2", steps=args.check_steps, log_every=1, threads=1)
        for processes in (1, 2):
            train(root / f"check-{processes}", root / "check.toml", processes, 1)
        one_mse = {r["step"]: r["losses"]["mse"] for r in step_records(root / "check-1")}
        two_mse = {r["step"]: r["losses"]["mse"] for r in step_records(root / "check-2")}
        worst = max(abs(two_mse[s] - one_mse[s]) / abs(one_mse[s]) for s in one_mse)
        verdict = "within" if worst <= TOLERANCE else "OUTSIDE"
        print(f"equivalence (espcn-x2, {args.check_steps} steps, 2 processes vs 1): largest relative MSE "
              f"difference {worst:.2e}, {verdict} the tolerance {TOLERANCE:g}; final MSE "
              f"{one_mse[max(one_mse)]:.5f} vs {two_mse[max(two_mse)]:.5f}")
    print(f"2 processes vs the best single process: {two / best_one:.2f}x images/s")
    return 0 if worst <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
