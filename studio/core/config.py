"""Run configuration: frozen dataclasses, TOML in and out, and validation.

A config is three sections: ``[data]``, ``[model]`` and ``[train]``. ``[model]`` is the
chosen family's own section (``model.family`` picks it; each family declares its
dataclass in studio.core.families), so a GAN config has GAN fields and a VAE config
VAE fields. Every field carries its metadata (studio.core.fields), from which the
checks here, the Model tab's form and search spaces are derived; every message names
the field. Configs written before families owned their sections still load (see
``_migrate_v0``). Torch-free.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from studio.core.fields import ConfigError, build_section, spec, validate_section

__all__ = ["AugmentConfig", "Config", "ConfigError", "DataConfig", "TrainConfig", "config_from_dict",
           "config_from_toml", "load_config", "save_config"]

OPTIMIZERS = ("adam", "adamw")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("fp32", "auto", "bf16", "fp16")


@dataclass(frozen=True)
class AugmentConfig:
    """Whole-batch augmentation; all off by default (digits must not be mirrored)."""

    hflip: bool = spec(False, "Horizontal flips", group="")
    rotate_degrees: float = spec(0.0, "Rotation (degrees)", lo=0.0, hi=180.0, group="")
    translate: float = spec(0.0, "Translation", "fraction of the image size", lo=0.0, hi=0.5, group="")
    color_jitter: float = spec(0.0, "Colour jitter", "brightness/contrast/saturation, RGB only", lo=0.0, hi=1.0, group="")

    @property
    def enabled(self) -> bool:
        return self.hflip or self.rotate_degrees > 0 or self.translate > 0 or self.color_jitter > 0


@dataclass(frozen=True)
class DataConfig:
    dataset: str = spec("mnist-5k", "Dataset", "a registry name or a path to an image folder", group="")
    root: str = spec("", "Datasets folder", "where torchvision datasets live; empty = the user data folder", group="")
    download: bool = spec(False, "Download", "fetch a torchvision dataset when it is not on disk", group="")
    image_size: int = spec(0, "Image size", "0 = the dataset's own size", lo=0, hi=256, group="")
    channels: int = spec(0, "Channels", "0 = the dataset's own; 1 or 3 to convert an image folder",
                         choices=(0, 1, 3), group="")
    augment: AugmentConfig = field(default_factory=AugmentConfig)


@dataclass(frozen=True)
class TrainConfig:
    """What every family's training shares; a family's own knobs live in its [model]."""

    steps: int = spec(3000, "Steps", "training steps in all", lo=1, hi=10_000_000, group="Optimisation")
    batch_size: int = spec(64, "Batch size", "images per step", lo=1, hi=4096, group="Optimisation")
    optimizer: str = spec("adam", "Optimiser", choices=OPTIMIZERS, group="Optimisation")
    lr: float = spec(2e-4, "Learning rate", "of the generator, the VAE or the network", lo=1e-7, hi=1.0, log=True,
                     group="Optimisation")
    beta1: float = spec(0.5, "Adam β1", "momentum of the gradient average", lo=0.0, hi=0.9999, group="Optimisation")
    beta2: float = spec(0.999, "Adam β2", "momentum of the squared-gradient average", lo=0.0, hi=0.99999,
                        group="Optimisation")
    weight_decay: float = spec(0.0, "Weight decay", lo=0.0, hi=1.0, group="Optimisation")
    ema: float = spec(0.0, "EMA decay", "moving average of the sampling network's weights; 0 = off",
                      lo=0.0, hi=0.99999, group="Optimisation")
    seed: int = spec(0, "Seed", "the same seed trains the same model", lo=0, hi=2**31 - 1, group="Run")
    device: str = spec("auto", "Device", "auto picks CUDA, then MPS, then the CPU", choices=DEVICES, group="Run")
    precision: str = spec("fp32", "Precision", "auto: bf16 autocast where the processor computes bf16 natively "
                          "(a CPU with AVX512-BF16 or AMX, a CUDA GPU that has it), fp32 elsewhere; bf16 or fp16: "
                          "mixed precision (torch.autocast) on a CUDA device only, fp16 with loss scaling",
                          choices=PRECISIONS, group="Run")
    threads: int = spec(0, "CPU threads", "torch's CPU threads; 0 = automatic: measured during the run, so "
                        "it backs off when another program is busy (not bit-for-bit reproducible)",
                        lo=0, hi=256, group="Run")
    log_every: int = spec(10, "Log every", "steps between loss records", lo=1, hi=1_000_000, group="Run")
    sample_every: int = spec(200, "Sample grid every", "steps between sample grids", lo=1, hi=10_000_000, group="Run")
    checkpoint_every: int = spec(1000, "Checkpoint every", "steps between checkpoints", lo=1, hi=10_000_000,
                                 group="Run")
    keep_checkpoints: int = spec(3, "Checkpoints kept", "the newest step checkpoints a run keeps; older ones are "
                                 "removed unless pinned (latent-studio pin RUN STEP)", lo=1, hi=10_000, group="Run")
    tensorboard: bool = spec(False, "TensorBoard", "also write TensorBoard events (losses, live metrics, sample "
                             "grids, hparams) to runs/<name>/tb/; needs latent-studio[tensorboard]", group="")
    init_from: str = spec("", "Start from", "a run or checkpoint whose matching weights start this run "
                          "(fine-tuning; not resume)", group="Start")
    freeze: tuple[str, ...] = spec((), "Freeze", "parameter name prefixes that stay fixed, e.g. generator.fc",
                                   group="Start")


def _default_model() -> Any:
    from studio.core.families import DEFAULT_FAMILY, get_family

    return get_family(DEFAULT_FAMILY).section()


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: Any = field(default_factory=_default_model)  # the family's section (a frozen dataclass)
    train: TrainConfig = field(default_factory=TrainConfig)

    @property
    def family(self) -> Any:
        """The registered Family of ``model.family``."""
        from studio.core.families import get_family

        return get_family(self.model.family)

    def validate(self) -> Config:
        """Raise ConfigError naming the first bad field; return self so calls chain."""
        family = self.family
        if not isinstance(self.model, family.section):
            raise ConfigError(f"model: a {family.name} model needs a {family.section.__name__} section")
        validate_section(self.model, "model")
        validate_section(self.train, "train")
        if not self.data.dataset:
            raise ConfigError("data.dataset must name a dataset or a folder, got an empty value")
        validate_section(self.data, "data")
        if self.data.image_size != 0 and self.data.image_size < 8:
            raise ConfigError(f"data.image_size must be 0 (the dataset's own) or between 8 and 256, got {self.data.image_size}")
        validate_section(self.data.augment, "data.augment")
        if family.validate is not None:
            family.validate(self)
        return self

    @property
    def conditional(self) -> bool:
        return self.family.conditional

    def to_dict(self) -> dict[str, Any]:
        raw = dataclasses.asdict(self)
        raw["train"]["freeze"] = list(raw["train"]["freeze"])
        return raw

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())

    def with_overrides(self, **sections: dict[str, Any]) -> Config:
        """A copy with some fields replaced, e.g. ``train={"steps": 10}``.

        A new ``model.family`` of another section starts from that family's defaults.
        """
        merged = self.to_dict()
        for section, values in sections.items():
            if section not in merged:
                raise ConfigError(f"unknown config section [{section}]")
            base = merged[section]
            if section == "model" and values.get("family", self.model.family) != self.model.family:
                from studio.core.families import get_family

                if get_family(values["family"]).section is not type(self.model):
                    base = {}
            merged[section] = {**base, **values}
        return config_from_dict(merged)


def config_from_dict(raw: dict[str, Any]) -> Config:
    """Build a Config from nested plain values; unknown keys and wrong types are errors."""
    from studio.core.families import DEFAULT_FAMILY, get_family

    if not isinstance(raw, dict):
        raise ConfigError("config must be a table with [data], [model] and [train] sections")
    unknown = set(raw) - {"data", "model", "train"}
    if unknown:
        raise ConfigError(f"unknown config section [{sorted(unknown)[0]}]; expected data, model, train")
    data_raw, model_raw, train_raw = (_table(raw, name) for name in ("data", "model", "train"))
    family = get_family(model_raw.get("family", DEFAULT_FAMILY), field="model.family")
    model_raw, train_raw = _migrate_v0(family.section, model_raw, train_raw)
    augment = build_section(AugmentConfig, data_raw.pop("augment", {}), "data.augment")
    data = build_section(DataConfig, data_raw, "data", augment=augment)
    model = build_section(family.section, model_raw, "model", family=family.name)  # the section's default may differ
    train = build_section(TrainConfig, train_raw, "train")
    return Config(data=data, model=model, train=train).validate()


# Before families owned their sections, [model] held every family's fields and [train]
# the GAN's discriminator settings. Such files still load: a key the family's section
# has moves there, the others (another family's, always written) are dropped.
_V0_MODEL_KEYS = ("arch", "latent_dim", "width", "loss", "spectral_norm", "beta")
_V0_TRAIN_TO_MODEL = ("lr_d", "n_critic", "gp_weight")


def _migrate_v0(section: type, model: dict[str, Any], train: dict[str, Any]) -> tuple[dict, dict]:
    known = {f.name for f in dataclasses.fields(section)}
    model = {k: v for k, v in model.items() if k in known or k not in _V0_MODEL_KEYS}
    train = dict(train)
    for key in _V0_TRAIN_TO_MODEL:
        if key in train:
            value = train.pop(key)
            if key in known and key not in model:
                model[key] = value
    return model, train


def _table(raw: dict[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}] must be a table, got {type(value).__name__}")
    return dict(value)


def config_from_toml(text: str, source: str = "config") -> Config:
    """A config from TOML; a file with no settings at all is the default preset (what
    `latent-studio train` trains without options), not the bare field defaults."""
    try:
        raw = tomllib.loads(text.removeprefix("\ufeff"))  # a BOM from a Windows editor
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None
    except RecursionError:  # tomllib recurses per nesting level
        raise ConfigError(f"{source}: not a config (arrays or tables nested too deeply)") from None
    if not raw:
        from studio.core.presets import DEFAULT_PRESET, preset

        return preset(DEFAULT_PRESET)
    try:
        return config_from_dict(raw)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


MAX_CONFIG_BYTES = 1024**2  # a config is a few hundred bytes; a huge file is something else


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: {path.stat().st_size:,} bytes is too large for a config file")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config ({exc})") from None
    return config_from_toml(text, source=str(path))


def save_config(config: Config, path: str | Path) -> None:
    from studio.core.fileio import atomic_write_text

    atomic_write_text(Path(path), config.to_toml())
