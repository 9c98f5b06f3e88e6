"""The Explore tab's left column and the point it shows.

The class picker, the seed, the truncation slider, the model's sampling options, the
latent-dimension and direction sliders, and bookmarks. The point is the seed's z plus
offsets along the directions, scaled by the truncation ψ (``current_latent``); every
control that moves it asks for a new render.

``PointControls`` is a mixin of ``ExploreTab``: it reads the tab's ``info`` and
``request_*`` calls, and keeps ``z`` and ``offsets`` on the tab.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.core.explore.manifold import z_to_fraction
from studio.ui.tabs.explore_panels import BookmarksBox
from studio.ui.widgets.class_picker import ClassPicker
from studio.ui.widgets.latent_sliders import LatentSliders
from studio.ui.widgets.sample_options import SampleOptionsForm

PSI_TICKS = 100  # truncation slider positions from 0 to 1


class PointControls:
    """Builds the left column and turns its controls into the current latent."""

    info: Any
    z: np.ndarray
    offsets: np.ndarray

    # -- building ----------------------------------------------------------------------
    def _build_controls(self) -> QWidget:
        self.class_picker = ClassPicker()
        self.class_picker.changed.connect(self._on_class)
        self.class_box = QGroupBox("Class")
        QVBoxLayout(self.class_box).addWidget(self.class_picker)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("The seed of z ~ N(0, I) (and of any noise the sampler draws); the same seed gives "
                             "the same image as `latent-studio sample --seed`")
        self.seed.valueChanged.connect(self._on_seed)
        self.random_button = QPushButton("Random")
        self.random_button.setToolTip("A new random seed. The direction sliders keep their values "
                                      "(they move the new z the same way); Reset sets them to 0.")
        self.random_button.clicked.connect(self.random_seed)
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Back to the seed's z, every direction at 0")
        self.reset_button.clicked.connect(self.reset_point)
        seed_row = QHBoxLayout()
        seed_row.addWidget(QLabel("Seed"))
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.random_button)
        seed_row.addWidget(self.reset_button)
        self._build_truncation()
        self.options_form = SampleOptionsForm()
        self.options_form.changed.connect(self._on_options)
        self.options_box = QGroupBox("Sampling options")
        QVBoxLayout(self.options_box).addWidget(self.options_form)
        self.axis_sliders = LatentSliders()
        self.axis_sliders.changed.connect(self._on_axis)
        self.axis_box = QGroupBox("Latent dimensions")
        QVBoxLayout(self.axis_box).addWidget(self.axis_sliders)
        self.pc_sliders = LatentSliders(limit=6.0)
        self.pc_sliders.changed.connect(self._on_pc)
        self.pc_box = QGroupBox("Principal directions (GANSpace)")
        QVBoxLayout(self.pc_box).addWidget(self.pc_sliders)
        self.bookmarks = BookmarksBox(self)
        self.bookmarks.applied.connect(self.apply_bookmark)
        controls = QWidget()
        layout = QVBoxLayout(controls)
        layout.addWidget(self.class_box)
        layout.addLayout(seed_row)
        layout.addWidget(self.truncation_box)
        layout.addWidget(self.options_box)
        layout.addWidget(self.axis_box)
        layout.addWidget(self.pc_box)
        layout.addWidget(self.bookmarks)
        layout.addStretch(1)
        return controls

    def _build_truncation(self) -> None:
        self.psi_slider = QSlider(Qt.Orientation.Horizontal)
        self.psi_slider.setObjectName("truncation")
        self.psi_slider.setRange(0, PSI_TICKS)
        self.psi_slider.setValue(PSI_TICKS)
        self.psi_slider.valueChanged.connect(self._on_psi)
        self.psi_label = QLabel("ψ = 1.00 (off)")
        self.psi_label.setMinimumWidth(90)
        self.truncation_box = QGroupBox("Truncation")
        self.truncation_box.setToolTip(
            "The truncation trick, by scaling: the latent shown is ψ·z, pulled toward the prior's mean (0). "
            "Smaller ψ: more typical, cleaner, less varied images; 1: off. (Not BigGAN's resampling of values "
            "beyond a threshold, which would change the image's identity.)")
        row = QHBoxLayout(self.truncation_box)
        row.addWidget(self.psi_slider, 1)
        row.addWidget(self.psi_label)

    def _fill_controls(self, info: Any) -> None:
        self.class_picker.set_classes(info.class_names if info.conditional else [])
        self.axis_box.setTitle(
            "Latent dimensions" if info.axis_dims == info.latent_dim
            else f"Latent dimensions (first {info.axis_dims} of {info.latent_dim})"
        )
        self.axis_sliders.set_labels([f"z{i}" for i in range(info.axis_dims)])
        if info.direction_kind == "random":
            self.pc_box.setTitle("Random directions in the starting noise")
            self.pc_box.setToolTip("Fixed random orthonormal directions in the latent (the sampler's starting "
                                   "noise). With a deterministic sampler (DDIM, η = 0) moving along one moves "
                                   "the image smoothly; with η > 0 fresh noise is drawn at every step too.")
            tips = [f"random direction {i + 1}" for i in range(info.directions)]
            names = [f"d{i + 1}" for i in range(info.directions)]
        else:
            self.pc_box.setTitle("Principal directions (GANSpace)")
            self.pc_box.setToolTip("PCA of the generator's first hidden layer, mapped back to z: the directions "
                                   "along which the network varies most. Values are steps along a unit direction in z.")
            tips = [f"principal direction {i + 1}: {share:.1%} of the layer's variance"
                    for i, share in enumerate(info.explained)]
            names = [f"PC{i + 1}" for i in range(info.directions)]
        self.pc_sliders.set_labels(names, tips)
        self.offsets = np.zeros(info.directions, dtype=np.float32)
        self.options_form.set_options(info.sample_options)
        self.psi_slider.blockSignals(True)
        self.psi_slider.setValue(PSI_TICKS)
        self.psi_slider.blockSignals(False)
        self._show_psi()

    # -- the current point -------------------------------------------------------------
    def label(self) -> int | None:
        return self.class_picker.value() if self.info is not None and self.info.conditional else None

    def psi(self) -> float:
        """The truncation ψ (1 when the model has no truncation slider)."""
        if self.info is None or not self.info.can_truncate:
            return 1.0
        return self.psi_slider.value() / PSI_TICKS

    def options(self) -> dict[str, float | int]:
        return self.options_form.values() if self.info is not None else {}

    def current_latent(self) -> np.ndarray:
        """The z being shown: the sliders' z moved along the directions, then truncated."""
        if self.info is None:
            return self.z.copy()
        return self.info.latent(self.z, self.offsets) * np.float32(self.psi())

    def random_seed(self) -> None:
        self.seed.setValue(random.randrange(0, 2**31 - 1))

    def _on_seed(self, seed: int) -> None:
        """A new seed: its z; the direction offsets stay (Reset zeroes them)."""
        if self.info is None or self.info.is_upscaler:
            return
        from studio.core.explore.latent import random_latent

        self._note = ""
        self.z = random_latent(self.info.latent_dim, seed)
        self._sync_sliders()
        self.request_render()
        if self.grid_button.isChecked():
            self.request_grid()

    def reset_point(self) -> None:
        """Back to the seed's own z with every direction at 0."""
        if self.info is None:
            return
        self.offsets[:] = 0
        self.pc_sliders.set_values(self.offsets)
        self._on_seed(self.seed.value())

    def set_latent(self, z: np.ndarray) -> None:
        self.z = np.asarray(z, dtype=np.float32).copy()
        self._sync_sliders()
        self.request_render()

    def _sync_sliders(self) -> None:
        self.axis_sliders.set_values(self.z[: len(self.axis_sliders)])
        if self.info is not None and self.info.has_map:
            self.map_view.set_marker(z_to_fraction(self.z[0]), z_to_fraction(self.z[1]))

    def _user_moved(self) -> None:
        """A control changed the point: animations stop and the single image comes back."""
        self.play_button.setChecked(False)
        self.grid_button.setChecked(False)
        self._note = ""

    def _on_axis(self, index: int, value: float) -> None:
        self._user_moved()
        self.z[index] = value
        if self.info is not None and self.info.has_map:
            self.map_view.set_marker(z_to_fraction(self.z[0]), z_to_fraction(self.z[1]))
        self.request_render()

    def _on_pc(self, index: int, value: float) -> None:
        self._user_moved()
        self.offsets[index] = value
        self.request_render()

    def _on_psi(self, _ticks: int) -> None:
        self._note = ""
        self._show_psi()
        self.play_button.setChecked(False)
        self.request_render()
        if self.grid_button.isChecked():
            self.request_grid()

    def _show_psi(self) -> None:
        psi = self.psi_slider.value() / PSI_TICKS
        self.psi_label.setText(f"ψ = {psi:.2f}" + (" (off)" if psi == 1 else ""))

    def _on_options(self) -> None:
        self._note = ""
        self.play_button.setChecked(False)
        self.request_render()
        if self.point_a is not None and self.point_b is not None:
            self.request_strip()
        if self.grid_button.isChecked():
            self.request_grid()

    def _on_class(self, _index: int) -> None:
        self._note = ""
        self.play_button.setChecked(False)
        self.request_render()
        if self.point_a is not None and self.point_b is not None:
            self.request_strip()
        if self.info is not None and self.info.has_map:
            self.request_map()
        if self.grid_button.isChecked():
            self.request_grid()

    # -- bookmarks ---------------------------------------------------------------------
    def bookmark(self, name: str) -> Any:
        """The current point as a Bookmark (directions applied, truncation kept apart)."""
        from studio.core.explore.bookmarks import Bookmark

        point = self.info.latent(self.z, self.offsets)
        return Bookmark(name, self.seed.value(), tuple(float(v) for v in point), self.label(), self.psi(),
                        {k: float(v) for k, v in self.options().items()})

    def apply_bookmark(self, bookmark: Any) -> None:
        if self.info is None:
            return
        self._user_moved()
        self.seed.blockSignals(True)
        self.seed.setValue(bookmark.seed)
        self.seed.blockSignals(False)
        if bookmark.label is not None and self.info.conditional and bookmark.label < len(self.info.class_names):
            self.class_picker.set_value(bookmark.label, notify=False)
        self.options_form.set_values(bookmark.options)
        self.psi_slider.blockSignals(True)
        self.psi_slider.setValue(round(bookmark.psi * PSI_TICKS))
        self.psi_slider.blockSignals(False)
        self._show_psi()
        self.offsets[:] = 0
        self.pc_sliders.set_values(self.offsets)
        if self.info.latent_dim and len(bookmark.z) == self.info.latent_dim:
            self.set_latent(np.asarray(bookmark.z, np.float32))
        else:
            self._on_seed(bookmark.seed)
        self._note = f"bookmark “{bookmark.name}”"
