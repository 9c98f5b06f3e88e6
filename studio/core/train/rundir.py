"""The run directory: the durable record of a run that the CLI writes and the GUI watches.

runs/<name>/
    config.toml            the full config
    metrics.jsonl          one JSON object per logged step, flushed as written
    samples/step-NNNNNN.png
    checkpoints/last.safetensors, step-N.safetensors, last.state.pt
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from studio.core.fileio import atomic_write_text


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    @classmethod
    def create(cls, runs_root: str | Path, name: str) -> RunDir:
        """A fresh directory under runs_root; a numeric suffix keeps names unique."""
        root = Path(runs_root)
        candidate, n = root / name, 1
        while candidate.exists():
            n += 1
            candidate = root / f"{name}-{n}"
        candidate.mkdir(parents=True)
        return cls(candidate)

    @staticmethod
    def default_name(family: str) -> str:
        return f"{family}-{time.strftime('%Y%m%d-%H%M%S')}"

    @property
    def config_path(self) -> Path:
        return self.path / "config.toml"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def samples_dir(self) -> Path:
        return self.path / "samples"

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints_dir / "last.safetensors"

    @property
    def state_path(self) -> Path:
        return self.checkpoints_dir / "last.state.pt"

    def sample_path(self, step: int) -> Path:
        return self.samples_dir / f"step-{step:06d}.png"

    def sample_paths(self) -> list[Path]:
        return sorted(self.samples_dir.glob("step-*.png"))

    def read_metrics(self) -> list[dict[str, Any]]:
        """Every complete line; a half-written last line (another process writing) is skipped."""
        if not self.metrics_path.exists():
            return []
        records = []
        for line in self.metrics_path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return records

    def truncate_metrics(self, last_step: int) -> None:
        """On resume, forget what was logged after the checkpoint we continue from."""
        kept = [r for r in self.read_metrics() if r.get("step", 0) <= last_step]
        atomic_write_text(self.metrics_path, "".join(json.dumps(r) + "\n" for r in kept))


class MetricsLog:
    """Appends JSON lines and flushes each one, so a watcher sees it at once."""

    def __init__(self, path: Path):
        self._handle = path.open("a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        self._handle.write(json.dumps(record) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()
