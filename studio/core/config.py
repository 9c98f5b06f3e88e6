"""Run configuration: frozen dataclasses, TOML in and out, and validation.

A config is three sections, ``[data]``, ``[model]`` and ``[train]``, matching the three
dataclasses below. Every validation error names the field (``model.latent_dim``) and
the allowed values, so the CLI and the GUI can show it as is.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import tomli_w


class ConfigError(ValueError):
    """A config value is missing, unknown or out of range; the message names the field."""


FAMILIES = ("gan", "cgan", "vae", "cvae")
ARCHS = {"gan": ("mlp", "dcgan"), "cgan": ("mlp", "dcgan"), "vae": ("mlp", "conv"), "cvae": ("mlp", "conv")}
GAN_LOSSES = ("bce", "hinge", "wgan-gp")
OPTIMIZERS = ("adam", "adamw")
DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class AugmentConfig:
    """Whole-batch augmentation; all off by default (digits must not be mirrored)."""

    hflip: bool = False
    rotate_degrees: float = 0.0
    translate: float = 0.0  # fraction of the image size
    color_jitter: float = 0.0  # brightness/contrast/saturation strength, RGB only

    @property
    def enabled(self) -> bool:
        return self.hflip or self.rotate_degrees > 0 or self.translate > 0 or self.color_jitter > 0


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "mnist-5k"  # a registry name or a path to an image folder
    root: str = ""  # where torchvision datasets live on disk; "" = the user data dir
    download: bool = False  # fetch a torchvision dataset when it is not on disk
    image_size: int = 0  # 0 = the dataset's own size
    channels: int = 0  # 0 = the dataset's own; 1 or 3 to convert an image folder
    augment: AugmentConfig = field(default_factory=AugmentConfig)


@dataclass(frozen=True)
class ModelConfig:
    family: str = "cgan"
    arch: str = "dcgan"
    latent_dim: int = 64
    width: int = 64  # base channel / unit count; each arch scales from it
    loss: str = "bce"  # GANs only
    spectral_norm: bool = False  # GANs only: on the discriminator
    beta: float = 1.0  # VAEs only: weight of the KL term


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 3000
    batch_size: int = 64
    optimizer: str = "adam"
    lr: float = 2e-4  # generator / VAE
    lr_d: float = 2e-4  # discriminator
    beta1: float = 0.5
    beta2: float = 0.999
    weight_decay: float = 0.0
    ema: float = 0.0  # EMA decay of the generator's weights; 0 = off
    n_critic: int = 1  # discriminator steps per generator step
    gp_weight: float = 10.0  # WGAN-GP gradient penalty
    seed: int = 0
    device: str = "auto"
    threads: int = 0  # torch CPU threads; 0 = torch's default
    log_every: int = 10
    sample_every: int = 200
    checkpoint_every: int = 1000


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> Config:
        """Raise ConfigError naming the first bad field; return self so calls chain."""
        m, t, d = self.model, self.train, self.data
        _one_of("model.family", m.family, FAMILIES)
        _one_of("model.arch", m.arch, ARCHS[m.family])
        _one_of("model.loss", m.loss, GAN_LOSSES)
        _in_range("model.latent_dim", m.latent_dim, 1, 1024)
        _in_range("model.width", m.width, 4, 1024)
        _in_range("model.beta", m.beta, 0.0, 100.0)
        _one_of("train.optimizer", t.optimizer, OPTIMIZERS)
        _one_of("train.device", t.device, DEVICES)
        _in_range("train.steps", t.steps, 1, 10_000_000)
        _in_range("train.batch_size", t.batch_size, 1, 4096)
        _in_range("train.lr", t.lr, 1e-7, 1.0)
        _in_range("train.lr_d", t.lr_d, 1e-7, 1.0)
        _in_range("train.beta1", t.beta1, 0.0, 0.9999)
        _in_range("train.beta2", t.beta2, 0.0, 0.99999)
        _in_range("train.weight_decay", t.weight_decay, 0.0, 1.0)
        _in_range("train.ema", t.ema, 0.0, 0.99999)
        _in_range("train.n_critic", t.n_critic, 1, 20)
        _in_range("train.gp_weight", t.gp_weight, 0.0, 1000.0)
        _in_range("train.seed", t.seed, 0, 2**31 - 1)
        _in_range("train.threads", t.threads, 0, 256)
        _in_range("train.log_every", t.log_every, 1, 1_000_000)
        _in_range("train.sample_every", t.sample_every, 1, 10_000_000)
        _in_range("train.checkpoint_every", t.checkpoint_every, 1, 10_000_000)
        if not d.dataset:
            raise ConfigError("data.dataset must name a dataset or a folder, got an empty value")
        if d.image_size != 0:
            _in_range("data.image_size", d.image_size, 8, 256)
            if m.arch in ("dcgan", "conv") and d.image_size % 4:
                raise ConfigError(
                    f"data.image_size must be a multiple of 4 for the {m.arch} architecture, "
                    f"got {d.image_size}"
                )
        _one_of("data.channels", d.channels, (0, 1, 3))
        a = d.augment
        _in_range("data.augment.rotate_degrees", a.rotate_degrees, 0.0, 180.0)
        _in_range("data.augment.translate", a.translate, 0.0, 0.5)
        _in_range("data.augment.color_jitter", a.color_jitter, 0.0, 1.0)
        return self

    @property
    def conditional(self) -> bool:
        return self.model.family in ("cgan", "cvae")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())

    def with_overrides(self, **sections: dict[str, Any]) -> Config:
        """Return a copy with some fields replaced, e.g. ``train={"steps": 10}``."""
        merged = self.to_dict()
        for section, values in sections.items():
            if section not in merged:
                raise ConfigError(f"unknown config section [{section}]")
            merged[section] = {**merged[section], **values}
        return config_from_dict(merged)


def config_from_dict(raw: dict[str, Any]) -> Config:
    """Build a Config from nested plain values; unknown keys and wrong types are errors."""
    if not isinstance(raw, dict):
        raise ConfigError("config must be a table with [data], [model] and [train] sections")
    unknown = set(raw) - {"data", "model", "train"}
    if unknown:
        raise ConfigError(f"unknown config section [{sorted(unknown)[0]}]; expected data, model, train")
    data_raw = dict(raw.get("data", {}))
    augment = _build(AugmentConfig, data_raw.pop("augment", {}), "data.augment")
    data = _build(DataConfig, data_raw, "data", augment=augment)
    model = _build(ModelConfig, raw.get("model", {}), "model")
    train = _build(TrainConfig, raw.get("train", {}), "train")
    return Config(data=data, model=model, train=train).validate()


def config_from_toml(text: str, source: str = "config") -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None
    try:
        return config_from_dict(raw)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config ({exc})") from None
    return config_from_toml(text, source=str(path))


def save_config(config: Config, path: str | Path) -> None:
    from studio.core.fileio import atomic_write_text

    atomic_write_text(Path(path), config.to_toml())


def _build(cls: type, values: Any, section: str, **extra: Any) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"[{section}] must be a table, got {type(values).__name__}")
    known = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"unknown field {section}.{key}; expected one of {', '.join(known)}")
        default = getattr(cls(), key)
        kwargs[key] = _coerce(f"{section}.{key}", value, type(default))
    return replace(cls(**kwargs), **extra) if extra else cls(**kwargs)


def _coerce(name: str, value: Any, kind: type) -> Any:
    # TOML and Qt hand us ints where floats are meant; bools are not ints here.
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is bool and not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    if not isinstance(value, kind):
        raise ConfigError(f"{name} must be a {kind.__name__}, got {value!r}")
    return value


def _one_of(name: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(map(str, allowed))}; got {value!r}")


def _in_range(name: str, value: float, lo: float, hi: float) -> None:
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be between {lo:g} and {hi:g}, got {value!r}")
