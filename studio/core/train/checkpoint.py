"""Checkpoints: weights in safetensors with the config in the metadata, resume state apart.

``<name>.safetensors`` holds ``model.*`` (every weight) and, when EMA is on, ``ema.*``
(the averaged sampling network), with the full config, step, image shape and class
names as metadata: any checkpoint reopens alone. The resume state (``step-N.state.pt``)
holds optimiser, sampler and RNG state; it is plain tensors and numbers, read with
``torch.load(weights_only=True)`` so nothing in it can run code. How a run's
checkpoints are committed, kept and pinned: studio.core.train.manifest.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from studio.core.config import Config, ConfigError, config_from_toml
from studio.core.errors import CheckpointError
from studio.core.fileio import atomic_write_bytes
from studio.core.models import GenerativeModel, build_model
from studio.core.train.budget import AllocationCap, AllocationExceeded
from studio.core.train.manifest import LAST, MANIFEST, committed

FORMAT = "latent-studio-checkpoint"
VERSION = "1"
MAX_CHECKPOINT_BYTES = 4 * 1024**3
# Bounds on what the metadata may claim (an upscaler's images are larger than the data's).
MAX_CHANNELS, MAX_SIDE, MAX_CLASSES = 4, 4096, 1_000_000


@dataclass
class LoadedModel:
    model: GenerativeModel  # eval mode; the EMA weights when the run kept an EMA
    config: Config
    step: int
    path: Path
    class_names: list[str] | None
    dataset: str
    tensors: dict[str, torch.Tensor]  # everything in the file, for resume


def save_checkpoint(
    path: Path,
    model: GenerativeModel,
    config: Config,
    step: int,
    class_names: list[str] | None,
    dataset: str,
    ema_state: dict[str, torch.Tensor] | None = None,
) -> None:
    atomic_write_bytes(path, checkpoint_bytes(model, config, step, class_names, dataset, ema_state))


def checkpoint_bytes(
    model: GenerativeModel,
    config: Config,
    step: int,
    class_names: list[str] | None,
    dataset: str,
    ema_state: dict[str, torch.Tensor] | None = None,
) -> bytes:
    """The safetensors file of a checkpoint, in memory."""
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if ema_state is not None:
        tensors.update({f"ema.{k}": v.detach().cpu().contiguous() for k, v in ema_state.items()})
    metadata = {
        "format": FORMAT,
        "version": VERSION,
        "config": config.to_toml(),
        "step": str(step),
        "image_shape": ",".join(map(str, model.image_shape)),
        "num_classes": str(model.num_classes or 0),
        "class_names": json.dumps(class_names),
        "dataset": dataset,
    }
    return st_save(tensors, metadata=metadata)


def resolve_checkpoint(target: str | Path) -> Path:
    """A run directory means the weights its manifest commits (checkpoints/last.safetensors
    in a run written before manifests); a file means itself."""
    path = Path(target)
    if path.is_dir():
        found = committed(path / "checkpoints")
        if found is None:
            raise CheckpointError(f"{path}: no checkpoint yet (expected {path / 'checkpoints' / LAST})")
        if not found.weights.exists():
            raise CheckpointError(f"{found.weights}: missing, though {path / 'checkpoints' / MANIFEST} names it")
        return found.weights
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint or run directory")
    return path


@dataclass
class CheckpointInfo:
    """A checkpoint's tensors and metadata, read and checked without building its model."""

    path: Path
    tensors: dict[str, torch.Tensor]
    config: Config
    step: int
    image_shape: tuple[int, int, int]
    num_classes: int | None
    class_names: Any
    dataset: str


def read_checkpoint(target: str | Path) -> CheckpointInfo:
    path = resolve_checkpoint(target)
    tensors, metadata = _read_safetensors(path)
    config, step, image_shape, num_classes, class_names = _parse_metadata(path, metadata)
    return CheckpointInfo(path, tensors, config, step, image_shape, num_classes, class_names,
                          metadata.get("dataset", ""))


def load_checkpoint(target: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Open a checkpoint (or a run's last one, or an ensemble file: studio.core.ensemble).
    Every failure names the file and the problem."""
    if Path(target).suffix.lower() == ".toml" and Path(target).is_file():
        from studio.core.ensemble import load_ensemble

        return load_ensemble(target, device)
    info = read_checkpoint(target)
    path, tensors, config, step = info.path, info.tensors, info.config, info.step
    image_shape, num_classes, class_names = info.image_shape, info.num_classes, info.class_names
    # The metadata may claim a model far larger than the file's tensors: building it is
    # capped at what they could need (twice their size, for buffers and temporaries).
    limit = 2 * sum(v.numel() * v.element_size() for k, v in tensors.items() if k.startswith("model.")) + 16 * 1024**2
    try:
        with AllocationCap(limit):
            model = build_model(config, image_shape, num_classes)
    except ConfigError as exc:
        raise CheckpointError(f"{path}: its config cannot build a model ({exc})") from None
    except AllocationExceeded as exc:
        raise CheckpointError(f"{path}: its metadata describes a model of more than {exc.used:,} bytes, "
                              f"far more than its weights") from None
    except (RuntimeError, ValueError, TypeError, OverflowError) as exc:
        raise CheckpointError(f"{path}: damaged checkpoint metadata ({_first_line(exc)})") from None
    _load_weights(path, model, {k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    ema = {k[4:]: v for k, v in tensors.items() if k.startswith("ema.")}
    if ema:
        _load_weights(path, model.sampling_module(), ema)
    model.to(device).eval()
    return LoadedModel(model, config, step, path, class_names, info.dataset, tensors)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def read_checkpoint_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Every tensor of a Latent Studio checkpoint (format checked; nothing unpickled)."""
    return _read_safetensors(path)[0]


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    try:
        size = path.stat().st_size
        if size > MAX_CHECKPOINT_BYTES:
            raise CheckpointError(f"{path}: {size:,} bytes is too large for a checkpoint")
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc})") from None
    try:
        tensors = st_load(data)
        metadata = _header_metadata(data)
    except (SafetensorError, ValueError, RuntimeError, OverflowError) as exc:
        raise CheckpointError(f"{path}: not a valid safetensors file ({exc})") from None
    if metadata.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a Latent Studio checkpoint (a safetensors file without its metadata)")
    return tensors, metadata


def _header_metadata(data: bytes) -> dict[str, str]:
    # safetensors' bytes loader does not return metadata; the header is length-prefixed JSON.
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        return {}
    return metadata


def _parse_metadata(path: Path, metadata: dict[str, str]) -> tuple[Config, int, tuple[int, int, int], int | None, Any]:
    if metadata.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {metadata.get('version')!r} is not supported (expected {VERSION})")
    try:
        config = config_from_toml(metadata["config"], source="embedded config")
        step = int(metadata["step"])
        image_shape = tuple(int(v) for v in metadata["image_shape"].split(","))
        num_classes = int(metadata["num_classes"]) or None
        class_names = json.loads(metadata.get("class_names", "null"))
    except (KeyError, ValueError, ConfigError, RecursionError) as exc:
        raise CheckpointError(f"{path}: damaged checkpoint metadata ({_first_line(exc)})") from None
    c, h, w = image_shape if len(image_shape) == 3 else (0, 0, 0)
    if not (1 <= c <= MAX_CHANNELS and 1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE):
        raise CheckpointError(f"{path}: damaged checkpoint metadata (image_shape {metadata['image_shape']!r})")
    if step < 0 or not 0 <= (num_classes or 0) <= MAX_CLASSES:
        raise CheckpointError(f"{path}: damaged checkpoint metadata (step {step}, num_classes {num_classes})")
    return config, step, image_shape, num_classes, class_names


def _load_weights(path: Path, module: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0:2]
        raise CheckpointError(f"{path}: weights do not match the model its config describes ({' '.join(first)})") from None


def save_state(path: Path, state: dict[str, Any]) -> None:
    atomic_write_bytes(path, state_bytes(state))


def state_bytes(state: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def load_state(path: Path) -> dict[str, Any]:
    """Resume state; weights_only=True refuses anything but tensors and plain containers."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing resume state") from None
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
        raise CheckpointError(f"{path}: not a valid resume state ({type(exc).__name__}: {str(exc)[:200]})") from None
