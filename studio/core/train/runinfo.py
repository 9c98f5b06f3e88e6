"""What a run directory says about itself, read cheaply (no torch, no validation): the
window's Open recent menu and Continue button, and the Compare runs dialog.

The config is read as plain TOML, the committed checkpoint's step from its manifest (or,
for runs written before manifests, from the safetensors header), and the curves from
metrics.jsonl. Records carry a wall-clock ``time`` since MetricsLogger wrote one; the
active time between two records leaves out gaps longer than ``GAP_S`` (a pause, or the
days between a stop and a resume), so durations and time axes compare training time.
"""

from __future__ import annotations

import json
import math
import struct
import time
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from studio.core.errors import CheckpointError
from studio.core.train.manifest import LAST, read_manifest

GAP_S = 60.0  # a longer silence between two records is not training time
KEY_PARAMS = ("data.dataset", "model.arch", "model.latent_dim", "model.loss", "model.beta",
              "train.steps", "train.batch_size", "train.lr")


@dataclass(frozen=True)
class Curves:
    """A run's logged series: step losses and evaluator metrics, each with active seconds."""

    steps: list[int] = field(default_factory=list)
    losses: dict[str, list[float]] = field(default_factory=dict)
    seconds: list[float | None] = field(default_factory=list)  # active time at each step record
    metric_steps: list[int] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)
    metric_seconds: list[float | None] = field(default_factory=list)
    lr_changes: list[tuple[int, float]] = field(default_factory=list)  # (step, new learning rate)
    duration: float | None = None  # active seconds from the first record to the last


@dataclass(frozen=True)
class RunSummary:
    path: Path
    family: str
    total_steps: int  # train.steps of its config
    saved_step: int | None  # of the committed checkpoint (None: no checkpoint yet)
    modified: float  # Unix time of its latest file
    params: dict[str, Any]  # KEY_PARAMS that the config has

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def resumable(self) -> bool:
        """A checkpoint to continue from, short of the configured steps."""
        return self.saved_step is not None and self.saved_step < self.total_steps

    def label(self) -> str:
        """One line for a menu: name, family, step and date."""
        step = "no checkpoint" if self.saved_step is None else f"step {self.saved_step:,} / {self.total_steps:,}"
        date = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.modified))
        return f"{self.name} · {self.family} · {step} · {date}"


def read_config(run: Path) -> dict[str, Any]:
    """config.toml as a plain dict; {} when it is missing or not TOML."""
    try:
        return tomllib.loads((Path(run) / "config.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}


def saved_step(run: Path) -> int | None:
    """The committed checkpoint's step; None when there is none (or it cannot be read)."""
    folder = Path(run) / "checkpoints"
    try:
        manifest = read_manifest(folder)
    except CheckpointError:
        return None
    if manifest is not None:
        return manifest.step
    return _header_step(folder / LAST)


def _header_step(path: Path) -> int | None:
    """``step`` from a safetensors file's metadata (length-prefixed JSON header)."""
    try:
        with path.open("rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            if length > 100_000_000:
                return None
            header = json.loads(handle.read(length))
        return int(header.get("__metadata__", {}).get("step"))
    except (OSError, ValueError, TypeError, struct.error, AttributeError):
        return None


def summarize(run: str | Path) -> RunSummary | None:
    """The summary of a run directory; None when it holds no config.toml."""
    path = Path(run).expanduser().resolve()
    config = read_config(path)
    if not config:
        return None
    params = {}
    for key in KEY_PARAMS:
        section, name = key.split(".")
        value = config.get(section, {}).get(name)
        if value is not None:
            params[key] = value
    total = config.get("train", {}).get("steps", 0)
    return RunSummary(path, str(config.get("model", {}).get("family", "?")),
                      int(total) if isinstance(total, int) else 0, saved_step(path), _modified(path), params)


def _modified(path: Path) -> float:
    times = []
    for name in ("metrics.jsonl", "config.toml", "checkpoints/manifest.json"):
        try:
            times.append((path / name).stat().st_mtime)
        except OSError:
            continue
    return max(times, default=0.0)


def find_runs(root: str | Path) -> list[RunSummary]:
    """Every run directly under ``root`` (a folder holding config.toml), newest first."""
    try:
        folders = [p for p in Path(root).iterdir() if (p / "config.toml").is_file()]
    except OSError:
        return []
    runs = [s for s in (summarize(p) for p in folders) if s is not None]
    return sorted(runs, key=lambda s: s.modified, reverse=True)


def read_curves(run: str | Path) -> Curves:
    """Every complete record of metrics.jsonl as series (a half-written last line is skipped)."""
    curves = Curves()
    clock = _ActiveClock()
    try:
        lines = (Path(run) / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return curves
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            _add(curves, record, clock.tick(record.get("time")))
    return replace(curves, duration=clock.elapsed if clock.seen else None)


def _add(curves: Curves, record: dict[str, Any], seconds: float | None) -> None:
    kind, step = record.get("kind"), record.get("step")
    if not isinstance(step, int):
        return
    if kind == "step" and isinstance(record.get("losses"), dict):
        _append(curves.steps, curves.losses, curves.seconds, step, record["losses"], seconds)
    elif kind == "metrics" and isinstance(record.get("values"), dict):
        _append(curves.metric_steps, curves.metrics, curves.metric_seconds, step, record["values"], seconds)
    elif kind == "lr" and isinstance(record.get("lr"), (int, float)):
        curves.lr_changes.append((step, float(record["lr"])))


def _append(steps: list[int], series: dict[str, list[float]], seconds: list[float | None], step: int,
            values: dict[str, Any], at: float | None) -> None:
    """One record into aligned lists: a name seen late is padded with NaN before it."""
    for name in values:
        if name not in series:
            series[name] = [math.nan] * len(steps)
    steps.append(step)
    seconds.append(at)
    for name, column in series.items():
        column.append(_num(values.get(name)))


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


class _ActiveClock:
    """Active seconds since the first timed record; gaps over GAP_S count as nothing."""

    def __init__(self) -> None:
        self.last: float | None = None
        self.elapsed = 0.0
        self.seen = False

    def tick(self, stamp: Any) -> float | None:
        if not isinstance(stamp, (int, float)):
            return None
        if self.last is not None and 0 <= stamp - self.last <= GAP_S:
            self.elapsed += stamp - self.last
        self.last, self.seen = float(stamp), True
        return self.elapsed
