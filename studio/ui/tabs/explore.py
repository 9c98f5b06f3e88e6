"""Explore tab: latent sliders, GANSpace directions, class picker, seeds, slerp strips,
the 2-D manifold map and a drawing canvas for VAEs, all rendered live; and "Measure":
the loaded checkpoint's metrics beside the real-data floor.

The model lives on the render thread (``RenderController``); this tab only keeps the
current latent as numpy, sends small jobs, and shows what comes back. Each view's
channel keeps only its newest job, so dragging a slider never queues stale frames.
Measuring runs ``evaluate_checkpoint`` as a one-off task (``TaskRunner``), cancellable.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
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
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.explore.latent import interpolate
from studio.core.explore.manifold import fraction_to_z, z_to_fraction
from studio.ui.widgets.canvas import DrawCanvas
from studio.ui.widgets.class_picker import ClassPicker
from studio.ui.widgets.image_view import ImageView
from studio.ui.widgets.latent_sliders import LatentSliders

MAP_CELLS = 15
STRIP_FRAMES = 9
PLAY_MS = 90
MEASURE_N = 1000  # samples of a "Measure" (the CLI's `eval` uses 5000: slower, steadier)


class ExploreTab(QWidget):
    errorOccurred = Signal(str)
    currentModelRequested = Signal()
    rendered = Signal(str)  # a channel's result was shown (tests wait for it)
    measured = Signal(object)  # an EvalReport was shown (or None when the measurement failed)

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
        self.render_ms: list[float] = []  # per rendered frame, for the status and the benchmark
        self.latest_seq: dict[str, int] = {}
        self._play_index = 0
        self._play_dir = 1
        renderer.result.connect(self._on_result)
        renderer.error.connect(self._on_error)

        # -- source row
        self.source_label = QLabel("No model loaded. Train one, or open a run or a checkpoint.")
        self.source_label.setWordWrap(True)
        self.current_button = QPushButton("Current model")
        self.current_button.setToolTip("The model of the run in the Train tab (its latest checkpoint)")
        self.open_run_button = QPushButton("Open run…")
        self.open_ckpt_button = QPushButton("Open checkpoint…")
        self.current_button.clicked.connect(self.currentModelRequested)
        self.open_run_button.clicked.connect(self._open_run_dialog)
        self.open_ckpt_button.clicked.connect(self._open_checkpoint_dialog)
        source_row = QHBoxLayout()
        source_row.addWidget(self.source_label, 1)
        for b in (self.current_button, self.open_run_button, self.open_ckpt_button):
            source_row.addWidget(b)

        # -- left: controls
        self.class_picker = ClassPicker()
        self.class_picker.changed.connect(self._on_class)
        self.class_box = QGroupBox("Class")
        QVBoxLayout(self.class_box).addWidget(self.class_picker)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("The seed of z ~ N(0, I); the same seed gives the same z as `latent-studio sample --seed`")
        self.seed.valueChanged.connect(self._on_seed)
        self.random_button = QPushButton("Random")
        self.random_button.clicked.connect(self.random_seed)
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Back to the seed's z, every direction at 0")
        self.reset_button.clicked.connect(lambda: self._on_seed(self.seed.value()))
        seed_row = QHBoxLayout()
        seed_row.addWidget(QLabel("Seed"))
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.random_button)
        seed_row.addWidget(self.reset_button)
        self.axis_sliders = LatentSliders()
        self.axis_sliders.changed.connect(self._on_axis)
        self.axis_box = QGroupBox("Latent dimensions")
        QVBoxLayout(self.axis_box).addWidget(self.axis_sliders)
        self.pc_sliders = LatentSliders(limit=6.0)
        self.pc_sliders.changed.connect(self._on_pc)
        self.pc_box = QGroupBox("Principal directions (GANSpace)")
        self.pc_box.setToolTip(
            "PCA of the generator's first hidden layer, mapped back to z: the directions along which "
            "the network varies most. Values are steps along a unit direction in z."
        )
        QVBoxLayout(self.pc_box).addWidget(self.pc_sliders)
        controls = QWidget()
        controls_layout = QVBoxLayout(controls)
        controls_layout.addWidget(self.class_box)
        controls_layout.addLayout(seed_row)
        controls_layout.addWidget(self.axis_box)
        controls_layout.addWidget(self.pc_box)
        controls_layout.addStretch(1)
        left = QScrollArea()
        left.setWidgetResizable(True)
        left.setWidget(controls)
        left.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        left.setMinimumWidth(340)

        # -- centre: the image
        self.image_view = ImageView("Load a model to explore it.", min_size=240)
        self.save_image_button = QPushButton("Save image…")
        self.save_image_button.clicked.connect(lambda: self._save_dialog(self.image_view, "sample.png"))
        self.timing = QLabel()

        # -- interpolation (below the image), map and canvas (right, VAEs only)
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
        self.frames.setToolTip("Frames in the strip (rendered with the class picked now)")
        self.frames.valueChanged.connect(lambda _v: self.request_strip())
        self.play_button = QPushButton("▶ Play")
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self._on_play)
        self.strip_view = ImageView("Set A and B to interpolate between them (slerp).", min_size=40)
        self.strip_view.setFixedHeight(96)
        self.save_strip_button = QPushButton("Save strip…")
        self.save_strip_button.clicked.connect(lambda: self._save_dialog(self.strip_view, "interpolation.png"))
        interp_box = QGroupBox("Interpolation (slerp)")
        interp = QGridLayout(interp_box)
        interp.addWidget(self.set_a_button, 0, 0)
        interp.addWidget(self.set_b_button, 0, 1)
        interp.addWidget(self.frames, 0, 2)
        interp.addWidget(self.play_button, 0, 3)
        interp.addWidget(self.strip_view, 1, 0, 1, 4)
        interp.addWidget(self.save_strip_button, 2, 3)
        self.play_timer = QTimer(self)
        self.play_timer.setInterval(PLAY_MS)
        self.play_timer.timeout.connect(self._play_step)
        centre = QWidget()
        centre_layout = QVBoxLayout(centre)
        centre_layout.addWidget(self.image_view, 1)
        row = QHBoxLayout()
        row.addWidget(self.timing, 1)
        row.addWidget(self.save_image_button)
        centre_layout.addLayout(row)
        centre_layout.addWidget(interp_box)

        self.map_view = ImageView("", min_size=200)
        self.map_view.set_clickable(True)
        self.map_view.clicked.connect(self.pick_map_point)
        self.map_view.dragged.connect(self.pick_map_point)
        self.save_map_button = QPushButton("Save map…")
        self.save_map_button.clicked.connect(lambda: self._save_dialog(self.map_view, "latent-map.png"))
        self.map_box = QGroupBox("Latent map: click to decode a point")
        map_layout = QVBoxLayout(self.map_box)
        map_layout.addWidget(self.map_view, 1)
        map_layout.addWidget(self.save_map_button, 0, Qt.AlignmentFlag.AlignRight)

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
        self.encode_label = QLabel("Draw a digit: its reconstruction, and its place in the latent space.")
        self.encode_label.setWordWrap(True)
        self.canvas_box = QGroupBox("Draw")
        canvas_layout = QGridLayout(self.canvas_box)
        canvas_layout.addWidget(self.canvas, 0, 0, 3, 1)
        canvas_layout.addWidget(QLabel("Model input"), 0, 1)
        canvas_layout.addWidget(QLabel("Reconstruction"), 0, 2)
        canvas_layout.addWidget(self.input_view, 1, 1)
        canvas_layout.addWidget(self.recon_view, 1, 2)
        canvas_layout.addWidget(self.encode_label, 2, 1, 1, 2)
        canvas_layout.addWidget(self.clear_button, 3, 0)
        canvas_layout.setColumnStretch(3, 1)

        self._build_quality_box()

        self.right = QWidget()
        right_layout = QVBoxLayout(self.right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.map_box, 1)
        right_layout.addWidget(self.canvas_box, 0)
        right_layout.addWidget(self.quality_box, 0)
        right_layout.addStretch(0)  # takes the height only when the map is hidden

        splitter = QSplitter()
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

    # -- loading ----------------------------------------------------------------------------
    def load(self, path: str | Path) -> None:
        """Open a run directory or a checkpoint file on the render thread."""
        target = str(path)

        def job(_explorer: Any) -> Any:
            from studio.core.explore.explorer import Explorer

            return Explorer.from_checkpoint(target)

        self.source_label.setText(f"Loading {target}…")
        self._submit("load", job)

    def _show_model(self, info: Any) -> None:
        self.info = info
        has = info is not None
        for w in (self.seed, self.random_button, self.reset_button, self.save_image_button,
                  self.set_a_button, self.set_b_button, self.frames, self.play_button):
            w.setEnabled(has)
        self.class_box.setVisible(has and info.conditional)
        self.pc_box.setVisible(has and info.directions > 0)
        self.axis_box.setVisible(has)
        self.map_box.setVisible(has and info.has_map)
        self.canvas_box.setVisible(has and info.can_encode)
        self.quality_box.setVisible(has and self.tasks is not None)
        self.right.setVisible(has and (info.has_map or info.can_encode or self.tasks is not None))
        self._forget_report()
        self.save_strip_button.setEnabled(False)
        self.strip_view.set_placeholder("Set A and B to interpolate between them (slerp).")
        if not has:
            return
        self.class_picker.set_classes(info.class_names if info.conditional else [])
        self.axis_box.setTitle(
            "Latent dimensions" if info.axis_dims == info.latent_dim
            else f"Latent dimensions (first {info.axis_dims} of {info.latent_dim})"
        )
        self.axis_sliders.set_labels([f"z{i}" for i in range(info.axis_dims)])
        self.pc_sliders.set_labels(
            [f"PC{i + 1}" for i in range(info.directions)],
            [f"principal direction {i + 1}: {share:.1%} of the layer's variance" for i, share in enumerate(info.explained)],
        )
        self.offsets = np.zeros(info.directions, dtype=np.float32)
        self.point_a = self.point_b = self.strip_frames = None
        self.strip_view.set_image(None)
        self.play_button.setChecked(False)
        self.source_label.setText(
            f"<b>{info.family}</b> · latent size {info.latent_dim} · step {info.step:,} · {info.source}"
        )
        self._on_seed(self.seed.value())
        if info.has_map:
            self.request_map()

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
        if self.info is None or self.tasks is None or self.measuring:
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

    def current_latent(self) -> np.ndarray:
        """The z being shown: the sliders' z moved along the principal directions."""
        if self.info is None:
            return self.z.copy()
        return self.info.latent(self.z, self.offsets)

    def random_seed(self) -> None:
        self.seed.setValue(random.randrange(0, 2**31 - 1))

    def _on_seed(self, seed: int) -> None:
        if self.info is None:
            return
        from studio.core.explore.latent import random_latent

        self.z = random_latent(self.info.latent_dim, seed)
        self.offsets[:] = 0
        self.pc_sliders.set_values(self.offsets)
        self._sync_sliders()
        self.request_render()

    def set_latent(self, z: np.ndarray) -> None:
        self.z = np.asarray(z, dtype=np.float32).copy()
        self._sync_sliders()
        self.request_render()

    def _sync_sliders(self) -> None:
        self.axis_sliders.set_values(self.z[: len(self.axis_sliders)])
        if self.info is not None and self.info.has_map:
            self.map_view.set_marker(z_to_fraction(self.z[0]), z_to_fraction(self.z[1]))

    def _on_axis(self, index: int, value: float) -> None:
        self.play_button.setChecked(False)
        self.z[index] = value
        if self.info is not None and self.info.has_map:
            self.map_view.set_marker(z_to_fraction(self.z[0]), z_to_fraction(self.z[1]))
        self.request_render()

    def _on_pc(self, index: int, value: float) -> None:
        self.play_button.setChecked(False)
        self.offsets[index] = value
        self.request_render()

    def _on_class(self, _index: int) -> None:
        self.play_button.setChecked(False)
        self.request_render()
        if self.point_a is not None and self.point_b is not None:
            self.request_strip()
        if self.info is not None and self.info.has_map:
            self.request_map()

    def pick_map_point(self, fx: float, fy: float) -> None:
        if self.info is None or not self.info.has_map:
            return
        self.play_button.setChecked(False)
        self.z[0], self.z[1] = fraction_to_z(fx), fraction_to_z(fy)
        self._sync_sliders()
        self.request_render()

    # -- requests ---------------------------------------------------------------------------------
    def _submit(self, channel: str, job: Any) -> None:
        self.latest_seq[channel] = self.renderer.submit(channel, job)

    def request_render(self) -> None:
        if self.info is None:
            return
        z, label = self.current_latent(), self.label()
        self._submit("image", lambda ex: ex.render(z, None, label))

    def request_strip(self) -> None:
        if self.info is None or self.point_a is None or self.point_b is None:
            return
        a, b, n, label = self.point_a, self.point_b, self.frames.value(), self.label()
        self._submit("strip", lambda ex: ex.render_batch(interpolate(a, b, n), label))

    def request_map(self) -> None:
        if self.info is None or not self.info.has_map:
            return
        label = self.label()
        self._submit("map", lambda ex: ex.manifold(MAP_CELLS, label))

    def request_encode(self) -> None:
        if self.info is None or not self.info.can_encode:
            return
        drawing, label = self.canvas.array(), self.label()
        self._submit("encode", lambda ex: ex.reconstruct(drawing, label))

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
        if result.seq != self.latest_seq.get(result.channel):
            return  # superseded while it rendered
        if result.channel == "load":
            self._show_model(result.value)
        elif result.channel == "image":
            self.render_ms.append(result.ms)
            self.timing.setText(f"rendered in {result.ms:.1f} ms")
            if not self.play_timer.isActive():
                self.image_view.set_image(result.value)
        elif result.channel == "strip":
            self.strip_frames = result.value
            self.strip_view.set_image(np.concatenate(list(result.value), axis=1))
            self.save_strip_button.setEnabled(True)
        elif result.channel == "map":
            self.map_view.set_image(result.value)
        elif result.channel == "encode":
            shown, recon, mu = result.value
            self.input_view.set_image(shown)
            self.recon_view.set_image(recon)
            values = ", ".join(f"{v:+.2f}" for v in mu[:4]) + (" …" if len(mu) > 4 else "")
            self.encode_label.setText(f"z = ({values}); the sliders and the map now show this point.")
            self.set_latent(mu)
        self.rendered.emit(result.channel)

    def _on_error(self, channel: str, message: str) -> None:
        if channel == "load" and self.info is None:
            self.source_label.setText("No model loaded.")
        self.errorOccurred.emit(message)

    # -- playback ---------------------------------------------------------------------------------
    def _on_play(self, on: bool) -> None:
        self.play_button.setText("■ Stop" if on else "▶ Play")
        if on and self.strip_frames is not None and len(self.strip_frames):
            self._play_index, self._play_dir = 0, 1
            self.play_timer.start()
        else:
            self.play_timer.stop()
            if on:
                self.play_button.setChecked(False)

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
        path, _ = QFileDialog.getOpenFileName(self, "Open a checkpoint", "runs", "Checkpoints (*.safetensors);;All files (*)")
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
