"""The Train tab's right-hand panel: live evaluation metrics of the training model.

- a status line: the evaluator being prepared, why there are no metrics, or what the
  metrics cost ("metrics cost 2.1% of training time");
- a collapse banner (red frame) with the message of ``collapse_warning``, debounced;
- a table of the latest values beside the real-data floor (click a row to plot it);
- the curve of the selected metric over the steps, the floor as a dashed line;
- the generated class histogram (bars; outlined: the data's class shares; red: a class
  that fell under 20% of its data share).

``on_metrics`` receives every ``events.Metrics`` (from the training worker, or read from
an opened run's log) and ``on_status`` the worker's ``MonitorStatus``; both only store.
``refresh()``, called by the Train tab's throttled redraw, updates the plot items in place.

The table and the two plots share a vertical splitter: the table is as tall as its rows
while the plots keep PLOT_PX each, and scrolls beyond that (a full table on a 720-pixel
window would otherwise squash the curve); once the person drags the splitter, their sizes stay.
The metric definitions live in ``studio.core.metrics`` (imported lazily: that loads
torch, and the window shows before torch is imported).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFrame,
    QGraphicsItem,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.live_keys import (
    COVERAGE_FRACTION,
    KL_WARN,
    LIVE_N,
    METRIC_LABELS,
    MONITOR_BUDGET,
    PLOT_KEYS,
)
from studio.ui.widgets.class_bar import ClassBar

MONITOR_N = LIVE_N
SHORT = {k: m.short for k, m in METRIC_LABELS.items()}  # a narrow table; tooltips give the full labels
ORDER = PLOT_KEYS
HIDDEN = ("num_classes", "min_class_share")  # inside "coverage" (9/10); the bar chart shows the rarest class
ROW_HEIGHT = 20
PLOT_PX = 170  # the height each plot keeps before the table stops growing and scrolls
PLOT_MIN_PX = 110  # the least a plot gets (dragging the splitter, or a very short window)
TABLE_MIN_ROWS = 3
BANNER_STYLE = (
    "QFrame#collapse-banner { background: #fdecea; border: 2px solid #d62728; border-radius: 4px; }"
    "QFrame#collapse-banner QLabel { color: #8b1a1a; border: none; }"
)


def _metric_defs() -> dict[str, Any]:
    """The report's metric definitions (labels, formats); imported late: it brings torch."""
    from studio.core.metrics.report import METRICS

    return METRICS


def _thresholds() -> tuple[float, float]:
    """(coverage fraction, KL threshold in nats) of the collapse warning."""
    return COVERAGE_FRACTION, KL_WARN


class MetricsPanel(QGroupBox):
    def __init__(self, parent: QWidget | None = None):
        super().__init__("Metrics", parent)
        self.history: list[Any] = []  # every Metrics event of this run, oldest first
        self.status: Any = None  # the latest MonitorStatus
        self.interval = 0  # steps between checks (0: unknown, taken from the first event)
        self.floor: dict[str, float] = {}
        self.class_names: list[str] = []
        self.data_share: np.ndarray | None = None
        self.warning: str | None = None  # the message the banner shows (None: hidden)
        self.selected = "fid_eval"
        self._warn_streak = 0  # consecutive checks with a warning
        self.caveat = ""  # why this dataset's figures are unreliable ("" when they are not)
        self._series: dict[str, tuple[list[int], list[float]]] = {}
        self._rows: dict[str, int] = {}
        self._dirty = False
        self._curve_shown: tuple[str, int] | None = None  # (metric, points) the curve holds
        self._title: str | None = None

        self.live = QCheckBox("Live metrics")
        self.live.setChecked(True)
        self.live.setToolTip(
            f"Every 'sample every' steps, score {MONITOR_N} samples of the model with the dataset's evaluator "
            "(a small classifier trained once per dataset and cached) and plot the results. Applies to the "
            f"next run; a check is skipped when it would take the metrics over {MONITOR_BUDGET:.0%} of the "
            "training time."
        )
        self.cost_label = QLabel()
        self.cost_label.setToolTip("Time spent computing the live metrics, as a share of the training time so far")
        header = QHBoxLayout()
        header.addWidget(self.live)
        header.addStretch(1)
        header.addWidget(self.cost_label)

        self.status_label = QLabel(
            "Live metrics (FID in evaluator features, class coverage, …) appear here while a model trains on a "
            "labelled dataset."
        )
        self.status_label.setWordWrap(True)
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        # Room for three lines from the start: a status of up to three lines (most of them)
        # does not resize, and so repaint, the plots below when the next replaces it.
        self.status_label.setMinimumHeight(3 * self.status_label.fontMetrics().lineSpacing() + 4)

        self.banner = QFrame()
        self.banner.setObjectName("collapse-banner")
        self.banner.setStyleSheet(BANNER_STYLE)
        self.banner_label = QLabel()
        self.banner_label.setWordWrap(True)
        self.banner_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.banner_label.setTextFormat(Qt.TextFormat.PlainText)
        font = self.banner_label.font()
        font.setBold(True)
        self.banner_label.setFont(font)
        banner_layout = QHBoxLayout(self.banner)
        banner_layout.setContentsMargins(8, 6, 8, 6)
        banner_layout.addWidget(self.banner_label, 1)
        self.banner.setVisible(False)
        self._set_banner_tooltip()

        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["metric", "now", "real"])
        self.table.horizontalHeaderItem(2).setToolTip(
            "The real-data floor: held-out real images scored the same way, at the same sample size"
        )
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        head = self.table.horizontalHeader()
        head.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        head.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setToolTip("The latest check beside the real-data floor; click a row to plot that metric")
        self.table.itemSelectionChanged.connect(self._on_row)

        self.plot = pg.PlotWidget(background="w")
        item = self.plot.getPlotItem()
        item.setLabel("bottom", "step")
        item.showGrid(x=True, y=True, alpha=0.25)
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        for side in ("left", "bottom"):
            item.getAxis(side).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.curve = item.plot(pen=pg.mkPen("#1f77b4", width=2), symbol="o", symbolSize=5,
                               symbolBrush="#1f77b4", symbolPen=None)
        self.floor_line = pg.InfiniteLine(
            angle=0, movable=False, pen=pg.mkPen("#555555", width=1, style=Qt.PenStyle.DashLine),
            label="real data", labelOpts={"position": 0.05, "color": "#555555", "anchors": [(0, 1), (0, 1)]},
        )
        self.floor_line.setVisible(False)
        item.addItem(self.floor_line, ignoreBounds=False)
        self._set_plot_title()

        self.classes = ClassBar(title="Generated classes (dashed: data)", y_label="share of samples")
        self.classes.setToolTip(
            "Which class the evaluator sees in each of the latest check's samples. Dashed outlines: the "
            "classes' shares of the training data. Red: a class under 20% of its data share (missing)."
        )

        self.splitter = plots = _Splitter(Qt.Orientation.Vertical)
        plots.addWidget(self.table)
        plots.addWidget(self.plot)
        plots.addWidget(self.classes)
        plots.setChildrenCollapsible(False)
        for index, stretch in enumerate((0, 1, 1)):
            plots.setStretchFactor(index, stretch)
        self.plot.setMinimumHeight(PLOT_MIN_PX)
        self.classes.setMinimumHeight(PLOT_MIN_PX)
        self._user_sized = False  # the person dragged the splitter: keep their sizes
        plots.splitterMoved.connect(self._on_splitter_moved)
        plots.resized = self._size_splitter
        self._fit_table()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(header)
        layout.addWidget(self.status_label)
        layout.addWidget(self.banner)
        layout.addWidget(plots, 1)

    # -- state --------------------------------------------------------------------------------
    def clear(self) -> None:
        """Forget the run's metrics (a new or newly opened run); keeps the checkbox."""
        self.history.clear()
        self.status = None
        self.interval = 0
        self.floor = {}
        self.class_names = []
        self.data_share = None
        self.warning = None
        self._warn_streak = 0
        self.caveat = ""
        self._series.clear()
        self._rows.clear()
        self.table.setRowCount(0)
        self._fit_table()
        self.banner.setVisible(False)
        self.cost_label.setText("")
        self.status_label.setText(
            "Live metrics (FID in evaluator features, class coverage, …) appear here while a model trains on a "
            "labelled dataset."
        )
        if self._curve_shown and self._curve_shown[1]:
            self._curve_shown = None  # a new run's series of the same length is other data
        self._dirty = True  # the curve and the bars empty with the next refresh, unless a reference comes first

    def set_x_extent(self, total_steps: int) -> None:
        item = self.plot.getPlotItem()
        if total_steps > 0:
            item.enableAutoRange(x=False)
            item.setXRange(0, total_steps, padding=0.02)
        else:
            item.enableAutoRange(x=True)

    def set_interval(self, every: int) -> None:
        """Steps between checks: the debounce of the collapse warning counts in them."""
        self.interval = max(0, int(every))
        self._set_banner_tooltip()

    def set_reference(self, class_names: list[str] | None, data_share: np.ndarray | None) -> None:
        """The dataset's class names and class shares (the bar chart's outlines)."""
        if class_names:
            self.class_names = list(class_names)
        if data_share is not None and len(data_share) and float(np.sum(data_share)) > 0:
            share = np.asarray(data_share, dtype=np.float64)
            self.data_share = share / share.sum()
        self._dirty = True

    # -- inputs (main thread, cheap) --------------------------------------------------------------
    def on_status(self, status: Any) -> None:
        """A MonitorStatus from the training worker."""
        self.status = status
        state = status.state
        if state == "preparing":
            pct = "" if status.fraction is None else f" {status.fraction:.0%}"
            self.status_label.setText(f"Preparing the evaluator…{pct}\n{status.message}")
        elif state == "ready":
            self.floor = dict(status.floor)
            self.set_interval(status.every)
            self.set_reference(list(status.class_names), status.data_share)
            self.caveat = status.message  # figures of a tiny dataset: said once, kept visible
            self.status_label.setText(
                f"Every {status.every:,} steps, {status.n:,} samples scored by the dataset's evaluator."
                + (f"\n⚠ {self.caveat}" if self.caveat else "")
            )
            self.cost_label.setText("")
        elif state == "running":
            self.cost_label.setText(f"metrics cost {status.cost:.1%} of training time")
            skipped = (f"; {status.skipped} check{'s' if status.skipped != 1 else ''} skipped to stay under "
                       f"{status.budget:.0%}") if status.skipped and status.budget else ""
            self.status_label.setText(
                f"Every {status.every:,} steps, {status.n:,} samples: {status.calls} check"
                f"{'s' if status.calls != 1 else ''}, {status.seconds / max(status.calls, 1):.2f} s each{skipped}."
                + (f"\n⚠ {self.caveat}" if self.caveat else "")
            )
            self.cost_label.setToolTip(
                f"{status.seconds:.1f} s of {status.wall:.1f} s of training went into the live metrics "
                f"(budget {status.budget:.0%})" if status.budget else "no budget: every check runs"
            )
        else:  # "off", "failed", "cancelled"
            self.status_label.setText(status.message)
            self.cost_label.setText("")

    def on_metrics(self, event: Any) -> None:
        from studio.core.metrics.monitor import collapse_warning

        self.history.append(event)
        for key, value in event.values.items():
            steps, values = self._series.setdefault(key, ([], []))
            steps.append(int(event.step))
            values.append(float(value))
        message = collapse_warning(event, self.class_names or None, floor=self.floor)
        if message is None:
            self._warn_streak = 0
            self.warning = None
        else:
            self._warn_streak += 1
            every = self.interval or (int(self.history[0].step) if self.history else 0)
            # Early GAN samples are blobs the evaluator files under one class: wait for
            # step >= 2 intervals, or for a second warning in a row.
            if event.step >= 2 * every or self._warn_streak >= 2:
                self.warning = message
        self._dirty = True

    # -- drawing ------------------------------------------------------------------------------------
    def refresh(self, force: bool = False) -> None:
        """Push the latest data into the widgets (in place) if anything changed."""
        if not (self._dirty or force):
            return
        self._dirty = False
        self._update_banner()
        self._update_table()
        self._update_curve()
        self._update_classes()

    def select(self, key: str) -> None:
        """Plot ``key``'s curve (and select its row)."""
        self.selected = key
        row = self._rows.get(key)
        if row is not None and self.table.currentRow() != row:
            self.table.blockSignals(True)
            self.table.selectRow(row)
            self.table.blockSignals(False)
        self._set_plot_title()
        self._update_curve()

    def _on_row(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            key = self.table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole)
            if key and key != self.selected:
                self.select(key)

    def _update_banner(self) -> None:
        if self.warning:
            self.banner_label.setText("⚠ " + self.warning)
        self.banner.setVisible(bool(self.warning))

    def _keys(self) -> list[str]:
        present = [k for k in self._series if k not in HIDDEN]
        return [k for k in ORDER if k in present] + [k for k in present if k not in ORDER]

    def _update_table(self) -> None:
        if not self.history:
            return
        latest = self.history[-1].values
        defs = _metric_defs()
        keys = self._keys()
        if list(self._rows) != keys:
            self._rows = {k: i for i, k in enumerate(keys)}
            self.table.setRowCount(len(keys))
            for key, row in self._rows.items():
                info = defs.get(key)
                arrow = {"lower": " ↓", "higher": " ↑"}.get(info.better, "") if info else ""
                name = QTableWidgetItem(SHORT.get(key, key) + arrow)
                name.setData(Qt.ItemDataRole.UserRole, key)
                name.setToolTip(f"{info.label}: {info.better} is better" if info else key)
                self.table.setItem(row, 0, name)
                for col in (1, 2):
                    cell = QTableWidgetItem()
                    cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    self.table.setItem(row, col, cell)
            self._fit_table()
            if self.selected not in self._rows and keys:
                self.selected = keys[0]
            self.select(self.selected)
        for key, row in self._rows.items():
            self.table.item(row, 1).setText(self._format(key, latest.get(key), latest))
            self.table.item(row, 2).setText(self._format(key, self.floor.get(key), self.floor))

    def _fit_table(self) -> None:
        """As tall as its rows (at least one) while the plots keep PLOT_PX each; beyond
        that the table scrolls (and the splitter lets the person choose)."""
        rows = max(1, self.table.rowCount())
        header = self.table.horizontalHeader().sizeHint().height()
        frame = 2 * self.table.frameWidth()
        self._table_full = header + rows * ROW_HEIGHT + frame
        self.table.setMinimumHeight(header + min(rows, TABLE_MIN_ROWS) * ROW_HEIGHT + frame)
        self.table.setMaximumHeight(self._table_full)
        self._size_splitter()

    def _size_splitter(self) -> None:
        total = sum(self.splitter.sizes())
        if self._user_sized or total <= 0:
            return
        least = self.table.minimumHeight()
        table = max(least, min(self._table_full, total - 2 * PLOT_PX))
        if table < self._table_full:  # whole rows, the last one not cut in half
            chrome = self._table_full - max(1, self.table.rowCount()) * ROW_HEIGHT
            table = max(least, chrome + (table - chrome) // ROW_HEIGHT * ROW_HEIGHT)
        rest = max(0, total - table)
        self.splitter.setSizes([table, rest // 2, rest - rest // 2])

    def _on_splitter_moved(self, *_args: Any) -> None:
        self._user_sized = True

    @staticmethod
    def _format(key: str, value: float | None, values: dict[str, float]) -> str:
        if value is None or not np.isfinite(value):
            return "–"
        info = _metric_defs().get(key)
        if key == "coverage" and "num_classes" not in values:
            return f"{value:.0f}"
        return info.fmt(value, values) if info else f"{value:.4g}"

    def _set_plot_title(self) -> None:
        label = SHORT.get(self.selected, self.selected)
        if self.history:  # torch is loaded by now
            info = _metric_defs().get(self.selected)
            label = info.label if info else label
        if label != self._title:  # pyqtgraph re-lays out the plot on every setTitle
            self._title = label
            self.plot.getPlotItem().setTitle(label, size="9pt")

    def _update_curve(self) -> None:
        steps, values = self._series.get(self.selected, ([], []))
        shown = (self.selected, len(steps))  # a series only grows until clear(): its length tells
        if shown != self._curve_shown:
            self._curve_shown = shown
            self.curve.setData(np.asarray(steps, dtype=np.float64), np.asarray(values, dtype=np.float64))
        floor = self.floor.get(self.selected)
        if floor is not None and np.isfinite(floor):
            self.floor_line.setPos(floor)
            self.floor_line.setVisible(True)
        else:
            self.floor_line.setVisible(False)
        self._set_plot_title()

    def _update_classes(self) -> None:
        hist = None
        for event in reversed(self.history):
            if event.class_histogram is not None and len(event.class_histogram):
                hist = np.asarray(event.class_histogram, dtype=np.float64)
                break
        ref = self.data_share
        if hist is None:  # no check yet: the data's shares over empty bars, or nothing
            self.classes.set_values(np.zeros(0 if ref is None else len(ref)), self.class_names or None)
            self.classes.set_reference(ref)
            return
        if ref is not None and len(ref) != len(hist):
            ref = None
        share = ref if ref is not None else np.full(len(hist), 1.0 / len(hist))
        missing = (hist < _thresholds()[0] * share) & (share > 0)
        self.classes.set_values(hist, self.class_names or None, highlight=missing)
        self.classes.set_reference(ref)

    def _set_banner_tooltip(self) -> None:
        every = f"{self.interval:,}" if self.interval else "N"
        after = f"{2 * self.interval:,}" if self.interval else "2N"
        fraction, kl = _thresholds()
        self.banner.setToolTip(
            f"Mode-collapse warning: shown when a class gets under {fraction:.0%} of its share of the data in the "
            f"samples ({fraction / 10:.0%} for ten balanced classes) or the class KL(generated || data) exceeds "
            f"{kl:g} nats.\n"
            f"Early GAN samples are blobs that the evaluator puts in one class, so it waits until step {after} "
            f"(twice the {every}-step interval of the checks) or for two warning checks in a row. "
            "It hides as soon as a check finds every class again."
        )


class _Splitter(QSplitter):
    """A splitter that calls ``resized()`` after it has laid out its new size."""

    resized: Any = None

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        if self.resized is not None:
            self.resized()
