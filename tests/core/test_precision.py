"""train.precision: refused where it is not measured (bf16/fp16 on the CPU), auto, and the fp16 path (autocast +
GradScaler through the algorithms' backward/step_optimizer) exercised on the CPU's autocast."""

import pytest
import torch

from studio.core.config import ConfigError, save_config
from studio.core.train import events as ev
from studio.core.train.algorithm import Algorithm
from studio.core.train.precision import PrecisionStep, check_precision
from studio.core.train.trainer import Trainer


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_is_refused_on_the_cpu_before_anything_is_written(tmp_path, tiny_config, precision):
    config = tiny_config("vae", precision=precision, device="cpu")
    with pytest.raises(ConfigError, match=f"train.precision {precision} runs only on a CUDA device"):
        Trainer(config, tmp_path / "run").prepare()
    assert not (tmp_path / "run").exists()


def test_the_cli_refuses_it_in_one_line(tmp_path, tiny_config, capsys):
    from studio.cli import main

    save_config(tiny_config("cgan", precision="bf16", device="cpu"), tmp_path / "bf16.toml")
    assert main(["train", "--config", str(tmp_path / "bf16.toml"), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["latent-studio train: error: train.precision bf16 runs only on a CUDA device, and this run "
                   "is on cpu: its effect on quality is not measured there; use fp32, or auto (bf16 where this CPU "
                   "computes it natively)"]


def test_fp16_needs_an_algorithm_that_scales_its_losses():
    class Plain(Algorithm):
        pass

    with pytest.raises(ConfigError, match="fp16 needs loss scaling, which the toy algorithm does not do"):
        check_precision("fp16", torch.device("cuda"), Plain, "toy")
    check_precision("fp32", torch.device("cpu"), Plain)  # always fine


def test_fp32_is_the_algorithms_own_step(tmp_path, tiny_config):
    trainer = Trainer(tiny_config("vae"), tmp_path / "run")
    trainer.prepare()
    assert trainer.precision_step.dtype is None and trainer.algorithm.scaler is None


@pytest.mark.parametrize("name", ["cgan", "wgan-gp", "vae"])
def test_the_fp16_path_trains_with_loss_scaling(tmp_path, tiny_config, name):
    """What CUDA's fp16 does, on the CPU's autocast: the scaler reaches every optimiser step.
    (The conv VAE's summed BCE overflows fp16 gradients at the first scales: the scaler skips
    its first 8 steps, backing off from 65536 to 128, then steps.)"""
    trainer = Trainer(tiny_config(name, steps=12, log_every=3, sample_every=100), tmp_path / "run")
    trainer.prepare()
    trainer.precision_step = PrecisionStep(trainer.algorithm, "fp16", torch.device("cpu"), check=False)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    events = list(trainer.steps())
    assert not [e for e in events if isinstance(e, ev.Failed)]
    losses = [e.losses for e in events if isinstance(e, ev.Step)]
    assert len(losses) == 4 and all(isinstance(v, float) for v in losses[-1].values())
    scaler = trainer.precision_step.scaler
    assert scaler is trainer.algorithm.scaler and 0 < scaler.get_scale() <= 65536
    moved = sum(not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters(), strict=True))
    assert moved >= len(before) - 1  # (a WGAN critic's last bias gets no gradient at all)


def test_a_diffusion_config_has_one_precision_setting():
    """The DDPM family's model.precision is its mixed precision; a second autocast from
    train.precision is refused, naming both fields."""
    from studio.core.presets import preset

    with pytest.raises(ConfigError, match=r"train.precision = bf16.*model.precision"):
        preset("cddpm").with_overrides(train={"precision": "bf16"}).validate()
    assert preset("cddpm").validate().model.precision == "auto"


def test_auto_is_bf16_only_where_the_processor_computes_it(monkeypatch):
    from studio.core.train import precision

    cpu = torch.device("cpu")
    check_precision("auto", cpu, Algorithm)  # never refused: it falls back to fp32
    monkeypatch.setattr(precision, "native_bf16", lambda device: False)
    assert precision.resolve_precision("auto", cpu) == "fp32"
    monkeypatch.setattr(precision, "native_bf16", lambda device: True)
    assert precision.resolve_precision("auto", cpu) == "bf16"
    assert precision.resolve_precision("fp32", cpu) == "fp32"


def test_the_mlp_gan_presets_train_under_auto_bf16(tmp_path, tiny_config, monkeypatch):
    """The MLP GAN presets ask for auto; where it means bf16 (forced here, so a CPU without
    native bf16 runs the same path, emulated) the step runs under bf16 autocast, the
    weights stay float32 and every loss is a finite float."""
    from studio.core.presets import preset
    from studio.core.train import precision

    assert preset("gan-mlp").train.precision == preset("cgan-mlp").train.precision == "auto"
    monkeypatch.setattr(precision, "native_bf16", lambda device: True)
    trainer = Trainer(tiny_config("cgan-mlp", steps=6, log_every=2), tmp_path / "run")
    trainer.prepare()
    assert trainer.precision_step.dtype is torch.bfloat16
    seen: list[torch.dtype] = []
    first = trainer.model.discriminator.features[1]  # D's first Linear (0 is the Flatten)
    first.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    events = list(trainer.steps())
    assert not [e for e in events if isinstance(e, ev.Failed)]
    assert seen and all(d is torch.bfloat16 for d in seen)  # each step computed D's matmuls in bf16
    losses = [e.losses for e in events if isinstance(e, ev.Step)]
    assert len(losses) == 3 and all(torch.isfinite(torch.tensor(v)) for v in losses[-1].values())
    assert all(p.dtype is torch.float32 for p in trainer.model.parameters())
