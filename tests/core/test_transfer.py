"""Transfer learning: `latent-studio finetune` with freeze presets, another class count,
frozen tensors bit-identical, and a warning when a frozen tensor could not be loaded."""

from __future__ import annotations

import pytest
import torch

from studio.cli import main
from studio.core.config import ConfigError, load_config
from studio.core.families import get_family
from studio.core.train import events as ev
from studio.core.train.checkpoint import load_checkpoint
from studio.core.train.trainer import Trainer


def test_freeze_presets_expand_and_unknown_names_list_them():
    cgan = get_family("cgan")
    assert cgan.freeze_prefixes(["generator's first block", "discriminator.fc"]) == ("generator.fc", "discriminator.fc")
    assert get_family("vae").freeze_prefixes(["the encoder"]) == ("encoder",)
    with pytest.raises(ConfigError, match='its presets: "generator\'s first block" \\(generator.fc\\)'):
        cgan.freeze_prefixes(["the generator's head"])


@pytest.mark.parametrize("arch", ["dcgan", "mlp"])
def test_every_gan_freeze_preset_fits_one_architecture_and_names_weights_there(arch):
    from studio.core.models import build_model
    from studio.core.presets import preset
    from studio.core.train.transfer import freeze

    cgan = get_family("cgan")
    config = preset("cgan" if arch == "dcgan" else "cgan-mlp")
    fitting = []
    for name in cgan.freeze_presets:
        model = build_model(config, (1, 28, 28), 10)
        try:
            frozen = freeze(model, cgan.freeze_prefixes([name]))
        except ConfigError as exc:
            assert "no parameter starts with" in str(exc)
            continue
        assert frozen
        fitting.append(name)
    if arch == "mlp":
        assert fitting == ["discriminator features", "MLP discriminator's first two layers (FreezeD)"]
    else:
        assert fitting == [n for n in cgan.freeze_presets if not n.startswith("MLP ")]


def test_a_config_may_name_a_freeze_preset_and_the_trainer_expands_it(tmp_path, tiny_config):
    config = tiny_config("cgan", steps=2, freeze=("discriminator features",))
    trainer = Trainer(config, tmp_path / "run")
    list(trainer.steps())
    assert trainer.step == 2 and trainer.frozen
    assert all(name.startswith("discriminator.features.") for name in trainer.frozen)
    assert "Frozen: " in " ".join(trainer.notes) and "under discriminator.features" in " ".join(trainer.notes)


def test_finetune_to_another_class_count_keeps_frozen_tensors_bit_identical(tmp_path, pretrained_run, image_folder,
                                                                             capsys):
    pretrained_run("cgan")
    args = ["finetune", str(tmp_path / "pre"), "--dataset", str(image_folder), "--steps", "4",
            "--freeze", "generator's first block,discriminator features", "--out", str(tmp_path / "ft")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Freezing generator.fc, discriminator.features" in out and "Started from" in out
    assert "generator.embed.weight (10, 32)→(3, 32)" in out  # the class heads re-initialised
    pre, ft = load_checkpoint(tmp_path / "pre"), load_checkpoint(tmp_path / "ft")
    assert ft.model.num_classes == 3 and ft.step == 4 and ft.class_names == ["class0", "class1", "class2"]
    config = load_config(tmp_path / "ft" / "config.toml")
    assert config.train.init_from == str((tmp_path / "pre").resolve())
    assert config.train.freeze == ("generator.fc", "discriminator.features")
    assert config.data.dataset == str(image_folder.resolve()) and config.model == pre.config.model
    frozen = [k for k in ft.tensors if k.startswith(("model.generator.fc.", "model.discriminator.features."))
              and not k.endswith(("running_mean", "running_var", "num_batches_tracked", "_u", "_v"))]
    assert frozen and all(torch.equal(pre.tensors[k], ft.tensors[k]) for k in frozen)
    moved = [k for k in ft.tensors if k.startswith("model.generator.net.") and k.endswith("weight")]
    assert any(not torch.equal(pre.tensors[k], ft.tensors[k]) for k in moved)  # the rest trained


def test_freezing_a_tensor_that_could_not_be_loaded_is_warned(tmp_path, tiny_config, pretrained_run, image_folder):
    pretrained_run("cvae")
    config = tiny_config("cvae", steps=2).with_overrides(
        data={"dataset": str(image_folder)},
        train={"init_from": str(tmp_path / "pre"), "freeze": list(get_family("cvae").freeze_prefixes(["the encoder"]))})
    events = list(Trainer(config, tmp_path / "ft").steps())
    assert isinstance(events[-1], ev.Finished)
    warning = [n for n in events[0].notes if n.startswith("Warning")]
    assert warning and "encoder." in warning[0]  # its first layer takes the one-hot label


def test_finetune_names_a_bad_freeze_preset(tmp_path, pretrained_run, capsys):
    pretrained_run("cgan", steps=1)
    args = ["finetune", str(tmp_path / "pre"), "--dataset", "mnist-5k", "--freeze", "the whole thing",
            "--out", str(tmp_path / "ft")]
    assert main(args) == 2
    assert "discriminator features" in capsys.readouterr().err
