"""Super-resolution figures: PSNR and SSIM of an upscaler against bicubic upscaling.

The held-out split (the dataset's test split, or a seeded 10% of an image folder) is
downscaled exactly as training pairs are (antialiased bicubic, ``downscale``), upscaled
back by the model and by plain bicubic interpolation, and both are compared with the
real images after rounding to 8 bits, as a saved image would be. Per-image PSNR and
SSIM are averaged over the split.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import torch
import torch.nn.functional as F

from studio.core.errors import StudioError

SSIM_WINDOW, SSIM_SIGMA = 11, 1.5  # Wang et al. 2004: an 11x11 Gaussian window, sigma 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03


def psnr(images01: torch.Tensor, reference01: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB, 10 log10(1 / MSE) for images in [0, 1]; (N,), capped at 100 dB."""
    mse = (images01.double() - reference01.double()).pow(2).flatten(1).mean(1)
    return -10 * torch.log10(mse.clamp_min(1e-10))


def _gaussian_window(channels: int, size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-x.pow(2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()


def ssim(images01: torch.Tensor, reference01: torch.Tensor) -> torch.Tensor:
    """Per-image SSIM (Wang et al. 2004, eq. 13) with its Gaussian window over the valid
    region, averaged over pixels and channels; (N,). Images smaller than the window use a
    window of their size."""
    a, b = images01.double(), reference01.double()
    c = a.shape[1]
    size = min(SSIM_WINDOW, *a.shape[-2:])
    win = _gaussian_window(c, size, SSIM_SIGMA * size / SSIM_WINDOW)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, win, groups=c)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a.pow(2)
    var_b = blur(b * b) - mu_b.pow(2)
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = SSIM_K1**2, SSIM_K2**2  # data range 1
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a.pow(2) + mu_b.pow(2) + c1) * (var_a + var_b + c2))
    return s.flatten(1).mean(1)


def quantise(images01: torch.Tensor) -> torch.Tensor:
    """Rounded to 8 bits, as a saved PNG holds it."""
    return images01.clamp(0, 1).mul(255).round().div(255)


@dataclass
class SuperResReport:
    target: str
    checkpoint: str
    step: int
    scale: int
    dataset: str
    split: str
    n: int
    low_shape: tuple[int, int, int]
    image_shape: tuple[int, int, int]
    values: dict[str, float]  # psnr, ssim, psnr_bicubic, ssim_bicubic (means over the split)

    @property
    def gain_db(self) -> float:
        return self.values["psnr"] - self.values["psnr_bicubic"]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "gain_db": self.gain_db}


@torch.no_grad()
def score_upscaler(model, real01: torch.Tensor, batch_size: int = 500) -> dict[str, float]:
    """Mean PSNR/SSIM of the model and of bicubic on ``real01`` (N, C, H, W) in [0, 1]."""
    from studio.core.models.espcn import bicubic_upscale, downscale

    r = model.scale
    sums = {"psnr": 0.0, "ssim": 0.0, "psnr_bicubic": 0.0, "ssim_bicubic": 0.0}
    for real in real01.split(batch_size):
        real = real.float()
        low = downscale(real, r, (0.0, 1.0))
        ours = quantise(model.upscale(low).cpu())
        base = quantise(bicubic_upscale(low, r))
        for key, images in (("", ours), ("_bicubic", base)):
            sums["psnr" + key] += float(psnr(images, real).sum())
            sums["ssim" + key] += float(ssim(images, real).sum())
    n = max(len(real01), 1)
    return {k: v / n for k, v in sums.items()}


def evaluate_upscaler(loaded, max_n: int | None = None) -> SuperResReport:
    """PSNR/SSIM on the held-out split of the data the upscaler was trained on."""
    from studio.core.metrics.evaluate import eval_splits

    model = loaded.model
    _, heldout = eval_splits(loaded.config.data)
    if tuple(heldout.image_shape) != tuple(model.image_shape):
        raise StudioError(f"{loaded.path}: the model was trained on {tuple(model.image_shape)} images but "
                          f"{heldout.name} has {heldout.image_shape}")
    images = heldout.images if max_n is None else heldout.images[:max_n]
    values = score_upscaler(model, images.float().div(255))
    return SuperResReport(str(loaded.path), str(loaded.path), loaded.step, model.scale, loaded.config.data.dataset,
                          heldout.name, len(images), tuple(model.low_shape), tuple(model.image_shape), values)


def format_superres(report: SuperResReport) -> str:
    c, h, w = report.image_shape
    _, lh, lw = report.low_shape
    v = report.values
    rows = [("metric", "better", f"ESPCN x{report.scale}", "bicubic", "gain"),
            ("PSNR (dB)", "higher", f"{v['psnr']:.2f}", f"{v['psnr_bicubic']:.2f}", f"{report.gain_db:+.2f} dB"),
            ("SSIM", "higher", f"{v['ssim']:.4f}", f"{v['ssim_bicubic']:.4f}", f"{v['ssim'] - v['ssim_bicubic']:+.4f}")]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [f"{report.checkpoint}: espcn x{report.scale}, step {report.step}, dataset {report.dataset}",
             f"held-out: {report.n} images of {report.split}, downscaled {lw}x{lh} -> upscaled {w}x{h} "
             "(antialiased bicubic down, 8-bit outputs)", ""]
    for i, r in enumerate(rows):
        lines.append("  ".join(c.ljust(wd) if j == 0 else c.rjust(wd) for j, (c, wd) in enumerate(zip(r, widths, strict=True))))
        if i == 0:
            lines.append("  ".join("-" * wd for wd in widths))
    return "\n".join(lines)


def run_superres_eval(loaded, json_path: str | None = None, out: IO[str] | None = None) -> int:
    """`latent-studio eval` on an upscaler: the PSNR/SSIM table (and JSON)."""
    out = sys.stdout if out is None else out
    report = evaluate_upscaler(loaded)
    print(format_superres(report), file=out)
    if json_path:
        from studio.core.fileio import atomic_write_text

        atomic_write_text(Path(json_path), json.dumps(report.to_dict(), indent=2) + "\n")
        print(f"wrote {json_path}", file=out)
    return 0 if math.isfinite(report.values["psnr"]) else 1
