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
    notes: tuple[str, ...] = ()  # what the start did, for a person: e.g. what --init-from loaded
    class_names: tuple[str, ...] = ()  # the dataset's, when the model is conditional (grid row labels)


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
class LearningRate:
    """The learning rate was changed mid-run (``Trainer.set_lr``), from this step on."""

    step: int
    lr: float  # the generator's (train.lr); the other optimisers keep their ratio to it
    previous: float


@dataclass(frozen=True)
class Finished:
    step: int
    stopped: bool  # True when stop() ended the run before its last step


@dataclass(frozen=True)
class Failed:
    step: int
    message: str
    user_error: bool = False  # the user's to fix (a full disk, a bad file): the CLI exits 2




@dataclass(frozen=True)
class MonitorStatus:
    """Where the live metrics stand; the LiveMetrics callback yields one at each change
    and after each check.

    ``state``: "preparing" (the evaluator loads or trains: ``fraction``, ``message``),
    "ready" (attached: ``every``, ``floor``, ``class_names``, ``data_share``), "running"
    (after a check: the cost figures), "off" (none for this run: ``message`` says why),
    "failed" (could not be prepared; the run trains without) or "cancelled" (the run
    stopped while the evaluator was being prepared).
    """

    state: str
    message: str = ""
    fraction: float | None = None
    every: int = 0
    n: int = 0
    floor: dict[str, float] = field(default_factory=dict)
    class_names: tuple[str, ...] = ()
    data_share: np.ndarray | None = None  # float64 (K,) class shares of the training split
    seconds: float = 0.0  # spent in monitor calls
    wall: float = 0.0  # training wall time, pauses excluded, monitor calls included
    calls: int = 0
    skipped: int = 0  # checks skipped to stay within the budget
    budget: float | None = 0.10

    @property
    def cost(self) -> float:
        """The monitor's share of the training time."""
        return self.seconds / self.wall if self.wall > 0 else 0.0


Event = (Started | Step | Samples | Metrics | MonitorStatus | Checkpoint | Paused | Resumed | LearningRate | Finished
         | Failed)
