"""Train tab: run controls, progress with ETA, loss curves, the live sample grid with a
timeline through the run's past grids, exports (train_export.py), and the metrics panel (right).

Controls: Train (a new run), Continue (shown when the opened run can resume), Pause,
Resume, Step (one step while paused), Stop, Save checkpoint, and the learning rate,
which can be changed mid-run. Event handlers only store data; ``refresh()``, driven by
the window's ~20 Hz view timer, redraws from the latest state, so a fast run never
floods the event loop.

A start that fails before its Started event leaves the previous run on screen: the
window calls ``show_starting`` (only the status and the progress bar change) and
``begin`` once the new run has started, or ``restore_after_failed_start``.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.ui.eta import EtaEstimate
from studio.ui.tabs.train_export import GridExports
from studio.ui.timeline import GridTimeline
from studio.ui.widgets.image_view import ImageView
from studio.ui.widgets.loss_plot import LossPlot
from studio.ui.widgets.metrics_panel import MetricsPanel
from studio.ui.widgets.progress import ProgressBar

# Held-out figures drawn beside the training loss of the same units (a PixelCNN's "nll" is
# bits/dim; a VAE's bound is in bits/dim held out but nats per image in training: not drawn).
HELDOUT_CURVES = {"nll_bpd": "held-out nll"}


def with_heldout(labels: dict[str, str]) -> dict[str, str]:
    """The family's loss labels, and the held-out curve's beside the loss it mirrors."""
    if "nll" in labels:
        return {**labels, "held-out nll": "the same on held-out images, a few times a run (bits/dim)"}
    return labels
NOTICE_S = 3.0  # a one-off notice (checkpoint saved) stays this long before the ETA returns


def parse_lr(text: str) -> float | None:
    """A learning rate typed by hand (1e-4, 0.0002); None unless a number in (0, 1]."""
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if 0 < value <= 1 and math.isfinite(value) else None


def format_eta(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "–"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class TrainTab(GridExports, QWidget):
    startRequested = Signal()
    continueRequested = Signal()
    pauseRequested = Signal()
    resumeRequested = Signal()
    stepRequested = Signal()
    stopRequested = Signal()
    checkpointRequested = Signal()
    lrRequested = Signal(float)
    compareRequested = Signal()
    errorOccurred = Signal(str)
    messageShown = Signal(str)  # a confirmation for the status bar ("Saved …")

    def __init__(self, tasks: Any, parent: QWidget | None = None):
        super().__init__(parent)
        self.tasks = tasks
        self.timeline = GridTimeline()
        self.total_steps = 0
        self._x_extent: int | None = None  # the plots' x axes span 0.._x_extent
        self.batch_size = 1
        self.step = 0
        self.images_per_sec = 0.0
        self.eta = EtaEstimate()  # the rate over a window: one slow chunk does not make it jump
        self.run_dir: Path | None = None
        self.grid_updates = 0  # how many grids arrived (tests and the benchmark read it)
        self._follow_latest = True
        self._progress_dirty = False
        self._before_start: tuple[int, str, str] | None = None  # what a start that fails restores

        self.start_button = QPushButton("▶ Train")
        self.start_button.setObjectName("start")
        self.start_button.setToolTip("Start a new run with the Model tab's settings on the Dataset tab's data")
        self.continue_button = QPushButton("▶▶ Continue")
        self.continue_button.setObjectName("continue")
        self.continue_button.setVisible(False)
        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.step_button = QPushButton("Step")
        self.step_button.setToolTip("While paused: train exactly one step and stay paused")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current step; a checkpoint is saved")
        self.save_button = QPushButton("Save checkpoint")
        self.save_button.setToolTip("Save a checkpoint now (also while paused)")
        self.lr_edit = QLineEdit()
        self.lr_edit.setObjectName("lr")
        self.lr_edit.setFixedWidth(70)
        self.lr_edit.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # keys typed after Train do not land here
        self.lr_edit.setToolTip("The learning rate; while a run trains, Set applies a new one from the next step "
                                "(every optimiser keeps its ratio to it) and the run's metrics.jsonl records it")
        self.lr_button = QPushButton("Set")
        self.lr_button.setToolTip(self.lr_edit.toolTip())
        self.lr_button.setFixedWidth(self.lr_button.fontMetrics().horizontalAdvance("Set") + 24)
        self.start_button.clicked.connect(self.startRequested)
        self.continue_button.clicked.connect(self.continueRequested)
        self.pause_button.clicked.connect(self.pauseRequested)
        self.resume_button.clicked.connect(self.resumeRequested)
        self.step_button.clicked.connect(self.stepRequested)
        self.stop_button.clicked.connect(self.stopRequested)
        self.save_button.clicked.connect(self._on_save)
        self.lr_button.clicked.connect(self._on_set_lr)
        self.lr_edit.returnPressed.connect(self._on_set_lr)
        self.lr_edit.textChanged.connect(lambda _t: self._update_lr_button())
        self.progress = ProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.progress.setTextVisible(True)
        self.status = QLabel("Ready: click Train to start.")
        # A fixed size, two lines high: new text never re-lays out the tab. (With only the
        # width fixed, a status that wrapped to a second line, "Starting: …" and then the
        # ETA, resized the plots below twice a run, and each resize repainted every plot
        # and its axes at once: the longest stall of the event loop while training.)
        self.status.setFixedWidth(280)
        self.status.setWordWrap(True)
        self.status.setFixedHeight(2 * self.status.fontMetrics().lineSpacing() + 4)
        self._notice_until = 0.0
        controls = QHBoxLayout()
        for b in (self.start_button, self.continue_button, self.pause_button, self.resume_button, self.step_button,
                  self.stop_button, self.save_button):
            controls.addWidget(b)
        controls.addSpacing(6)
        controls.addWidget(QLabel("lr"))
        controls.addWidget(self.lr_edit)
        controls.addWidget(self.lr_button)
        controls.addWidget(self.progress, 1)
        controls.addWidget(self.status)

        self.loss_plot = LossPlot()
        self.loss_plot.unsmoothed.update(HELDOUT_CURVES.values())
        self.grid_view = ImageView("The sample grid appears here after the first samples.", min_size=220)
        self.timeline_slider = QSlider(Qt.Orientation.Horizontal)
        self.timeline_slider.setRange(0, 0)
        self.timeline_slider.setToolTip("Scrub through this run's past sample grids")
        self.timeline_slider.valueChanged.connect(self._on_scrub)
        self.timeline_label = QLabel("no grids yet")
        self.export_png_button = QPushButton("Export PNG…")
        self.export_gif_button = QPushButton("Export GIF…")
        self.export_png_button.clicked.connect(self._export_png_dialog)
        self.export_gif_button.clicked.connect(self._export_gif_dialog)
        scrub = QHBoxLayout()
        scrub.addWidget(QLabel("Timeline"))
        scrub.addWidget(self.timeline_slider, 1)
        scrub.addWidget(self.timeline_label)
        exports = QHBoxLayout()
        exports.addStretch(1)
        exports.addWidget(self.export_png_button)
        exports.addWidget(self.export_gif_button)
        grid_box = QGroupBox("Samples from fixed noise")
        grid_layout = QVBoxLayout(grid_box)
        grid_layout.addWidget(self.grid_view, 1)
        grid_layout.addLayout(scrub)
        grid_layout.addLayout(exports)

        self.metrics_panel = MetricsPanel()
        self.metrics_panel.setMinimumWidth(260)
        splitter = QSplitter()
        splitter.addWidget(self.loss_plot)
        splitter.addWidget(grid_box)
        splitter.addWidget(self.metrics_panel)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 4)
        splitter.setStretchFactor(2, 3)
        splitter.setSizes([440, 420, 360])
        self.run_label = QLabel()
        self.run_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.compare_button = QPushButton("Compare runs…")
        self.compare_button.setToolTip("The runs under the runs folder: their settings, final figures and curves side by side")
        self.compare_button.clicked.connect(self.compareRequested)
        bottom = QHBoxLayout()
        bottom.addWidget(self.run_label, 1)
        bottom.addWidget(self.compare_button)

        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(splitter, 1)
        layout.addLayout(bottom)
        self.set_state("idle")
        self._update_export_buttons()

    # -- state ------------------------------------------------------------------------------
    def set_state(self, state: str, can_start: bool = True) -> None:
        """Enable the buttons for "idle", "running", "paused", "stopping" or "watching"."""
        self.state = state
        self.start_button.setEnabled(state in ("idle", "watching") and can_start)
        self.continue_button.setEnabled(state in ("idle", "watching") and can_start)
        self.pause_button.setEnabled(state == "running")
        self.resume_button.setEnabled(state == "paused")
        self.step_button.setEnabled(state == "paused")
        self.stop_button.setEnabled(state in ("running", "paused"))
        self.save_button.setEnabled(state in ("running", "paused"))
        self._update_lr_button()
        if state == "paused":
            self.eta.reset()  # paused time is not slow training
            self.status.setText(f"Paused at step {self.step:,}: Step trains one step")
        elif state == "stopping":
            self.status.setText("Stopping: saving a checkpoint…")

    def set_continuable(self, text: str | None) -> None:
        """Show Continue (``text`` says from where) when the opened run can resume; None hides it."""
        self.continue_button.setVisible(text is not None)
        if text is not None:
            self.continue_button.setToolTip(text)

    def set_lr(self, lr: float) -> None:
        """The learning rate the field shows (the form's, or the run's after a change)."""
        self.lr_edit.setText(f"{lr:g}")

    def _update_lr_button(self) -> None:
        active = getattr(self, "state", "idle") in ("running", "paused")
        self.lr_button.setEnabled(active and parse_lr(self.lr_edit.text()) is not None)

    def _on_set_lr(self) -> None:
        lr = parse_lr(self.lr_edit.text())
        if lr is None or not self.lr_button.isEnabled():
            return
        self.lrRequested.emit(lr)
        self._notice(f"Learning rate {lr:g} from the next step…")

    def _on_save(self) -> None:
        self._notice("Saving a checkpoint…")
        self.checkpointRequested.emit()

    def _notice(self, text: str) -> None:
        """A one-off message in the status label; the rate and ETA wait NOTICE_S."""
        self.status.setText(text)
        self._notice_until = time.monotonic() + NOTICE_S

    def show_starting(self, text: str) -> None:
        """A run is starting: only the status says so; the previous run stays on screen
        until the new one has started (``begin``), or comes back if it does not."""
        self._before_start = (self.progress.value(), self.progress.format(), self.metrics_panel.status_label.text())
        self.status.setText(text)

    def on_preparing(self, status: Any) -> None:
        """The live metrics' evaluator being prepared before the start: the progress bar and
        the status lines show it; the previous run's curves and metrics stay."""
        if status.state == "preparing":
            pct = "" if status.fraction is None else f" {status.fraction:.0%}"
            self.progress.setFormat(f"Preparing the evaluator…{pct}")
            self.progress.setValue(int(1000 * (status.fraction or 0.0)))
            self.metrics_panel.status_label.setText(f"Preparing the evaluator…{pct}\n{status.message}")
            self.status.setText("Preparing the live metrics (Stop cancels)")

    def restore_after_failed_start(self, text: str) -> None:
        """The run never started: the previous run's progress and metrics text again, and
        ``text`` as the status."""
        if self._before_start is not None:
            value, fmt, metrics_text = self._before_start
            self.progress.setValue(value)
            self.progress.setFormat(fmt)
            self.metrics_panel.status_label.setText(metrics_text)
        self._before_start = None
        self.status.setText(text)

    def begin(self, total_steps: int, batch_size: int, row_labels: list[str], title: str,
              loss_labels: dict[str, str] | None = None) -> None:
        """Clear everything for a new (or newly opened) run; ``loss_labels``: the family's
        meaning of each logged loss, shown under the curves."""
        self._before_start = None
        self.total_steps = total_steps
        self.batch_size = max(1, batch_size)
        self.step = 0
        self.images_per_sec = 0.0
        self.eta.reset()
        self.grid_updates = 0
        self._follow_latest = True
        self.loss_plot.clear(keep=loss_labels or {})
        self.loss_plot.set_labels(with_heldout(loss_labels or {}))
        self.metrics_panel.clear()
        self._x_extent = None
        self._set_x_extent(total_steps)
        self.timeline.clear()
        self.timeline_slider.setRange(0, 0)
        self.timeline_label.setText("no grids yet")
        self.grid_view.set_image(None)
        self.grid_view.set_row_labels(row_labels)
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.run_label.setText(title)
        self._update_export_buttons()

    # -- events (main thread, cheap) ----------------------------------------------------------
    def on_started(self, event: Any) -> None:
        self.run_dir = Path(event.run_dir)
        self.total_steps = event.total_steps
        self.step = event.start_step
        resumed = f", resumed at step {event.start_step:,}" if event.start_step else ""
        self.run_label.setText(f"Run: {event.run_dir} · device: {event.device}{resumed}")
        self._set_x_extent(event.total_steps)
        self.eta.reset()
        self._progress_dirty = True

    def _set_x_extent(self, total_steps: int) -> None:
        """Every plot's x axis to 0..total_steps; only when it changes (each change
        re-lays out and repaints every axis, the costliest paint at a run's start)."""
        if total_steps == self._x_extent:
            return
        self._x_extent = total_steps
        self.loss_plot.set_x_extent(total_steps)
        self.metrics_panel.set_x_extent(total_steps)

    def on_steps(self, chunk: Any) -> None:
        self.loss_plot.append(chunk.steps, chunk.losses)
        self.step = chunk.step
        self.eta.add(time.monotonic(), chunk.step)
        rate = self.eta.steps_per_second()
        self.images_per_sec = rate * self.batch_size if rate is not None else chunk.images_per_sec
        self._progress_dirty = True

    def on_samples(self, event: Any) -> None:
        self.add_grid(event.step, event.grid, event.path)

    def add_grid(self, step: int, grid: np.ndarray | None, path: Path | None) -> None:
        self.timeline.add(step, grid, path)
        self.grid_updates += 1
        last = len(self.timeline) - 1
        self.timeline_slider.blockSignals(True)
        self.timeline_slider.setRange(0, last)
        if self._follow_latest:
            self.timeline_slider.setValue(last)
        self.timeline_slider.blockSignals(False)
        if self._follow_latest:
            self._show_frame(last)
        else:
            self._update_timeline_label()
        self._update_export_buttons()

    def on_metrics(self, event: Any) -> None:
        self.metrics_panel.on_metrics(event)
        held = {HELDOUT_CURVES[k]: np.array([v]) for k, v in event.values.items() if k in HELDOUT_CURVES}
        if held:  # beside the training loss it is measured against, in the same units
            self.loss_plot.append(np.array([event.step]), held)

    def on_monitor(self, status: Any) -> None:
        """The live metrics' MonitorStatus: the evaluator's preparation shows in the progress bar."""
        self.metrics_panel.on_status(status)
        if status.state == "preparing":
            pct = "" if status.fraction is None else f" {status.fraction:.0%}"
            self.progress.setFormat(f"Preparing the evaluator…{pct}")
            self.progress.setValue(int(1000 * (status.fraction or 0.0)))
            self.status.setText("Preparing the live metrics (Stop cancels)")
        elif status.state == "cancelled":
            self.progress.setFormat("")
            self.progress.setValue(0)
            self.status.setText("Stopped while preparing the evaluator")
        elif status.state == "failed":
            self.status.setText("Live metrics are off: see the Metrics panel")

    def on_checkpoint(self, event: Any) -> None:
        self._notice(f"Checkpoint saved at step {event.step:,}")

    def on_learning_rate(self, event: Any) -> None:
        self.set_lr(event.lr)
        self._notice(f"Learning rate {event.previous:g} → {event.lr:g} at step {event.step:,}")

    def on_finished(self, event: Any) -> None:
        self.step = event.step
        self._progress_dirty = True
        self.refresh()
        verb = "Stopped" if event.stopped else "Finished"
        self.status.setText(f"{verb} at step {event.step:,}; checkpoint saved")

    def on_failed(self, message: str) -> None:
        self._progress_dirty = True
        self.refresh()  # the step reached, not a preparation's text
        self.status.setText("Failed: see the message")

    def refresh(self) -> None:
        """Redraw what changed since the last call, from the latest data (the window's view
        timer calls this a few times a second: studio.ui.main_window.VIEW_FPS)."""
        self.loss_plot.refresh()
        self.metrics_panel.refresh()
        if not self._progress_dirty:
            return
        self._progress_dirty = False
        now = time.monotonic()
        total = max(1, self.total_steps)
        value = int(1000 * min(self.step, total) / total)
        text = f"step {self.step:,} / {self.total_steps:,}"
        if value != self.progress.value() or text != self.progress.format():
            self.progress.setFormat(text)
            self.progress.setValue(value)
        if self.state == "running" and self.images_per_sec > 0 and now >= self._notice_until:
            eta = (self.total_steps - self.step) * self.batch_size / self.images_per_sec
            self.status.setText(f"{self.images_per_sec:,.0f} images/s · ETA {format_eta(eta)}")

    # -- timeline -----------------------------------------------------------------------------
    def _on_scrub(self, index: int) -> None:
        self._follow_latest = index >= len(self.timeline) - 1
        self._show_frame(index)

    def _show_frame(self, index: int) -> None:
        if not 0 <= index < len(self.timeline):
            return
        self.grid_view.set_image(self.timeline.grid(index))
        self._update_timeline_label()

    def _update_timeline_label(self) -> None:
        i, n = self.timeline_slider.value(), len(self.timeline)
        if n:
            live = " (latest)" if i == n - 1 else ""
            self.timeline_label.setText(f"step {self.timeline.step(i):,}{live} · {i + 1}/{n}")

    def _update_export_buttons(self) -> None:
        self.export_png_button.setEnabled(len(self.timeline) > 0)
        self.export_gif_button.setEnabled(len(self.timeline) > 1)
