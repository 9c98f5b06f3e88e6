import pytest

from studio.core.config import Config, ConfigError, config_from_toml, load_config, save_config
from studio.core.presets import PRESETS, preset


def test_every_preset_is_valid_and_round_trips_through_toml(tmp_path):
    for name, config in PRESETS.items():
        path = tmp_path / f"{name}.toml"
        save_config(config, path)
        assert load_config(path) == config


@pytest.mark.parametrize(
    ("toml", "field"),
    [
        ("[model]\nlatent_dim = 0", "model.latent_dim"),
        ("[model]\nfamily = 'flow'", "model.family"),
        ("[model]\nfamily = 'vae'\narch = 'dcgan'", "model.arch"),
        ("[train]\nlr = 5.0", "train.lr"),
        ("[train]\nsteps = 'many'", "train.steps"),
        ("[train]\nbatch_size = 1.5", "train.batch_size"),
        ("[train]\nema = true", "train.ema"),
        ("[train]\nfoo = 1", "train.foo"),
        ("[data.augment]\nrotate_degrees = 400", "data.augment.rotate_degrees"),
        ("[optim]\nlr = 1", "[optim]"),
    ],
)
def test_bad_values_name_the_field(toml, field):
    with pytest.raises(ConfigError, match=field.replace("[", r"\[").replace("]", r"\]")):
        config_from_toml(toml, source="my.toml")


def test_broken_toml_names_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[model\nlatent_dim = 3")
    with pytest.raises(ConfigError, match="broken.toml"):
        load_config(path)


def test_overrides_are_validated():
    with pytest.raises(ConfigError, match="train.batch_size"):
        Config().with_overrides(train={"batch_size": 0})
    assert Config().with_overrides(train={"steps": 7}).train.steps == 7


def test_unknown_preset_lists_the_choices():
    with pytest.raises(ConfigError, match="cgan"):
        preset("nope")
