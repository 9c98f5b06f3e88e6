"""The run directory: the durable record of a run that the CLI writes and the GUI watches.

runs/<name>/
    config.toml            the full config
    metrics.jsonl          one JSON object per logged step, flushed as written
    samples/step-NNNNNN.png
    checkpoints/           step files, manifest.json, last.safetensors (studio.core.train.manifest)
    .lock                  while a process trains here: its pid and host (studio.core.train.runlock)
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

from studio.core.fileio import AppendFile, atomic_write_text, writing

# What a run directory holds of ours; --overwrite removes exactly these.
RUN_FILES = ("config.toml", "metrics.jsonl", "error.log")
RUN_FOLDERS = ("samples", "checkpoints")


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    @classmethod
    def create(cls, runs_root: str | Path, name: str) -> RunDir:
        """A fresh directory under runs_root; a numeric suffix keeps names unique."""
        root = Path(runs_root)
        n = 1
        with writing(root):
            while True:
                candidate = root / (name if n == 1 else f"{name}-{n}")
                try:
                    candidate.mkdir(parents=True)
                    return cls(candidate)
                except FileExistsError:  # another run took the name meanwhile
                    n += 1

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

    def holds_run(self) -> bool:
        """Something was trained here (a new run must not mix with it)."""
        return any((self.path / name).exists() for name in (*RUN_FILES, *RUN_FOLDERS))

    def clear(self) -> None:
        """Remove the files of a previous run (--overwrite); anything else stays."""
        with writing(self.path):
            for name in RUN_FILES:
                with contextlib.suppress(FileNotFoundError):
                    (self.path / name).unlink()
            for name in RUN_FOLDERS:
                shutil.rmtree(self.path / name, ignore_errors=True)

    def remove_samples_after(self, step: int) -> None:
        """On resume, the grids of steps that will be trained again."""
        for path in self.sample_paths():
            with contextlib.suppress(ValueError, OSError):
                if int(path.stem.split("-")[1]) > step:
                    path.unlink()

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
    """Appends JSON lines, each in one unbuffered write, so a watcher sees it at once."""

    def __init__(self, path: Path):
        self._file = AppendFile(path)

    def write(self, record: dict[str, Any]) -> None:
        self._file.write((json.dumps(record) + "\n").encode("utf-8"))

    def close(self) -> None:
        self._file.close()
