"""Checkpoints: weights in safetensors with the config in the metadata, resume state apart.

``<name>.safetensors`` holds ``model.*`` (every weight) and, when EMA is on, ``ema.*``
(the averaged sampling network), with the full config, step, image shape and class
names as metadata: any checkpoint reopens alone. ``last.state.pt`` holds optimiser,
sampler and RNG state for resume; it is plain tensors and numbers, read with
``torch.load(weights_only=True)`` so nothing in it can run code.
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

FORMAT = "latent-studio-checkpoint"
VERSION = "1"
MAX_CHECKPOINT_BYTES = 4 * 1024**3


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
    atomic_write_bytes(path, st_save(tensors, metadata=metadata))


def resolve_checkpoint(target: str | Path) -> Path:
    """A run directory means its checkpoints/last.safetensors; a file means itself."""
    path = Path(target)
    if path.is_dir():
        candidate = path / "checkpoints" / "last.safetensors"
        if not candidate.exists():
            raise CheckpointError(f"{path}: no checkpoint yet (expected {candidate})")
        return candidate
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint or run directory")
    return path


def load_checkpoint(target: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Open a checkpoint (or a run's last one, or an ensemble file: studio.core.ensemble).
    Every failure names the file and the problem."""
    if Path(target).suffix.lower() == ".toml" and Path(target).is_file():
        from studio.core.ensemble import load_ensemble

        return load_ensemble(target, device)
    path = resolve_checkpoint(target)
    tensors, metadata = _read_safetensors(path)
    config, step, image_shape, num_classes, class_names = _parse_metadata(path, metadata)
    try:
        model = build_model(config, image_shape, num_classes)
    except ConfigError as exc:
        raise CheckpointError(f"{path}: its config cannot build a model ({exc})") from None
    _load_weights(path, model, {k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    ema = {k[4:]: v for k, v in tensors.items() if k.startswith("ema.")}
    if ema:
        _load_weights(path, model.sampling_module(), ema)
    model.to(device).eval()
    return LoadedModel(model, config, step, path, class_names, metadata.get("dataset", ""), tensors)


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
    return header.get("__metadata__", {}) or {}


def _parse_metadata(path: Path, metadata: dict[str, str]) -> tuple[Config, int, tuple[int, int, int], int | None, Any]:
    if metadata.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {metadata.get('version')!r} is not supported (expected {VERSION})")
    try:
        config = config_from_toml(metadata["config"], source="embedded config")
        step = int(metadata["step"])
        image_shape = tuple(int(v) for v in metadata["image_shape"].split(","))
        num_classes = int(metadata["num_classes"]) or None
        class_names = json.loads(metadata.get("class_names", "null"))
    except (KeyError, ValueError, ConfigError) as exc:
        raise CheckpointError(f"{path}: damaged checkpoint metadata ({exc})") from None
    if len(image_shape) != 3:
        raise CheckpointError(f"{path}: damaged checkpoint metadata (image_shape {image_shape})")
    return config, step, image_shape, num_classes, class_names


def _load_weights(path: Path, module: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0:2]
        raise CheckpointError(f"{path}: weights do not match the model its config describes ({' '.join(first)})") from None


def save_state(path: Path, state: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_state(path: Path) -> dict[str, Any]:
    """Resume state; weights_only=True refuses anything but tensors and plain containers."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing resume state") from None
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
        raise CheckpointError(f"{path}: not a valid resume state ({type(exc).__name__}: {str(exc)[:200]})") from None
