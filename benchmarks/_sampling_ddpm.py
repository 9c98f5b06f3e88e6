"""DDPM sampling cost against quality: the full T-step ancestral sampler versus 50- and
20-step DDIM (η = 0), each timed and scored in the studio's evaluator features (FID,
conditional accuracy, class coverage) beside the real-data floor.

For benchmarks/sampling.py: ``ddpm_sampling(checkpoint_or_model, quick)`` returns the
report lines. ``checkpoint_or_model``: a trained Diffusion model, a checkpoint file or
run folder, or None with ``quick`` (a freshly initialised cddpm preset model with
T = 100: a check that the pipeline runs, its figures mean nothing). Every sampler draws the same starting
noise and labels, so the figures differ only by the sampler. Ancestral sampling costs
T network evaluations per image (twice that with guidance): the full run scores
``N_FULL`` images, quick runs ``N_QUICK``.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from studio.core.config import DataConfig
from studio.core.metrics.evaluate import (
    Reference,
    eval_splits,
    real_floor,
    score,
    stratified_labels,
)
from studio.core.metrics.evaluator import get_evaluator
from studio.core.models.base import GenerativeModel

N_FULL = 500  # the size of the mnist-5k held-out floor, so FIDs read against it like for like
N_QUICK = 20
QUICK_T = 100  # timesteps of the untrained quick model
BATCH = 250
DDIM_STEPS = (50, 20)


def ddpm_sampling(checkpoint_or_model: GenerativeModel | str | Path | None, quick: bool) -> list[str]:
    model, data_cfg = _model(checkpoint_or_model, quick)
    n = N_QUICK if quick else N_FULL
    fit, heldout = eval_splits(data_cfg)
    evaluator = get_evaluator(fit, heldout)
    ref = Reference.build(evaluator, fit)
    floor = real_floor(ref, heldout, full=False).values
    asked = stratified_labels(n, ref.data_hist, seed=0) if model.conditional else None
    z = torch.randn(n, *model.latent_shape, generator=torch.Generator().manual_seed(0))
    T = model.sample_options["steps"].hi
    guidance = model.sample_options["guidance"].default if model.conditional else None
    runs = [(f"ancestral DDPM, {T} steps", {"steps": T, "eta": 1.0})]
    runs += [(f"DDIM {s} steps (eta 0)", {"steps": s, "eta": 0.0}) for s in DDIM_STEPS]
    header = f"ddpm sampling: {model.family}, n={n}" + (f", guidance {guidance:g}" if guidance is not None else "")
    lines = [header + (" (quick: untrained model)" if quick else "")]
    ancestral_seconds = None
    for name, options in runs:
        seconds, values = _time_and_score(model, ref, z, asked, options)
        faster = f", {ancestral_seconds / seconds:.1f}x faster" if ancestral_seconds else ""
        ancestral_seconds = ancestral_seconds or seconds
        lines.append(f"  {name}: {seconds:.1f} s ({n / seconds:.2f} img/s{faster}), "
                     f"FID {values['fid_eval']:.2f}, {_accuracy(values)}coverage {values['coverage']:.0f}/10")
    lines.append(f"  real floor (held-out, n={len(heldout)}): FID {floor['fid_eval']:.2f}, "
                 f"evaluator accuracy {floor['cond_acc']:.1%}")
    return lines


def _model(target: GenerativeModel | str | Path | None, quick: bool) -> tuple[GenerativeModel, DataConfig]:
    if isinstance(target, GenerativeModel):
        return target.eval(), DataConfig()
    if target is not None:
        from studio.core.train.checkpoint import load_checkpoint

        loaded = load_checkpoint(target)
        return loaded.model, loaded.config.data
    if not quick:
        raise ValueError("ddpm_sampling needs a trained model or checkpoint unless quick")
    from studio.core.models.registry import build_model
    from studio.core.presets import preset

    config = preset("cddpm").with_overrides(model={"timesteps": QUICK_T})  # ancestral in seconds
    with torch.random.fork_rng(devices=[]):  # the caller's random stream stays as it was
        torch.manual_seed(0)
        model = build_model(config, (1, 28, 28), 10)
    return model.eval(), config.data


def _time_and_score(model, ref: Reference, z: torch.Tensor, asked: torch.Tensor | None,
                    options: dict) -> tuple[float, dict[str, float]]:
    images = []
    start = time.perf_counter()
    for i in range(0, len(z), BATCH):
        labels = None if asked is None else asked[i : i + BATCH]
        batch = z[i : i + BATCH]
        generator = torch.Generator().manual_seed(1000 + i)  # the noise of the ancestral steps
        images.append(model.sample(len(batch), labels, generator, z=batch, **options).float().cpu())
    seconds = time.perf_counter() - start
    feats, probs = ref.evaluator.embed(torch.cat(images))
    return seconds, score(ref, feats, probs, asked, full=False).values


def _accuracy(values: dict[str, float]) -> str:
    return f"conditional accuracy {values['cond_acc']:.1%}, " if "cond_acc" in values else ""


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", nargs="?", help="a checkpoint file or run folder (none with --quick)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print("\n".join(ddpm_sampling(args.checkpoint, args.quick)))
