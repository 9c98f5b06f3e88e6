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

This module is the tab's shell: its layout, loading a model, the render channels'
requests and results, and progress. The rest of ``ExploreTab`` comes from mixins, one
module each: ``explore_controls`` (the left column and the current point),
``explore_strip`` (the slerp strip, playback, the seed grid), ``explore_encoder`` (the
VAE's map, encoded digits and drawing canvas) and ``explore_measure`` (the Quality box).
The family-specific panels (denoising, completion, nearest, super-resolution,
bookmarks) are widgets of their own in ``explore_panels``.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from studio.ui.tabs.explore_controls import PointControls
from studio.ui.tabs.explore_encoder import EncoderViews
from studio.ui.tabs.explore_measure import MeasureBlock
from studio.ui.tabs.explore_panels import (
    CompletionPanel,
    DenoisePanel,
    NeighboursPanel,
    SuperResPanel,
)
from studio.ui.tabs.explore_strip import GRID_SIDE, STRIP_PLACEHOLDER, StripAndGrid
from studio.ui.widgets.image_view import ImageView
from studio.ui.widgets.progress import ProgressBar


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


class ExploreTab(PointControls, StripAndGrid, EncoderViews, MeasureBlock, QWidget):
    """The tab: its layout, loading a model, and the render channels' requests and results."""

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
        self.progress_bar = ProgressBar()
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
    @property
    def loading(self) -> bool:
        """A model is being loaded on the render thread."""
        return self._loading is not None

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
            self._show_strip(value)
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

    def shown_image(self) -> np.ndarray | None:
        """The single image last rendered (not a grid, not an animation frame)."""
        return None if self.view is None else self.view.image

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
        from studio.ui.tabs.train_export import export_scale

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
