"""Explore tab: the loaded model seen through controls built from its capabilities.

Every model: seeds (and a grid of many seeds; click one to load it), the class picker,
a form of its declared sampling options, zoom and pan on the big image, latent
bookmarks kept in the run, the nearest training images (a memorisation check), super-
resolution through a trained upscaler, and "Measure" (the checkpoint's metrics beside
the real-data floor). A latent model adds sliders, principal (GANSpace) or fixed random
directions and slerp strips; a GAN-like latent (no encoder) the truncation trick; an
encoder the drawing canvas, the 2-D manifold map and the encoded training digits; a
denoising model the scrubber over its sampler's steps; a pixel-by-pixel model the heat
map of each drawn value's probability and completions of a partly hidden digit; a
mixture ensemble the member that drew the image.

The model lives on the render thread (``RenderController``); this tab only keeps the
current latent as numpy, sends small jobs, and shows what comes back. Each view's
channel keeps only its newest job, so dragging a slider never queues stale frames. The
slow samplers run as cancellable jobs with progress and a Cancel button; a newer request
on the same channel stops the running one within a step. Measuring runs
``evaluate_checkpoint`` as a one-off task (``TaskRunner``), cancellable.
"""

from __future__ import annotations

import html
import random
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from studio.core.explore.images import tile
from studio.core.explore.manifold import fraction_to_z, z_to_fraction
from studio.ui.tabs.explore_panels import (
    BookmarksBox,
    CompletionPanel,
    DenoisePanel,
    NeighboursPanel,
    SuperResPanel,
)
from studio.ui.widgets.canvas import DrawCanvas
from studio.ui.widgets.class_picker import ClassPicker
from studio.ui.widgets.embedding_plot import EmbeddingPlot, class_colour
from studio.ui.widgets.image_view import ImageView
from studio.ui.widgets.latent_sliders import LatentSliders
from studio.ui.widgets.sample_options import SampleOptionsForm

MAP_CELLS = 15
STRIP_FRAMES = 9
PLAY_MS = 90
MEASURE_N = 1000  # samples of a "Measure" (the CLI's `eval` uses 5000: slower, steadier)
PSI_TICKS = 100  # truncation slider positions from 0 to 1
GRID_SIDE = 6  # the seed grid's default: 6 x 6 seeds
STRIP_PLACEHOLDER = "Set A and B to interpolate between them (slerp)."


def _scroll(widget: QWidget, min_width: int) -> QScrollArea:
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setWidget(widget)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setMinimumWidth(min_width)
    return area


def describe(info: Any) -> str:
    """The header line for a loaded model (rich text)."""
    if info.is_upscaler:
        what = "an upscaler: open a generator and pick this run under Super-resolution"
    elif info.latent_dim:
        what = f"latent size {info.latent_dim}"
    else:
        what = "no latent: each seed draws one sample"
    members = f" · {len(info.members)} members" if info.members else ""
    return f"<b>{html.escape(info.family)}</b> · {what}{members} · step {info.step:,} · {html.escape(info.source)}"


class ExploreTab(QWidget):
    errorOccurred = Signal(str)
    currentModelRequested = Signal()
    rendered = Signal(str)  # a channel's result was shown (tests wait for it)
    measured = Signal(object)  # an EvalReport was shown (or None when the measurement failed)
    cancelled = Signal(str)  # a cancellable job of this channel stopped before its end

    def __init__(self, renderer: Any, tasks: Any = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.renderer = renderer
        self.tasks = tasks  # a TaskRunner for "Measure" (None: no measuring)
        self.report: Any = None  # the EvalReport shown in the Quality table
        self._measure_task: Any = None
        self._measure_cancelled = False
        self.info: Any = None  # ExplorerInfo of the loaded model
        self.source: str = ""
        self.z = np.zeros(0, dtype=np.float32)
        self.offsets = np.zeros(0, dtype=np.float32)
        self.point_a: np.ndarray | None = None
        self.point_b: np.ndarray | None = None
        self.strip_frames: np.ndarray | None = None
        self.view: Any = None  # the last views.View of the "image" channel
        self.grid_seeds: list[int] = []
        self.grid_cols = 0
        self.embedded: Any = None  # embedding.Embedding of the training digits, when shown
        self.render_ms: list[float] = []  # per rendered frame, for the status and the benchmark
        self.latest_seq: dict[str, int] = {}
        self.busy: dict[str, int] = {}  # cancellable jobs submitted and not yet ended
        self._loading: str | None = None  # the target of a load in progress
        self._load_error = ""  # why the last load failed, shown under the old model's header
        self._note = ""  # what the shown point is (a bookmark's name), until a control moves it
        self._play_index = 0
        self._play_dir = 1
        renderer.result.connect(self._on_result)
        renderer.error.connect(self._on_error)
        if hasattr(renderer, "progress"):
            renderer.progress.connect(self._on_progress)
            renderer.cancelled.connect(self._on_cancelled)

        source_row = self._build_source_row()
        left = _scroll(self._build_controls(), 340)
        centre = self._build_centre()
        self.right = self._build_right()
        splitter = self.splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(centre)
        splitter.addWidget(self.right)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setStretchFactor(2, 1)
        splitter.setSizes([350, 470, 460])
        layout = QVBoxLayout(self)
        layout.addLayout(source_row)
        layout.addWidget(splitter, 1)
        self._show_model(None)

    # -- building ---------------------------------------------------------------------------
    def _build_source_row(self) -> QHBoxLayout:
        self.source_label = QLabel("No model loaded. Train one, or open a run or a checkpoint.")
        self.source_label.setWordWrap(True)
        self.source_label.setTextFormat(Qt.TextFormat.RichText)
        self.current_button = QPushButton("Current model")
        self.current_button.setToolTip("The model of the run in the Train tab (its latest checkpoint)")
        self.open_run_button = QPushButton("Open run…")
        self.open_ckpt_button = QPushButton("Open checkpoint…")
        self.current_button.clicked.connect(self.currentModelRequested)
        self.open_run_button.clicked.connect(self._open_run_dialog)
        self.open_ckpt_button.clicked.connect(self._open_checkpoint_dialog)
        row = QHBoxLayout()
        row.addWidget(self.source_label, 1)
        for b in (self.current_button, self.open_run_button, self.open_ckpt_button):
            row.addWidget(b)
        return row

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

    def _build_centre(self) -> QWidget:
        self.image_view = ImageView("Load a model to explore it.", min_size=200)
        self.image_view.set_zoomable(True)
        self.image_view.clicked.connect(self._on_image_click)
        self.image_view.setToolTip("Wheel: zoom about the cursor; drag: pan; double-click: the whole image")
        self.heat_view = ImageView("", min_size=120)
        self.heat_view.setToolTip("Probability of each drawn value under the distribution it was drawn from")
        self.heat_caption = QLabel("Probability of each chosen value, log scale: dark 0.001 → yellow 1")
        self.heat_caption.setWordWrap(True)
        self.heat_box = QWidget()
        heat_layout = QVBoxLayout(self.heat_box)
        heat_layout.setContentsMargins(0, 0, 0, 0)
        heat_layout.addWidget(self.heat_view, 1)
        heat_layout.addWidget(self.heat_caption)
        images = QHBoxLayout()
        images.addWidget(self.image_view, 1)
        images.addWidget(self.heat_box, 1)
        self.timing = QLabel()
        self.timing.setMinimumWidth(self.timing.fontMetrics().horizontalAdvance("rendered in 0000.0 ms"))
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.grid_button = QPushButton("Seed grid")
        self.grid_button.setCheckable(True)
        self.grid_button.setToolTip("Many seeds at once, from the current one on; click one to load it")
        self.grid_button.toggled.connect(self._on_grid)
        self.grid_side = QSpinBox()
        self.grid_side.setRange(2, 10)
        self.grid_side.setValue(GRID_SIDE)
        self.grid_side.setPrefix("n = ")
        self.grid_side.setSuffix("²")
        self.grid_side.valueChanged.connect(lambda _v: self.grid_button.isChecked() and self.request_grid())
        self.save_image_button = QPushButton("Save image…")
        self.save_image_button.clicked.connect(lambda: self._save_dialog(self.image_view, "sample.png"))
        row = QHBoxLayout()
        row.addWidget(self.timing)
        row.addWidget(self.caption, 1)
        row.addWidget(self.grid_button)
        row.addWidget(self.grid_side)
        row.addWidget(self.save_image_button)
        centre = QWidget()
        layout = QVBoxLayout(centre)
        layout.addLayout(images, 1)
        layout.addLayout(row)
        layout.addWidget(self._build_progress_row())
        layout.addWidget(self._build_pages())
        return centre

    def _build_progress_row(self) -> QWidget:
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setMaximumWidth(160)
        self.progress_label = QLabel()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the slow sampling in progress (the last finished image stays)")
        self.cancel_button.clicked.connect(self.cancel_jobs)
        self.progress_row = QWidget()
        row = QHBoxLayout(self.progress_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.progress_bar)
        row.addWidget(self.progress_label, 1)
        row.addWidget(self.cancel_button)
        self.progress_row.setVisible(False)
        return self.progress_row

    def _build_pages(self) -> QTabWidget:
        self.pages = QTabWidget()
        self.pages.setFixedHeight(210)
        self.pages.addTab(self._build_interpolation(), "Interpolation")
        self.denoise_panel = DenoisePanel()
        self.pages.addTab(self.denoise_panel, "Denoising")
        self.neighbours = NeighboursPanel(self)
        self.pages.addTab(self.neighbours, "Nearest")
        self.pages.setTabToolTip(2, "The training images nearest to the shown sample (memorisation check)")
        self.superres = SuperResPanel(self)
        self.pages.addTab(self.superres, "Super-resolution")
        return self.pages

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

    def _build_right(self) -> QWidget:
        self._build_map_box()
        self._build_embedding_box()
        self._build_canvas_box()
        self.completion = CompletionPanel(self)
        self._build_quality_box()
        right = self._right_content = QWidget()
        layout = QVBoxLayout(right)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.map_box, 1)
        layout.addWidget(self.embedding_box, 0)
        layout.addWidget(self.canvas_box, 0)
        layout.addWidget(self.completion, 0)
        layout.addWidget(self.quality_box, 0)
        layout.addStretch(0)  # takes the height only when the map is hidden
        return _scroll(right, 300)

    # -- loading ----------------------------------------------------------------------------
    def load(self, path: str | Path) -> None:
        """Open a run directory or a checkpoint file on the render thread."""
        target = str(path)

        def job(_explorer: Any) -> Any:
            from studio.core.explore.explorer import Explorer

            return Explorer.from_checkpoint(target)

        self._loading = target
        still = f"<br>Still showing: {describe(self.info)}" if self.info is not None else ""
        self.source_label.setText(f"Loading {html.escape(target)}…{still}")
        self._submit("load", job)

    def _show_model(self, info: Any) -> None:
        self.info = info
        self._load_error = ""
        has = info is not None
        samples = has and not info.is_upscaler
        self._set_enabled(samples)
        self._set_visible(info)
        self._clear_views()
        if not has:
            return
        self.source_label.setText(describe(info))
        if info.is_upscaler:
            return
        self._fill_controls(info)
        self.bookmarks.set_file(info.bookmarks)
        self._on_seed(self.seed.value())
        if info.has_map:
            self.request_map()

    def _set_enabled(self, on: bool) -> None:
        for w in (self.seed, self.random_button, self.reset_button, self.save_image_button, self.grid_button,
                  self.grid_side, self.set_a_button, self.set_b_button, self.frames, self.play_button,
                  self.measure_button):
            w.setEnabled(on)

    def _set_visible(self, info: Any) -> None:
        has = info is not None and not info.is_upscaler
        latent = has and info.latent_dim > 0
        self.class_box.setVisible(has and info.conditional)
        self.truncation_box.setVisible(has and info.can_truncate)
        self.options_box.setVisible(has and bool(info.sample_options))
        self.pc_box.setVisible(has and info.directions > 0)
        self.axis_box.setVisible(has and info.axis_dims > 0)
        self.bookmarks.setVisible(has)
        self.heat_box.setVisible(has and info.can_complete)
        self.map_box.setVisible(has and info.has_map)
        self.embedding_box.setVisible(has and info.can_encode and not info.has_map)
        self.canvas_box.setVisible(has and info.can_encode)
        self.completion.setVisible(has and info.can_complete)
        self.quality_box.setVisible(has and self.tasks is not None)
        shows = (self.map_box, self.embedding_box, self.canvas_box, self.completion, self.quality_box)
        self.right.setVisible(has and any(not w.isHidden() for w in shows))
        self._fit_right(only_quality=all(w.isHidden() for w in shows[:-1]))
        self.pages.setTabVisible(0, latent)
        self.pages.setTabVisible(1, has and info.can_denoise)
        if has and info.can_denoise:
            self.pages.setCurrentIndex(1)
        elif latent:
            self.pages.setCurrentIndex(0)
        else:
            self.pages.setCurrentIndex(2)

    def _fit_right(self, only_quality: bool) -> None:
        """The right column as wide as its widest box (no clipped canvas); narrow when it only measures."""
        content = self._right_content
        content.layout().activate()
        bar = self.right.verticalScrollBar().sizeHint().width()
        self.right.setMinimumWidth(max(300, content.minimumSizeHint().width() + bar + 4))
        total = sum(self.splitter.sizes()) or 1280
        right = self.right.minimumWidth() if only_quality else max(self.right.minimumWidth(), 460)
        self.splitter.setSizes([350, max(300, total - 350 - right), right])

    def _clear_views(self) -> None:
        """Nothing of the previous model stays on screen: images, strips, captions."""
        self.play_button.setChecked(False)
        self.grid_button.setChecked(False)
        self.view = None
        self.image_view.set_image(None)
        self.image_view.set_placeholder("Rendering…" if self.info is not None else "Load a model to explore it.")
        self.heat_view.set_image(None)
        self.timing.clear()
        self.caption.clear()
        self.point_a = self.point_b = self.strip_frames = None
        self.strip_view.set_image(None)
        self.strip_view.set_placeholder(STRIP_PLACEHOLDER)
        self.save_strip_button.setEnabled(False)
        self.map_view.set_image(None)
        self.map_view.set_points([])
        self.digits_check.setChecked(False)
        self.embedded = None
        self.embedding_plot.set_points(np.zeros((0, 2), np.float32), None)
        self.canvas.clear()
        self.input_view.set_image(None)
        self.recon_view.set_image(None)
        self.encode_label.setText("Draw a digit: its reconstruction, and its place in the latent space.")
        self.denoise_panel.clear()
        self.completion.clear()
        self.neighbours.clear()
        self.superres.clear()
        self._forget_report()

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

    # -- quality: "Measure" ------------------------------------------------------------------------
    def _build_quality_box(self) -> None:
        self.measure_button = QPushButton("Measure")
        self.measure_button.setToolTip(
            "Score samples of this checkpoint with the dataset's evaluator (a small classifier trained once per "
            "dataset and cached: the first time takes up to a minute) beside held-out real images: FID and KID "
            "in evaluator features, precision/recall, class coverage, and for VAEs the ELBO. Click again to cancel."
        )
        self.measure_button.clicked.connect(self._on_measure_button)
        self.measure_n = QSpinBox()
        self.measure_n.setRange(100, 50_000)
        self.measure_n.setSingleStep(500)
        self.measure_n.setValue(MEASURE_N)
        self.measure_n.setSuffix(" samples")
        self.measure_n.setToolTip("Samples of the model to score (more: slower, steadier figures)")
        self.measure_progress = QProgressBar()
        self.measure_progress.setRange(0, 1000)
        self.measure_progress.setTextVisible(True)
        self.measure_progress.setVisible(False)
        self.measure_label = QLabel("Measure the model's sample quality against the real data.")
        self.measure_label.setWordWrap(True)
        self.measure_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.measure_table = QTableWidget(0, 3)
        self.measure_table.verticalHeader().setVisible(False)
        self.measure_table.verticalHeader().setDefaultSectionSize(20)
        self.measure_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.measure_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.measure_table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.measure_table.setVisible(False)
        row = QHBoxLayout()
        row.addWidget(self.measure_button)
        row.addWidget(self.measure_n, 1)
        self.quality_box = QGroupBox("Quality (evaluator metrics)")
        layout = QVBoxLayout(self.quality_box)
        layout.addLayout(row)
        layout.addWidget(self.measure_progress)
        layout.addWidget(self.measure_label)
        layout.addWidget(self.measure_table)

    @property
    def measuring(self) -> bool:
        return self._measure_task is not None

    def _on_measure_button(self) -> None:
        if self.measuring:
            self.cancel_measure()
        else:
            self.measure()

    def measure(self, n: int | None = None) -> bool:
        """Evaluate the loaded checkpoint off the GUI thread; the table shows the report."""
        if self.info is None or self.info.is_upscaler or self.tasks is None or self.measuring:
            return False
        target, n = self.info.source, int(n or self.measure_n.value())

        def job(progress: Any, cancelled: Any) -> Any:
            from studio.core.metrics.report import evaluate_checkpoint

            return evaluate_checkpoint(target, n=n, progress=progress, should_stop=cancelled)

        self._forget_report()
        self._measure_cancelled = False
        self.measure_button.setText("Cancel")
        self.measure_progress.setRange(0, 0)  # busy until the evaluator reports progress (if it trains)
        self.measure_progress.setFormat("")
        self.measure_progress.setVisible(True)
        self.measure_label.setText(f"Measuring {n:,} samples…")
        source = target
        self._measure_task = self.tasks.run(
            job,
            on_result=lambda report: self._on_measured(report, source),
            on_error=lambda message: self._on_measure_failed(message, source),
            on_progress=self._on_measure_progress,
            name="measure",
        )
        if self._measure_task is None:  # the window is closing
            self._measure_done()
            return False
        return True

    def cancel_measure(self) -> None:
        if self._measure_task is not None:
            self._measure_cancelled = True
            self._measure_task.cancel_event.set()
            self.measure_label.setText("Cancelling…")

    def _on_measure_progress(self, fraction: Any, message: Any) -> None:
        self.measure_progress.setRange(0, 1000)
        self.measure_progress.setValue(int(1000 * float(fraction)))
        self.measure_progress.setFormat(f"evaluator {float(fraction):.0%}")
        self.measure_label.setText(f"Preparing the evaluator (once per dataset): {message}")

    def _measure_done(self) -> None:
        self._measure_task = None
        self.measure_button.setText("Measure")
        self.measure_progress.setVisible(False)

    def _on_measured(self, report: Any, source: str) -> None:
        self._measure_done()
        if self._measure_cancelled:
            self.measure_label.setText("Measuring was cancelled.")
            self.measured.emit(None)
        elif self.info is not None and self.info.source == source:  # (not another model loaded meanwhile)
            self.show_report(report)
            self.measured.emit(report)
        else:
            self.measured.emit(None)

    def _on_measure_failed(self, message: str, source: str) -> None:
        self._measure_done()
        if self._measure_cancelled:
            self.measure_label.setText("Measuring was cancelled.")
        else:
            self.measure_label.setText(f"Measuring failed: {message}")
            self.errorOccurred.emit(message)
        self.measured.emit(None)

    def _forget_report(self) -> None:
        self.report = None
        self.measure_table.setRowCount(0)
        self.measure_table.setVisible(False)
        if not self.measuring:
            self.measure_label.setText("Measure the model's sample quality against the real data.")

    def show_report(self, report: Any) -> None:
        """The report as a compact table: one metric a row, the model beside the real floor."""
        from studio.core.metrics.report import METRICS

        self.report = report
        cols = [(f"model\nn={report.model.n:,}", report.model)]
        if report.model_matched is not None:
            cols.append((f"model\nn={report.model_matched.n:,}", report.model_matched))
        if report.floor is not None:
            cols.append((f"real\nn={report.floor.n:,}", report.floor))
        conditional = report.conditional
        keys = [k for k in METRICS if k in report.model.values and (k != "cond_acc" or conditional)]
        table = self.measure_table
        table.clear()
        table.setColumnCount(1 + len(cols))
        table.setHorizontalHeaderLabels(["metric", *[c[0] for c in cols]])
        table.setRowCount(len(keys))
        for row, key in enumerate(keys):
            info = METRICS[key]
            arrow = {"lower": " ↓", "higher": " ↑", "0.5": " →0.5"}.get(info.better, "")
            name = QTableWidgetItem(info.label + arrow)
            name.setToolTip(f"{info.label}: {'closer to 0.5' if info.better == '0.5' else info.better} is better")
            table.setItem(row, 0, name)
            for col, (_title, scores) in enumerate(cols, start=1):
                value = None if scores is None else scores.values.get(key)
                cell = QTableWidgetItem("–" if value is None else info.fmt(value, scores.values))
                cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                table.setItem(row, col, cell)
        head = table.horizontalHeader()
        head.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, table.columnCount()):
            head.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        height = head.sizeHint().height() + 20 * len(keys) + 2 * table.frameWidth()
        table.setFixedHeight(min(height, 300))
        table.setVisible(True)
        acc = report.evaluator.get("accuracy") if report.evaluator else None
        lines = [f"Step {report.step:,} of {report.family} on {report.dataset}."]
        if acc is not None:
            lines.append(f"Evaluator: a small CNN trained on {report.dataset} ({acc:.0%} held-out accuracy), not Inception.")
        if report.floor is not None:
            lines.append("real: held-out real images scored the same way, the best a model can do at that n.")
        lines += report.notes
        self.measure_label.setText("\n".join(lines))

    # -- the current point ---------------------------------------------------------------------
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

    def shown_image(self) -> np.ndarray | None:
        """The single image last rendered (not a grid, not an animation frame)."""
        return None if self.view is None else self.view.image

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

    # -- bookmarks ---------------------------------------------------------------------------------
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

    # -- requests ---------------------------------------------------------------------------------
    def submit(self, channel: str, job: Any, cancellable: bool = False) -> int:
        """Queue a job for the render thread; a cancellable one shows progress and Cancel."""
        seq = self.renderer.submit(channel, job, cancellable) if cancellable else self.renderer.submit(channel, job)
        self.latest_seq[channel] = seq
        if cancellable and seq >= 0:
            self.busy[channel] = seq
            self._show_busy()
        else:
            self.busy.pop(channel, None)
        return seq

    _submit = submit

    def cancel_jobs(self) -> None:
        """Cancel: every slow job in progress stops within a step."""
        for channel, seq in list(self.busy.items()):
            self.renderer.cancel(channel, seq)

    def request_render(self) -> None:
        info = self.info
        if info is None or info.is_upscaler:
            return
        from studio.core.explore.views import render_view

        z, label, seed, options = self.current_latent(), self.label(), self.seed.value(), self.options()
        if info.can_cancel:
            self.submit("image", lambda ex, ctx: render_view(ex, z, label, seed, options, ctx.should_stop,
                                                             ctx.progress), cancellable=True)
        else:
            self.submit("image", lambda ex: render_view(ex, z, label, seed, options))

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

    # -- results (main thread) ----------------------------------------------------------------
    def _on_result(self, result: Any) -> None:
        self._end_busy(result.channel, result.seq)
        if result.seq != self.latest_seq.get(result.channel):
            return  # superseded while it rendered
        if result.channel == "load":
            self._loading = None
            self._show_model(result.value)
        else:
            self._show_result(result)
        self.rendered.emit(result.channel)

    def _show_result(self, result: Any) -> None:
        channel, value = result.channel, result.value
        if channel == "image":
            self._show_view(value, result.ms)
        elif channel == "strip":
            self.strip_frames = value
            self.strip_view.set_image(np.concatenate(list(value), axis=1))
            self.save_strip_button.setEnabled(True)
        elif channel == "grid":
            self._show_grid(*value)
        elif channel == "map":
            self.map_view.set_image(value)
        elif channel == "encode":
            self._show_encoded(*value)
        elif channel == "embed":
            self._show_embedding(value)
        else:
            self._panel_for(channel).on_result(channel, value)

    def _panel_for(self, channel: str) -> Any:
        for panel in (self.completion, self.neighbours, self.superres):
            if channel in panel.channels:
                return panel
        raise KeyError(f"no view shows the {channel!r} channel")

    def _show_view(self, view: Any, ms: float) -> None:
        self.view = view
        self.render_ms.append(ms)
        self.timing.setText(f"rendered in {ms:.1f} ms" if ms < 1000 else f"drawn in {ms / 1000:.1f} s")
        member = "" if view.member is None else f"drawn by member {view.member + 1}: {self.info.members[view.member]}"
        self.caption.setText(" · ".join(t for t in (member, self._note) if t))
        if not self.play_timer.isActive() and not self.grid_button.isChecked():
            self.image_view.set_image(view.image)
        if view.probs is not None:
            from studio.core.explore.images import heat
            from studio.core.explore.views import heat_values

            self.heat_view.set_image(heat(heat_values(view.probs)))
        if view.path is not None:
            self.denoise_panel.set_path(view.path)
        self.neighbours.on_image()
        self.superres.request()

    def _show_grid(self, images: np.ndarray, _members: list[Any]) -> None:
        if self.grid_button.isChecked():
            self.image_view.set_image(tile(images, self.grid_cols))
            self.caption.setText(f"Seeds {self.grid_seeds[0]}–{self.grid_seeds[-1]}: click one to load it.")

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

    def _on_error(self, channel: str, message: str) -> None:
        self._end_busy(channel, self.busy.get(channel, -1))
        if channel == "load":
            self._load_failed(message)
        self.errorOccurred.emit(message)

    def _load_failed(self, message: str) -> None:
        """Say what failed, and keep describing the model that is still loaded."""
        target, self._loading = self._loading or "", None
        self._load_error = f"Could not open {target}: {message}"
        failed = f"<span style='color:#b00020'>{html.escape(self._load_error)}</span>"
        if self.info is None:
            self.source_label.setText(f"No model loaded. {failed}")
        else:
            self.source_label.setText(f"{describe(self.info)}<br>{failed} (still exploring the model above)")

    # -- progress of cancellable jobs --------------------------------------------------------------
    def _on_progress(self, p: Any) -> None:
        if p.seq != self.latest_seq.get(p.channel) or p.channel not in self.busy:
            return
        self.progress_bar.setValue(int(1000 * p.fraction))
        self.progress_label.setText(p.message)
        if p.preview is None:
            return
        if p.channel == "image":
            self._show_preview(p.preview)
        elif p.channel == "complete":
            self.completion.on_preview(p.channel, p.preview)

    def _show_preview(self, preview: Any) -> None:
        """A sample being drawn: the denoiser's current x̂_0, or the rows so far with their heat map."""
        if self.play_timer.isActive() or self.grid_button.isChecked():
            return
        if isinstance(preview, tuple):
            from studio.core.explore.images import heat
            from studio.core.explore.views import heat_values

            image, probs = preview
            self.heat_view.set_image(heat(heat_values(probs)))
        else:
            image = preview
        self.image_view.set_image(image)

    def _on_cancelled(self, channel: str, seq: int) -> None:
        was_latest = self.latest_seq.get(channel) == seq and self.busy.get(channel) == seq
        self._end_busy(channel, seq)
        if not was_latest:
            return  # superseded by a newer request, which is on its way
        if channel == "image" and self.view is not None and not self.grid_button.isChecked():
            self.image_view.set_image(self.view.image)  # the last finished image, not a half-drawn one
        self.timing.setText("cancelled")
        self.cancelled.emit(channel)

    def _end_busy(self, channel: str, seq: int) -> None:
        if self.busy.get(channel) == seq:
            del self.busy[channel]
        self._show_busy()

    def _show_busy(self) -> None:
        self.progress_row.setVisible(bool(self.busy))
        if not self.busy:
            self.progress_bar.setValue(0)
            self.progress_label.clear()

    # -- the seed grid ----------------------------------------------------------------------------
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

    # -- playback ---------------------------------------------------------------------------------
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

    # -- files ----------------------------------------------------------------------------------------
    def _open_run_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a run folder", "runs")
        if folder:
            self.load(folder)

    def _open_checkpoint_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a checkpoint", "runs", "Checkpoints and ensembles (*.safetensors *.toml);;All files (*)")
        if path:
            self.load(path)

    def save_view(self, view: ImageView, path: str | Path) -> Path:
        from studio.core.explore.export import save_png
        from studio.ui.tabs.train import export_scale

        image = view.image()
        if image is None:
            raise ValueError("nothing to save yet")
        return save_png(image, path, export_scale(image))

    def _save_dialog(self, view: ImageView, default: str) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save as PNG", default, "PNG image (*.png)")
        if path:
            try:
                self.save_view(view, path)
            except (OSError, ValueError) as exc:
                self.errorOccurred.emit(f"{path}: {exc}")
