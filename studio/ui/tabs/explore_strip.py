"""The Explore tab's views of many points at once: the slerp strip and the seed grid.

The Interpolation page renders a strip of frames between end points A and B (spherical
interpolation); Play runs them back and forth on the big image. The seed grid draws one
image per seed from the current one on, on the big image; a click on a cell loads its
seed.

``StripAndGrid`` is a mixin of ``ExploreTab``: the grid button and size sit in the tab's
centre row, and both views submit through the tab's render channels "strip" and "grid".
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QGridLayout, QPushButton, QSpinBox, QWidget

from studio.core.explore.images import tile
from studio.ui.widgets.image_view import ImageView

STRIP_FRAMES = 9
PLAY_MS = 90
GRID_SIDE = 6  # the seed grid's default: 6 x 6 seeds
STRIP_PLACEHOLDER = "Set A and B to interpolate between them (slerp)."


class StripAndGrid:
    """The interpolation strip with its playback, and the seed grid."""

    info: Any
    point_a: np.ndarray | None
    point_b: np.ndarray | None
    strip_frames: np.ndarray | None
    grid_seeds: list[int]
    grid_cols: int

    # -- the interpolation strip -------------------------------------------------------
    def _build_interpolation(self) -> QWidget:
        self.set_a_button = QPushButton("Set A")
        self.set_b_button = QPushButton("Set B")
        self.set_a_button.setToolTip("Use the current point as the start of the interpolation")
        self.set_b_button.setToolTip("Use the current point as the end of the interpolation")
        self.set_a_button.clicked.connect(lambda: self.set_endpoint("a"))
        self.set_b_button.clicked.connect(lambda: self.set_endpoint("b"))
        self.frames = QSpinBox()
        self.frames.setRange(3, 24)
        self.frames.setValue(STRIP_FRAMES)
        self.frames.setSuffix(" frames")
        self.frames.setToolTip("Frames in the strip (rendered with the class and options picked now)")
        self.frames.valueChanged.connect(lambda _v: self.request_strip())
        self.play_button = QPushButton("▶ Play")
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self._on_play)
        self.strip_view = ImageView(STRIP_PLACEHOLDER, min_size=40)
        self.strip_view.setFixedHeight(96)
        self.save_strip_button = QPushButton("Save strip…")
        self.save_strip_button.clicked.connect(lambda: self._save_dialog(self.strip_view, "interpolation.png"))
        self.play_timer = QTimer(self)
        self.play_timer.setInterval(PLAY_MS)
        self.play_timer.timeout.connect(self._play_step)
        page = QWidget()
        grid = QGridLayout(page)
        grid.addWidget(self.set_a_button, 0, 0)
        grid.addWidget(self.set_b_button, 0, 1)
        grid.addWidget(self.frames, 0, 2)
        grid.addWidget(self.play_button, 0, 3)
        grid.addWidget(self.strip_view, 1, 0, 1, 4)
        grid.addWidget(self.save_strip_button, 2, 3)
        return page

    def set_endpoint(self, which: str) -> None:
        """Use the current point (directions applied) as end A or B of the slerp strip."""
        if self.info is None:
            return
        point = self.current_latent()
        if which == "a":
            self.point_a = point
        else:
            self.point_b = point
        if self.point_a is None or self.point_b is None:
            self.strip_view.set_placeholder(f"{which.upper()} is set: now move elsewhere and set the other end.")
        self.request_strip()

    def request_strip(self) -> None:
        if self.info is None or self.point_a is None or self.point_b is None:
            return
        from studio.core.explore.views import strip

        a, b, n, label = self.point_a, self.point_b, self.frames.value(), self.label()
        seed, options = self.seed.value(), self.options()
        if self.info.can_cancel:
            self.submit("strip", lambda ex, ctx: strip(ex, a, b, n, label, seed, options, ctx.should_stop,
                                                       ctx.progress), cancellable=True)
        else:
            self.submit("strip", lambda ex: strip(ex, a, b, n, label, seed, options))

    def _show_strip(self, frames: np.ndarray) -> None:
        self.strip_frames = frames
        self.strip_view.set_image(np.concatenate(list(frames), axis=1))
        self.save_strip_button.setEnabled(True)

    # -- playback ----------------------------------------------------------------------
    def _on_play(self, on: bool) -> None:
        self.play_button.setText("■ Stop" if on else "▶ Play")
        if on and self.strip_frames is not None and len(self.strip_frames):
            self.grid_button.setChecked(False)
            self._play_index, self._play_dir = 0, 1
            self.play_timer.start()
            return
        was_playing = self.play_timer.isActive()
        self.play_timer.stop()
        if on:
            self.play_button.setChecked(False)
        elif was_playing:
            self.request_render()  # the big image shows the sliders' point again, not the last frame

    def _play_step(self) -> None:
        frames = self.strip_frames
        if frames is None or not len(frames):
            self.play_button.setChecked(False)
            return
        self.image_view.set_image(frames[self._play_index])
        nxt = self._play_index + self._play_dir
        if not 0 <= nxt < len(frames):  # ping-pong
            self._play_dir = -self._play_dir
            nxt = self._play_index + self._play_dir
        self._play_index = max(0, min(len(frames) - 1, nxt))

    # -- the seed grid -----------------------------------------------------------------
    def request_grid(self) -> None:
        """One image per seed from the current one on; a click on a cell loads its seed."""
        if self.info is None or self.info.is_upscaler:
            return
        from studio.core.explore.latent import random_latent
        from studio.core.explore.views import seed_grid

        side = self.grid_side.value()
        seeds = [(self.seed.value() + i) % (2**31 - 1) for i in range(side * side)]
        psi, info = np.float32(self.psi()), self.info
        latents = [info.latent(random_latent(info.latent_dim, s), self.offsets) * psi for s in seeds]
        label, options = self.label(), self.options()
        self.grid_seeds, self.grid_cols = seeds, side
        self.submit("grid", lambda ex, ctx: seed_grid(ex, latents, seeds, label, options, ctx.should_stop,
                                                      ctx.progress), cancellable=True)

    def _show_grid(self, images: np.ndarray, _members: list[Any]) -> None:
        if self.grid_button.isChecked():
            self.image_view.set_image(tile(images, self.grid_cols))
            self.caption.setText(f"Seeds {self.grid_seeds[0]}–{self.grid_seeds[-1]}: click one to load it.")

    def _on_grid(self, on: bool) -> None:
        self.image_view.set_clickable(on)
        if on:
            self.play_button.setChecked(False)
            self.image_view.set_image(None)
            self.image_view.set_placeholder("Drawing the seed grid…")
            self.request_grid()
            return
        if "grid" in self.busy:
            self.renderer.cancel("grid", self.busy["grid"])
        self.caption.clear()
        self.image_view.set_image(self.shown_image())

    def _on_image_click(self, fx: float, fy: float) -> None:
        if not self.grid_button.isChecked() or not self.grid_seeds:
            return
        cols = self.grid_cols
        rows = -(-len(self.grid_seeds) // cols)
        col = min(cols - 1, int(fx * cols))
        row = min(rows - 1, int((1 - fy) * rows))
        index = row * cols + col
        if index < len(self.grid_seeds):
            self.pick_grid_seed(index)

    def pick_grid_seed(self, index: int) -> None:
        """Load the seed of grid cell ``index`` into the single view."""
        seed = self.grid_seeds[index]
        self.grid_button.setChecked(False)
        if self.seed.value() == seed:
            self._on_seed(seed)
        else:
            self.seed.setValue(seed)
