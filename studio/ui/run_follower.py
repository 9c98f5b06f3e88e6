"""Follows a run directory that another process may still be writing (no Qt here).

``poll()`` returns the metrics lines and sample files that appeared since the last
call. It reads metrics.jsonl from the byte offset it stopped at and keeps a half-
written last line for the next poll, so it never parses a partial record; a file that
shrank (a resumed run truncates its log) is read again from the start.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class RunFollower:
    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir)
        self.metrics_path = self.path / "metrics.jsonl"
        self.samples_dir = self.path / "samples"
        self._offset = 0
        self._partial = b""
        self._seen: set[str] = set()
        self.reset_count = 0  # how many times the log was found truncated

    def poll(self) -> tuple[list[dict[str, Any]], list[Path]]:
        return self._new_records(), self._new_samples()

    def _new_records(self) -> list[dict[str, Any]]:
        try:
            size = self.metrics_path.stat().st_size
        except OSError:
            return []
        if size < self._offset:
            self._offset, self._partial = 0, b""
            self.reset_count += 1
        if size == self._offset:
            return []
        with self.metrics_path.open("rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read(size - self._offset)
        self._offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()  # b"" when the chunk ended with a newline
        records = []
        for line in lines:
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(record, dict):
                records.append(record)
        return records

    def _new_samples(self) -> list[Path]:
        try:
            paths = sorted(self.samples_dir.glob("step-*.png"))
        except OSError:
            return []
        fresh = [p for p in paths if p.name not in self._seen]
        self._seen.update(p.name for p in fresh)
        return fresh


def sample_step(path: Path) -> int:
    """samples/step-000200.png -> 200 (-1 when the name does not say)."""
    try:
        return int(path.stem.split("-", 1)[1])
    except (IndexError, ValueError):
        return -1
