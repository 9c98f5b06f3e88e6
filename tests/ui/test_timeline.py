"""The Train tab's grid timeline (studio.ui.timeline): recent grids in memory, older ones
read back from the PNGs the run wrote."""

from __future__ import annotations

import numpy as np
from PIL import Image

from studio.ui.timeline import KEEP_IN_MEMORY, GridTimeline


def test_only_the_newest_grids_stay_in_memory_and_older_ones_come_back_from_their_png(tmp_path):
    timeline = GridTimeline()
    n = KEEP_IN_MEMORY + 5
    grids = [np.full((34, 34, 3), i, dtype=np.uint8) for i in range(n)]
    for step, grid in enumerate(grids):
        path = tmp_path / f"step_{step:04d}.png"
        Image.fromarray(grid).save(path)
        timeline.add(step, grid, path)
    held = [frame.grid is not None for frame in timeline.frames]
    assert held == [False] * 5 + [True] * KEEP_IN_MEMORY
    for i in (0, 4, n - 1):  # dropped ones are read back, kept ones are the very arrays
        assert np.array_equal(timeline.grid(i), grids[i])
    assert timeline.grid(n - 1) is grids[n - 1]
    assert len(timeline.all_grids()) == n


def test_a_grid_without_a_file_is_never_dropped(tmp_path):
    timeline = GridTimeline()
    unsaved = np.zeros((10, 10, 3), dtype=np.uint8)
    timeline.add(0, unsaved, None)
    for step in range(1, KEEP_IN_MEMORY + 3):
        path = tmp_path / f"{step}.png"
        Image.fromarray(unsaved).save(path)
        timeline.add(step, unsaved.copy(), path)
    assert timeline.grid(0) is unsaved
