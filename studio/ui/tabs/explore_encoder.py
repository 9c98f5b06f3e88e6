"""The Explore tab's views of a model with an encoder (a VAE).

The 2-D latent map (decoded on a grid of z0, z1; click or drag to decode a point, with
the encoded training digits over it), the projection of the encoded training digits for
a latent of more than two dimensions (click one to decode its mean), and the drawing
canvas (its encoding becomes the current point).

``EncoderViews`` is a mixin of ``ExploreTab``: its boxes sit in the tab's right column and
submit through the render channels "map", "embed" and "encode".
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
)

from studio.core.explore.manifold import fraction_to_z, z_to_fraction
from studio.ui.widgets.canvas import DrawCanvas
from studio.ui.widgets.embedding_plot import EmbeddingPlot, class_colour
from studio.ui.widgets.image_view import ImageView

MAP_CELLS = 15


class EncoderViews:
    """The latent map, the encoded training digits and the drawing canvas."""

    info: Any
    z: np.ndarray
    embedded: Any

    # -- building ----------------------------------------------------------------------
    def _build_map_box(self) -> None:
        self.map_view = ImageView("", min_size=200)
        self.map_view.set_clickable(True)
        self.map_view.clicked.connect(self.pick_map_point)
        self.map_view.dragged.connect(self.pick_map_point)
        self.save_map_button = QPushButton("Save map…")
        self.save_map_button.clicked.connect(lambda: self._save_dialog(self.map_view, "latent-map.png"))
        self.digits_check = QCheckBox("Training digits")
        self.digits_check.setToolTip("Encode a few hundred training images and plot their latent means over the "
                                     "map, coloured by class")
        self.digits_check.toggled.connect(self._on_digits)
        self.map_box = QGroupBox("Latent map: click to decode a point")
        layout = QVBoxLayout(self.map_box)
        layout.addWidget(self.map_view, 1)
        row = QHBoxLayout()
        row.addWidget(self.digits_check)
        row.addStretch(1)
        row.addWidget(self.save_map_button)
        layout.addLayout(row)

    def _build_embedding_box(self) -> None:
        self.embedding_plot = EmbeddingPlot()
        self.embedding_plot.setFixedHeight(230)
        self.embedding_plot.pointClicked.connect(self.pick_embedded)
        self.embed_button = QPushButton("Encode training digits")
        self.embed_button.clicked.connect(self.request_embedding)
        self.embed_label = QLabel("Where the training digits sit in the latent space, coloured by class; "
                                  "click one to decode its mean.")
        self.embed_label.setWordWrap(True)
        self.embedding_box = QGroupBox("Encoded training digits")
        layout = QVBoxLayout(self.embedding_box)
        layout.addWidget(self.embedding_plot, 1)
        layout.addWidget(self.embed_label)
        layout.addWidget(self.embed_button, 0, Qt.AlignmentFlag.AlignRight)

    def _build_canvas_box(self) -> None:
        self.canvas = DrawCanvas()
        self.canvas.drawn.connect(self.request_encode)
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(self.canvas.clear)
        self.input_view = ImageView("model input", min_size=96)
        self.recon_view = ImageView("reconstruction", min_size=96)
        for view in (self.input_view, self.recon_view):
            view.setFixedSize(112, 112)
        self.input_view.setToolTip("The drawing as the model sees it (scaled and centred like MNIST)")
        self.recon_view.setToolTip("The VAE's reconstruction: decode(encode(drawing))")
        self.encode_label = QLabel()
        self.encode_label.setWordWrap(True)
        self.canvas_box = QGroupBox("Draw")
        grid = QGridLayout(self.canvas_box)
        grid.addWidget(self.canvas, 0, 0, 3, 1)
        grid.addWidget(QLabel("Model input"), 0, 1)
        grid.addWidget(QLabel("Reconstruction"), 0, 2)
        grid.addWidget(self.input_view, 1, 1)
        grid.addWidget(self.recon_view, 1, 2)
        grid.addWidget(self.encode_label, 2, 1, 1, 2)
        grid.addWidget(self.clear_button, 3, 0)
        grid.setColumnStretch(3, 1)

    # -- picking a point ---------------------------------------------------------------
    def pick_map_point(self, fx: float, fy: float) -> None:
        if self.info is None or not self.info.has_map:
            return
        self._user_moved()
        self.z[0], self.z[1] = fraction_to_z(fx), fraction_to_z(fy)
        self._sync_sliders()
        self.request_render()

    def pick_embedded(self, index: int) -> None:
        """Decode the latent mean of an encoded training digit (a click on the projection)."""
        if self.embedded is None or not 0 <= index < len(self.embedded.latents):
            return
        self._user_moved()
        label = None if self.embedded.labels is None else int(self.embedded.labels[index])
        if label is not None and self.info.conditional:
            self.class_picker.set_value(label, notify=False)
        self.set_latent(self.embedded.latents[index])

    # -- requests ----------------------------------------------------------------------
    def request_map(self) -> None:
        if self.info is None or not self.info.has_map:
            return
        label = self.label()
        self.submit("map", lambda ex: ex.manifold(MAP_CELLS, label))

    def request_encode(self) -> None:
        if self.info is None or not self.info.can_encode:
            return
        drawing, label = self.canvas.array(), self.label()
        self.submit("encode", lambda ex: ex.reconstruct(drawing, label))

    def request_embedding(self) -> None:
        if self.info is None or not self.info.can_encode:
            return
        from studio.core.explore.views import embedding

        self.embed_label.setText("Encoding training digits…")
        self.submit("embed", embedding)

    def _on_digits(self, on: bool) -> None:
        if on:
            self.request_embedding()
        else:
            self.map_view.set_points([])

    # -- results -----------------------------------------------------------------------
    def _show_encoded(self, shown: np.ndarray, recon: np.ndarray, mu: np.ndarray) -> None:
        self.input_view.set_image(shown)
        self.recon_view.set_image(recon)
        values = ", ".join(f"{v:+.2f}" for v in mu[:4]) + (" …" if len(mu) > 4 else "")
        self.encode_label.setText(f"z = ({values}); the sliders and the map now show this point.")
        self.set_latent(mu)

    def _show_embedding(self, emb: Any) -> None:
        self.embedded = emb
        names = self.info.class_names
        labels = [None] * len(emb.coords) if emb.labels is None else [int(v) for v in emb.labels]
        if self.info.has_map:
            if self.digits_check.isChecked():
                self.map_view.set_points([(z_to_fraction(x), z_to_fraction(y), class_colour(c))
                                          for (x, y), c in zip(emb.coords, labels, strict=True)])
            return
        axes = ("z0", "z1") if emb.method == "latent means" else ("PC1", "PC2")
        self.embedding_plot.set_points(emb.coords, emb.labels, names, axes)
        self.embed_label.setText(f"{len(emb.coords)} training digits: {emb.method}. Click one to decode its mean.")
