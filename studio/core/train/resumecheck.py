"""Before a resume loads anything: do config.toml, the checkpoint and the data agree?

A resume continues the checkpoint's training, so everything that shapes the model, its
optimiser state or the data it saw must be what the checkpoint was trained with. Only
``MAY_CHANGE`` may differ (how long, where and how often to log or save). Each mismatch
is one line naming both files and the field, instead of a load_state_dict traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.core.errors import CheckpointError

MAY_CHANGE = frozenset({
    "train.steps", "train.device", "train.threads", "train.precision", "train.log_every", "train.sample_every",
    "train.checkpoint_every", "train.keep_checkpoints", "train.tensorboard", "train.init_from",
    "data.root", "data.download",
})


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def check_resumable(config_path: Path, config: Any, checkpoint: Any, data: Any) -> None:
    """Raise CheckpointError at the first disagreement between the run's config
    (``config``, read from ``config_path``), the checkpoint's (a CheckpointInfo) and the
    data loaded for it (an ImageData)."""
    ours, theirs = flatten(config.to_dict()), flatten(checkpoint.config.to_dict())
    for name in sorted(set(ours) | set(theirs)):
        if name in MAY_CHANGE:
            continue
        a, b = ours.get(name, "(absent)"), theirs.get(name, "(absent)")
        if a != b:
            raise CheckpointError(
                f"{config_path}: {name} is {a!r} but {checkpoint.path} was trained with {b!r}; "
                f"set it back to resume, or train a new run")
    shape, want = tuple(data.image_shape), tuple(checkpoint.image_shape)
    dataset = config.data.dataset
    if shape != want:
        raise CheckpointError(
            f"{config_path}: data.dataset {dataset} now gives {_shape(shape)} images but {checkpoint.path} was "
            f"trained on {_shape(want)} (did the images change?); restore them, or train a new run")
    classes = (data.num_classes or None) if config.family.conditional else None  # as build_model sees them
    if classes != checkpoint.num_classes:
        raise CheckpointError(
            f"{config_path}: data.dataset {dataset} now has {data.num_classes or 'no'} classes but "
            f"{checkpoint.path} was trained with {checkpoint.num_classes or 'none'}; restore them, or train a new run")


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))
