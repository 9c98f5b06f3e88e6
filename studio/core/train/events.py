"""The events that Trainer.steps() yields: small, picklable, free of tensors.

The CLI prints them; the GUI worker re-emits them as Qt signals. Grids are C-contiguous
uint8 numpy arrays of shape (H, W, 3) so any view can show them without conversion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Started:
    run_dir: Path
    start_step: int  # > 0 when resuming
    total_steps: int
    device: str


@dataclass(frozen=True)
class Step:
    step: int  # steps completed so far (1-based)
    losses: dict[str, float]
    images_per_sec: float


@dataclass(frozen=True)
class Samples:
    step: int
    grid: np.ndarray  # uint8 (H, W, 3), C-contiguous; one row per class when conditional
    path: Path | None = None  # the PNG written into the run directory


@dataclass(frozen=True)
class Metrics:
    step: int
    values: dict[str, float] = field(default_factory=dict)
    class_histogram: np.ndarray | None = None  # float (num_classes,) shares of generated samples


@dataclass(frozen=True)
class Checkpoint:
    step: int
    path: Path


@dataclass(frozen=True)
class Paused:
    step: int


@dataclass(frozen=True)
class Resumed:
    step: int


@dataclass(frozen=True)
class Finished:
    step: int
    stopped: bool  # True when stop() ended the run before its last step


@dataclass(frozen=True)
class Failed:
    step: int
    message: str


Event = Started | Step | Samples | Metrics | Checkpoint | Paused | Resumed | Finished | Failed
