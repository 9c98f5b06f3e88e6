"""The sample grids of one run, oldest first, for the Train tab's timeline slider.

Recent grids stay in memory; older ones are dropped from memory and read back from
their PNG in the run directory when scrubbed to, so a long run does not fill memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

# Grids held in memory: a 10x8 grid of 28 px digits is ~0.2 MB, of 64 px colour ~1 MB, so
# 64 of them made a long run's window ~10-60 MB bigger; reading an older one back from
# its PNG takes 1-6 ms (a scrub of the slider).
KEEP_IN_MEMORY = 16


@dataclass
class GridFrame:
    step: int
    path: Path | None
    grid: np.ndarray | None


def read_png(path: Path) -> np.ndarray | None:
    try:
        with Image.open(path) as img:
            return np.ascontiguousarray(np.asarray(img.convert("RGB")))
    except (OSError, ValueError):
        return None  # a grid file being written by another process; the next poll retries


class GridTimeline:
    def __init__(self) -> None:
        self.frames: list[GridFrame] = []

    def __len__(self) -> int:
        return len(self.frames)

    def clear(self) -> None:
        self.frames.clear()

    def add(self, step: int, grid: np.ndarray | None, path: Path | None) -> None:
        if self.frames and self.frames[-1].step == step:
            self.frames[-1] = GridFrame(step, path, grid)  # the same step sampled again
        else:
            self.frames.append(GridFrame(step, path, grid))
        held = [f for f in self.frames if f.grid is not None and f.path is not None]
        for frame in held[:-KEEP_IN_MEMORY]:
            frame.grid = None

    def step(self, i: int) -> int:
        return self.frames[i].step

    def grid(self, i: int) -> np.ndarray | None:
        frame = self.frames[i]
        if frame.grid is not None:
            return frame.grid
        return read_png(frame.path) if frame.path is not None else None

    def all_grids(self) -> list[np.ndarray]:
        return [g for g in (self.grid(i) for i in range(len(self))) if g is not None]
