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
    window.dataset_tab.augment.rotate.setValue(15)
    path = tmp_path / "my.toml"
    tab.save_to(path)
    cfg = load_config(path)  # the CLI's own reader
    assert cfg == window.config() and cfg.data.augment.rotate_degrees == 15
    tab.apply_preset("cgan")
    window.dataset_tab.augment.rotate.setValue(0)
    tab.load_from(path)
    assert window.config() == cfg and window.dataset_tab.augment.rotate.value() == 15


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


def test_freeze_presets_are_check_boxes_in_step_with_the_freeze_field(window, qtbot, tmp_path):
    from PySide6.QtCore import QPoint, Qt

    from studio.core.train.trainer import Trainer

    def click(box):  # on the check box's indicator, as a person would
        qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(6, box.height() // 2))

    tab = window.model_tab
    window.tabs.setCurrentWidget(tab)
    tab.apply_preset("gan")
    set_fields(window, {"model.width": 8})
    picker = tab.freeze_picker
    assert list(picker.boxes) == list(FAMILIES["gan"].freeze_presets) and picker.none_label.isHidden()
    box = picker.boxes["discriminator features"]
    assert "discriminator.features" in box.toolTip()
    assert picker.prefix_labels["discriminator's convolutions (FreezeD)"].text() == (
        "discriminator.features.0, discriminator.features.2")
    assert box.isVisible()
    click(box)
    assert box.isChecked()
    assert tab.fields["train.freeze"].text() == "discriminator features"
    assert tab.validate() == "" and tab.config().train.freeze == ("discriminator.features",)
    # typing a preset's name checks its box; a prefix typed beside it stays a prefix
    set_fields(window, {"train.freeze": "generator.fc, discriminator's convolutions (FreezeD)"})
    assert picker.names() == ["discriminator's convolutions (FreezeD)"]
    assert tab.config().train.freeze == ("generator.fc", "discriminator.features.0", "discriminator.features.2")
    click(picker.boxes["discriminator's convolutions (FreezeD)"])
    assert tab.fields["train.freeze"].text() == "generator.fc" and picker.names() == []
    click(box)
    cfg = tab.config()
    assert cfg.train.freeze == ("generator.fc", "discriminator.features")
    # the config trains, with those parameters fixed
    small = cfg.with_overrides(train={"steps": 2, "batch_size": 8, "log_every": 1, "sample_every": 2,
                                      "checkpoint_every": 2, "threads": 1})
    trainer = Trainer(small, tmp_path / "frozen")
    events = list(trainer.steps())
    assert type(events[-1]).__name__ == "Finished", events[-1]
    assert trainer.frozen and all(n.startswith(("generator.fc.", "discriminator.features.")) for n in trainer.frozen)
    # a saved config holds prefixes; loaded back, the preset shows by name again
    path = tmp_path / "frozen.toml"
    tab.save_to(path)
    assert load_config(path).train.freeze == ("generator.fc", "discriminator.features")
    set_fields(window, {"train.freeze": ""})
    tab.load_from(path)
    assert tab.fields["train.freeze"].text() == "generator's first block, discriminator features"
    assert picker.names() == ["generator's first block", "discriminator features"] and tab.config() == cfg
    # another family: its own presets, the GAN's names gone from the field (typed prefixes stay)
    set_fields(window, {"train.freeze": "discriminator features, decoder.net"})
    set_fields(window, {"model.family": "vae"})
    assert list(picker.boxes) == ["the encoder", "the decoder"] and not picker.names()
    assert tab.fields["train.freeze"].text() == "decoder.net"
    click(picker.boxes["the encoder"])
    assert tab.config().train.freeze == ("decoder.net", "encoder")
    set_fields(window, {"train.freeze": "", "model.family": "pixelcnn"})
    assert picker.boxes == {} and not picker.none_label.isHidden()
    assert "no freeze presets" in picker.none_label.text() and tab.validate() == ""
    set_fields(window, {"train.freeze": "the encoder"})
    assert 'train.freeze: "the encoder" is neither' in tab.validation.text()
    assert "d62728" in tab.fields["train.freeze"].styleSheet()


def test_each_family_objective_renders_as_a_formula(window):
    from studio.ui.widgets.formula import formula_image

    tab = window.model_tab
    window.tabs.setCurrentWidget(tab)
    for name, family in FAMILIES.items():
        assert family.objective, name
        image = formula_image(family.objective)  # raises ValueError where mathtext cannot parse it
        assert image.width() > 100 and image.height() > 10, name
        alphas = {image.pixelColor(x, y).alpha() for x in range(0, image.width(), 3) for y in range(image.height())}
        assert 0 in alphas and 255 in alphas, name  # ink on a transparent background
        set_fields(window, {"model.family": name})
        assert tab.formula.rendered() and tab.formula.error == "", (name, tab.formula.error)
        assert tab.formula.toolTip().startswith(family.objective)
        assert family.title in tab.objective.text()
    assert formula_image(FAMILIES["gan"].objective) is formula_image(FAMILIES["gan"].objective)  # cached


def test_a_formula_mathtext_cannot_parse_shows_as_raw_latex(qtbot):
    from studio.ui.widgets.formula import FormulaLabel, split_quad

    label = FormulaLabel()
    qtbot.addWidget(label)
    label.set_formula(r"a^2")
    assert not label.rendered()  # drawn once shown
    label.show()
    assert label.rendered()
    label.set_formula(r"\unknowncommand{x}")
    assert not label.rendered() and "mathtext cannot draw" in label.error
    assert r"\unknowncommand{x}" in label.text() and label.toolTip().startswith(r"\unknowncommand")
    label.set_formula(r"a^2")
    assert label.rendered()
    assert split_quad(r"a \quad\text{b \quad c} \quad d") == ["a", r"\text{b \quad c}", "d"]
