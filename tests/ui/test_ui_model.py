"""Model tab: families from the registry, inline validation, presets, TOML save/load."""

from __future__ import annotations

from ui_helpers import set_fields

from studio.core.config import load_config
from studio.core.models import FAMILIES
from studio.core.presets import DEFAULT_PRESET, PRESETS


def test_opens_on_the_default_preset_with_every_registered_family(window):
    tab = window.model_tab
    combo = tab.fields["model.family"]
    assert [combo.itemData(i) for i in range(combo.count())] == list(FAMILIES)
    assert "Conditional GAN" in combo.currentText()
    cfg = window.config()
    assert tab.preset.currentText() == DEFAULT_PRESET
    assert cfg.model == PRESETS[DEFAULT_PRESET].model and cfg.train == PRESETS[DEFAULT_PRESET].train
    assert cfg.data.dataset == "mnist-5k"


def test_family_switch_updates_architectures_and_enabled_fields(window):
    tab = window.model_tab
    set_fields(window, {"model.family": "vae"})
    arch = tab.fields["model.arch"]
    assert [arch.itemData(i) for i in range(arch.count())] == ["mlp", "conv"]
    assert tab.fields["model.beta"].isEnabled() and not tab.fields["model.loss"].isEnabled()
    set_fields(window, {"model.family": "gan"})
    assert tab.fields["model.loss"].isEnabled() and not tab.fields["model.beta"].isEnabled()


def test_inline_validation_names_the_field_and_its_range(window):
    tab = window.model_tab
    set_fields(window, {"model.latent_dim": 0})
    assert "model.latent_dim must be between 1 and 1024, got 0" in tab.validation.text()
    assert "d62728" in tab.fields["model.latent_dim"].styleSheet()
    set_fields(window, {"model.latent_dim": 16, "train.lr": "fast"})
    assert "train.lr must be a number" in tab.validation.text()
    assert tab.fields["model.latent_dim"].styleSheet() == ""
    set_fields(window, {"train.lr": "3e-4", "train.beta1": 1.5})
    assert "train.beta1 must be between 0 and 0.9999" in tab.validation.text()
    set_fields(window, {"train.beta1": 0.5})
    assert tab.validate() == "" and "valid" in tab.validation.text()


def test_presets_and_toml_round_trip(window, tmp_path):
    tab = window.model_tab
    tab.apply_preset("vae-2d")
    assert tab.config().model == PRESETS["vae-2d"].model
    window.dataset_tab.rotate.setValue(15)
    path = tmp_path / "my.toml"
    tab.save_to(path)
    cfg = load_config(path)  # the CLI's own reader
    assert cfg == window.config() and cfg.data.augment.rotate_degrees == 15
    tab.apply_preset("cgan")
    window.dataset_tab.rotate.setValue(0)
    tab.load_from(path)
    assert window.config() == cfg and window.dataset_tab.rotate.value() == 15


def test_a_family_registered_later_brings_its_fields_and_presets(window):
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "core"))
    from test_protocol import TOY

    from studio.core.families import register, unregister

    tab = window.model_tab
    register(TOY)
    try:
        tab.set_families(FAMILIES)
        combo = tab.fields["model.family"]
        assert "toy" in [combo.itemData(i) for i in range(combo.count())]
        assert "toy" in [tab.preset.itemText(i) for i in range(tab.preset.count())]
        set_fields(window, {"model.family": "toy"})
        gain = tab.fields["model.gain"]
        assert not gain.isHidden() and tab.labels["model.gain"].text() == "Gain"
        assert "how far the decoder's output reaches" in gain.toolTip()
        assert tab.fields["model.loss"].isHidden()  # a GAN field the toy has not
        set_fields(window, {"model.gain": "20"})
        assert "model.gain must be between 0 and 10" in tab.validation.text()
        set_fields(window, {"model.gain": "2"})
        assert tab.config().model == TOY.section(latent_dim=tab.config().model.latent_dim, gain=2.0)
    finally:
        unregister("toy")
        tab.set_families(FAMILIES)


def test_fields_that_do_not_apply_are_disabled(window):
    tab = window.model_tab
    tab.apply_preset("gan")
    assert not tab.fields["model.gp_weight"].isEnabled()  # no penalty under the BCE loss
    set_fields(window, {"model.loss": "wgan-gp"})
    assert tab.fields["model.gp_weight"].isEnabled()


def test_text_fields_of_a_family_keep_their_type(window):
    tab = window.model_tab
    tab.apply_preset("cddpm")
    cfg = tab.config()  # e.g. the UNet's channel multipliers are a string, not a number
    assert cfg.model == PRESETS["cddpm"].model
