"""The Explore tab's Measure block: the checkpoint's evaluator metrics beside the real floor.

"Measure" runs ``evaluate_checkpoint`` as a one-off, cancellable task (``TaskRunner``)
off the GUI thread; the report fills a compact table, one metric a row.

``MeasureBlock`` is a mixin of ``ExploreTab``: it reads the tab's ``info`` and ``tasks``
and emits the tab's ``measured`` and ``errorOccurred``.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from studio.ui.widgets.progress import ProgressBar

MEASURE_N = 1000  # samples of a "Measure" (the CLI's `eval` uses 5000: slower, steadier)


class MeasureBlock:
    """The Quality box: Measure / Cancel, the sample count, progress and the report table."""

    info: Any
    tasks: Any
    report: Any
    _measure_task: Any
    _measure_cancelled: bool

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
        self.measure_progress = ProgressBar()
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
