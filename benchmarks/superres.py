"""Super-resolution: ESPCN x2 (14 -> 28) and x4 (7 -> 28) on mnist-5k against bicubic.

Each preset (espcn-x2, espcn-x4) trains briefly on the training split; both ESPCN and
plain bicubic interpolation then upscale the held-out split's digits, downscaled the
way training pairs are (antialiased bicubic), and are scored by mean per-image PSNR
and SSIM against the real digits, outputs rounded to 8 bits. Targets: x2 at least
1.5 dB over bicubic, x4 at least 1.0 dB.

    python benchmarks/superres.py [--steps-scale 1] [--seed 0]

The last line is ``espcn x2 gain over bicubic: N.NN dB``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from studio.core.config import DataConfig
from studio.core.metrics.evaluate import eval_splits
from studio.core.metrics.superres import score_upscaler
from studio.core.presets import PRESETS
from studio.core.train import events as ev
from studio.core.train.checkpoint import load_checkpoint
from studio.core.train.trainer import Trainer

TARGETS = {2: 1.5, 4: 1.0}  # dB over bicubic
NO_OUTPUT = 10_000_000


def train(name: str, steps: int, run_dir: Path, seed: int) -> tuple[object, float]:
    """Train a preset for ``steps``; (the model, training seconds)."""
    cfg = PRESETS[name].with_overrides(train={"steps": steps, "sample_every": NO_OUTPUT,
                                              "checkpoint_every": NO_OUTPUT, "seed": seed})
    trainer = Trainer(cfg, run_dir)
    trainer.prepare()
    started = time.perf_counter()
    for event in trainer.steps():
        if isinstance(event, ev.Failed):
            raise SystemExit(f"{name}: training failed: {event.message}")
    return load_checkpoint(run_dir).model, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps-scale", type=float, default=1.0, help="multiply each preset's steps")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    _, heldout = eval_splits(DataConfig(dataset="mnist-5k"))
    real01 = heldout.images.float().div(255)
    rows, gains = [], {}
    with tempfile.TemporaryDirectory(prefix="superres-") as tmp:
        for name in ("espcn-x2", "espcn-x4"):
            steps = max(1, round(PRESETS[name].train.steps * args.steps_scale))
            print(f"training {name} for {steps} steps ...", file=sys.stderr, flush=True)
            model, seconds = train(name, steps, Path(tmp) / name, args.seed)
            v = score_upscaler(model, real01)
            r = model.scale
            gains[r] = v["psnr"] - v["psnr_bicubic"]
            rows.append((f"x{r} ({28 // r} -> 28)", steps, seconds, v))
    print(f"Super-resolution on mnist-5k: held-out {len(real01)} digits, mean per-image PSNR/SSIM")
    print("| scale | steps | train s | ESPCN PSNR | bicubic PSNR | gain | target | ESPCN SSIM | bicubic SSIM |")
    print("|-------|------:|--------:|-----------:|-------------:|-----:|-------:|-----------:|-------------:|")
    for label, steps, seconds, v in rows:
        r = int(label[1])
        print(f"| {label} | {steps} | {seconds:.0f} | {v['psnr']:.2f} dB | {v['psnr_bicubic']:.2f} dB | "
              f"{gains[r]:+.2f} dB | {TARGETS[r]:+.1f} dB | {v['ssim']:.4f} | {v['ssim_bicubic']:.4f} |")
    print(f"espcn x4 gain over bicubic: {gains[4]:.2f} dB")
    print(f"espcn x2 gain over bicubic: {gains[2]:.2f} dB")
    return 0 if all(gains[r] >= TARGETS[r] for r in TARGETS) else 1


if __name__ == "__main__":
    sys.exit(main())
