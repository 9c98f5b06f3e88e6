"""Super-resolution (ESPCN): shapes at both scales, a real short training, PSNR/SSIM, the
live comparison grid, `eval` on an upscaler and `sample --upscale`."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from studio.cli import main
from studio.core.metrics.superres import psnr, ssim
from studio.core.models import build_model
from studio.core.models.espcn import downscale
from studio.core.presets import preset
from studio.core.train import events as ev
from studio.core.train.trainer import Trainer


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_espcn_maps_low_resolution_to_full_size(scale, shape):
    model = build_model(preset(f"espcn-x{scale}").with_overrides(model={"width": 8}), shape, None)
    c, h, w = shape
    assert model.low_shape == (c, h // scale, w // scale)
    assert model(torch.zeros(2, c, h // scale, w // scale)).shape == (2, *shape)
    up = model.upscale(torch.rand(3, c, 5, 6))  # any size: the network is fully convolutional
    assert up.shape == (3, c, 5 * scale, 6 * scale) and 0 <= float(up.min()) <= float(up.max()) <= 1
    caps = model.capabilities()
    assert caps.is_upscaler and caps.latent_shape is None and not caps.conditional
    with pytest.raises(TypeError, match="upscales images"):
        model.sample(4)
    with pytest.raises(ValueError, match="upscales"):
        model.upscale(torch.rand(2, 3 if c == 1 else 1, 8, 8))


def test_psnr_and_ssim_take_known_values():
    a = torch.rand(4, 1, 28, 28)
    assert torch.allclose(psnr(a, a), torch.full((4,), 100.0, dtype=torch.float64))
    assert torch.allclose(psnr(torch.full((1, 1, 8, 8), 0.6), torch.full((1, 1, 8, 8), 0.5)),
                          torch.tensor([20.0], dtype=torch.float64))  # MSE 0.01
    assert torch.allclose(ssim(a, a), torch.ones(4, dtype=torch.float64))
    noisy = (a + 0.2 * torch.randn(a.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    assert bool((ssim(noisy, a) < 0.9).all()) and bool((ssim(noisy, a) > -1).all())


@pytest.fixture
def espcn_run(tmp_path):
    config = preset("espcn-x2").with_overrides(
        model={"width": 8}, train={"steps": 6, "batch_size": 16, "log_every": 2, "sample_every": 3, "threads": 1})
    trainer = Trainer(config, tmp_path / "sr")
    events = list(trainer.steps())
    return tmp_path / "sr", events


def test_espcn_trains_logs_psnr_and_shows_the_comparison_grid(espcn_run):
    run, events = espcn_run
    assert isinstance(events[-1], ev.Finished)
    steps = [e for e in events if isinstance(e, ev.Step)]
    assert steps and {"mse", "psnr", "psnr_bicubic"} <= set(steps[-1].losses)
    assert all(np.isfinite(v) for e in steps for v in e.losses.values())
    grid = np.asarray(Image.open(sorted((run / "samples").glob("*.png"))[-1]))
    assert grid.shape[:2] == (4 * 30 + 2, 8 * 30 + 2)  # low-res / bicubic / ESPCN / real, 8 columns


def test_eval_reports_psnr_and_ssim_against_bicubic(espcn_run, capsys, tmp_path):
    run, _ = espcn_run
    assert main(["eval", str(run), "--json", str(tmp_path / "sr.json")]) == 0
    out = capsys.readouterr().out
    assert "PSNR (dB)" in out and "SSIM" in out and "bicubic" in out and "14x14 -> upscaled 28x28" in out
    import json

    values = json.loads((tmp_path / "sr.json").read_text())["values"]
    assert set(values) == {"psnr", "ssim", "psnr_bicubic", "ssim_bicubic"}


def test_sample_upscale_applies_an_espcn_run_to_a_generator(espcn_run, tmp_path, tiny_config, capsys):
    run, _ = espcn_run
    list(Trainer(tiny_config("vae", steps=2), tmp_path / "vae").steps())
    out = tmp_path / "big.npz"
    assert main(["sample", str(tmp_path / "vae"), "--n", "5", "--upscale", str(run), "--out", str(out)]) == 0
    assert np.load(out)["images"].shape == (5, 56, 56)
    assert main(["sample", str(tmp_path / "vae"), "--n", "4", "--upscale", str(run), "--out", str(tmp_path / "b.png")]) == 0
    assert main(["sample", str(run), "--out", str(tmp_path / "x.png")]) == 2  # an upscaler does not sample
    assert main(["sample", str(tmp_path / "vae"), "--upscale", str(tmp_path / "vae"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "upscales images rather than sampling" in err and "needs a super-resolution run" in err


def test_downscale_is_antialiased_bicubic_and_stays_in_range():
    x = torch.rand(2, 1, 28, 28) * 2 - 1
    low = downscale(x, 4)
    assert low.shape == (2, 1, 7, 7) and float(low.min()) >= -1 and float(low.max()) <= 1
    ref = torch.nn.functional.interpolate(x, size=(7, 7), mode="bicubic", antialias=True).clamp(-1, 1)
    assert torch.equal(low, ref)


def test_live_metrics_are_off_for_an_upscaler(tmp_path):
    from studio.core.train.live_metrics import LiveMetrics

    config = preset("espcn-x4").with_overrides(model={"width": 8}, train={"steps": 2, "batch_size": 8, "threads": 1})
    events = list(Trainer(config, tmp_path / "sr", callbacks=[LiveMetrics()]).steps())
    status = [e for e in events if isinstance(e, ev.MonitorStatus)]
    assert isinstance(events[-1], ev.Finished) and status[-1].state == "off" and "upscaler" in status[-1].message
