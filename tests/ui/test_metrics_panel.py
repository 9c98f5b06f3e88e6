"""Live metrics in the window: the monitor in a real GUI training (curves, class bar, cost),
the collapse banner on a really collapsed sample set, Stop while the evaluator trains,
runs without a monitor, and the explorer's Measure table.

The session's evaluator is a cheap one cached under the real recipe's key (conftest).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import Qt
from ui_helpers import tiny

from studio.core.train.events import MonitorStatus
from studio.core.train.live_metrics import BudgetedMonitor
from studio.core.train.rundir import RunDir


def wait_idle(qtbot, window, timeout=60_000):
    qtbot.waitUntil(lambda: not window.training.active, timeout=timeout)


def record_statuses(window) -> list[MonitorStatus]:
    statuses: list[MonitorStatus] = []
    window.training.monitor.connect(statuses.append)
    return statuses


def row_names(table) -> list[str]:
    return [table.item(r, 0).text() for r in range(table.rowCount())]


def test_live_metrics_curves_class_bar_and_cost_during_a_gui_training(qtbot, window):
    tab, panel = window.train_tab, window.train_tab.metrics_panel
    window.training.monitor_budget = None  # steps of a tiny model take ms: a 10% budget would skip most checks
    window.training.monitor_n = 100
    statuses = record_statuses(window)
    tiny(window)  # conditional GAN (MLP), 20 steps, samples (and metrics) every 5
    curve = panel.curve
    qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    assert window.errors == []
    assert [s.state for s in statuses[:1]] == ["preparing"] and "ready" in [s.state for s in statuses]
    assert statuses[-1].state == "running" and statuses[-1].calls == 4

    assert [e.step for e in panel.history] == [5, 10, 15, 20]
    assert panel.curve is curve  # updated in place
    x, y = panel.curve.getData()
    assert list(x) == [5, 10, 15, 20] and np.isfinite(y).all()  # FID in evaluator features
    assert panel.selected == "fid_eval" and panel.plot.getPlotItem().titleLabel.text == "FID (evaluator features)"
    assert panel.floor_line.isVisible() and panel.floor_line.value() == pytest.approx(panel.floor["fid_eval"])
    names = row_names(panel.table)
    assert names[:5] == ["FID (eval. features) ↓", "Precision ↑", "Recall ↑", "Class coverage ↑", "Class KL (nats) ↓"]
    assert "Cond. accuracy ↑" in names
    coverage = names.index("Class coverage ↑")
    assert re.fullmatch(r"\d+/10", panel.table.item(coverage, 1).text())
    assert panel.table.item(coverage, 2).text() == "10/10"  # the real floor
    # A click on a row plots that metric.
    panel.table.selectRow(coverage)
    assert panel.selected == "coverage" and set(panel.curve.getData()[1]) <= set(range(11))

    hist = panel.history[-1].class_histogram
    np.testing.assert_allclose(panel.classes.values, hist)
    assert panel.classes.values.shape == (10,) and panel.classes.values.sum() == pytest.approx(1)
    np.testing.assert_allclose(panel.classes.reference.sum(), 1)  # the data's class shares, outlined
    assert panel.classes.names == [str(i) for i in range(10)]
    assert re.fullmatch(r"metrics cost \d+\.\d% of training time", panel.cost_label.text())
    logged = [r for r in RunDir(window.current_run).read_metrics() if r.get("kind") == "metrics"]
    assert [r["step"] for r in logged] == [5, 10, 15, 20]


class Replay:
    """Real held-out digits served as a model's samples: of every class, or of one
    (a deliberately collapsed 'model'), scored by the real LiveMonitor and evaluator."""

    conditional = False
    num_classes = None

    def __init__(self, images: torch.Tensor):
        self.images = images
        self.image_shape = tuple(images.shape[1:])

    def sample(self, n, labels=None, generator=None, **_options):
        idx = torch.randint(len(self.images), (n,), generator=generator)
        return self.images[idx].float() / 255


def test_collapse_banner_debounces_shows_and_hides_when_coverage_recovers(qtbot, tiny_config):
    from studio.core.metrics.evaluate import eval_splits
    from studio.core.metrics.monitor import collapse_warning, prepare_monitor
    from studio.ui.widgets.metrics_panel import MetricsPanel

    config = tiny_config("gan")
    monitor = prepare_monitor(config, n=200)
    _, held = eval_splits(config.data)
    sevens, everything = Replay(held.images[held.labels == 7]), Replay(held.images)
    panel = MetricsPanel()
    qtbot.addWidget(panel)
    panel.resize(360, 700)
    panel.show()
    panel.on_status(MonitorStatus("ready", every=1000, n=200, floor=monitor.floor,
                                  class_names=tuple(monitor.class_names),
                                  data_share=monitor.reference.data_hist.numpy()))

    def check(model, step):
        event = monitor(model, step)
        panel.on_metrics(event)
        panel.refresh()
        return event

    first = check(sevens, 200)
    assert collapse_warning(first) is not None
    assert not panel.banner.isVisible()  # one early warning: GAN blobs look like this, wait
    check(sevens, 400)  # the second warning in a row shows
    assert panel.banner.isVisible()
    text = panel.banner_label.text()
    assert text.startswith("⚠ Mode collapse: coverage") and "most common: '7'" in text
    assert "twice the 1,000-step interval" in panel.banner.toolTip()
    assert panel.classes.highlighted.sum() >= 7 and not panel.classes.highlighted[7]  # the lost classes in red
    check(everything, 600)
    assert not panel.banner.isVisible() and panel.warning is None  # every class is back
    assert not panel.classes.highlighted.any()
    check(sevens, 2400)  # past twice the interval: shown at the first warning
    assert panel.banner.isVisible()


def test_stop_while_the_evaluator_trains_cancels_the_run(qtbot, window, tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_STUDIO_CACHE", str(tmp_path / "empty-cache"))  # the evaluator must train
    tab = window.train_tab
    statuses = record_statuses(window)
    tiny(window)
    window.start_training()
    qtbot.waitUntil(lambda: any(s.state == "preparing" and s.fraction for s in statuses), timeout=30_000)
    qtbot.waitUntil(lambda: tab.progress.format().startswith("Preparing the evaluator… "), timeout=5000)
    assert "Preparing the evaluator" in tab.metrics_panel.status_label.text()
    tab.stop_button.click()
    wait_idle(qtbot, window, 10_000)
    assert statuses[-1].state == "cancelled" and window.errors == []
    assert "Stopped while preparing the evaluator" in tab.status.text()
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # nothing was trained
    assert not list((tmp_path / "empty-cache").rglob("*.safetensors"))  # nor cached


def test_runs_without_a_monitor_say_why_and_still_train(qtbot, window, tmp_path, monkeypatch):
    tab, panel = window.train_tab, window.train_tab.metrics_panel
    statuses = record_statuses(window)
    # Unlabelled data (an image folder without class subfolders): no evaluator.
    folder = tmp_path / "faces"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(32):
        Image.fromarray(rng.integers(0, 255, (28, 28), dtype=np.uint8)).save(folder / f"{i}.png")
    window.dataset_tab.selected = str(folder)
    tiny(window, "vae", **{"train.steps": 4})
    window.start_training()
    wait_idle(qtbot, window)
    assert window.errors == [] and tab.step == 4
    assert statuses[-1].state == "off" and "faces has no class labels" in panel.status_label.text()
    assert panel.history == []

    # A monitor that cannot be prepared (the run trains without it: tests/core/test_protocol.py)
    # is a note in the panel.
    panel.on_status(MonitorStatus("failed", "Live metrics are off for this run: evaluator cache: disk full"))
    assert panel.status_label.text() == "Live metrics are off for this run: evaluator cache: disk full"
    window.dataset_tab.selected = "mnist-5k"

    # Switched off by the user: remembered, and nothing is prepared.
    panel.live.setChecked(False)
    window.start_training()
    wait_idle(qtbot, window)
    assert statuses[-1].state == "off" and "Live metrics are off" in panel.status_label.text()
    assert window.settings.live_metrics is False


def test_budget_skips_checks_that_would_cost_over_ten_percent():
    class Clock:
        now = 0.0

        def __call__(self):
            return self.now

    class Timed:  # a monitor whose every call takes one second of the clock
        n, calls, seconds, last_seconds = 100, 0, 0.0, 0.0

        def __call__(self, _model, step):
            clock.now += 1.0
            self.calls, self.seconds, self.last_seconds = self.calls + 1, self.seconds + 1.0, 1.0
            return step

    clock = Clock()
    budgeted = BudgetedMonitor(Timed(), 0.10, clock)
    budgeted.start()
    ran = []
    for step in range(1, 31):  # a check every 2 s of training
        clock.now += 2.0
        if step == 10:
            budgeted.pause()
            clock.now += 100.0  # a pause does not count as training time
            budgeted.resume()
        if budgeted(None, step) is not None:
            ran.append(step)
    status = budgeted.status(every=200)
    assert ran[0] == 1 and 4 <= len(ran) <= 7 and budgeted.skipped == 30 - len(ran)
    assert status.cost <= 0.10 and status.wall == pytest.approx(60.0 + len(ran))
    assert BudgetedMonitor(Timed(), None, clock)(None, 1) == 1  # no budget: every check runs


def test_explore_measure_shows_the_checkpoint_metrics(qtbot, window, tiny_runs):
    tab = window.explore_tab
    with qtbot.waitSignal(tab.rendered, timeout=20_000, check_params_cb=lambda c: c == "image"):
        window.open_checkpoint(tiny_runs["cgan-mlp"] / "checkpoints" / "last.safetensors")
    assert tab.quality_box.isVisible() and tab.measure_n.value() == 1000
    tab.measure_n.setValue(200)
    with qtbot.waitSignal(tab.measured, timeout=60_000) as blocker:
        qtbot.mouseClick(tab.measure_button, Qt.MouseButton.LeftButton)
        assert tab.measure_button.text() == "Cancel" and tab.measure_progress.isVisible()
    report = blocker.args[0]
    assert report is not None and report.model.n == 200 and tab.measure_button.text() == "Measure"
    table = tab.measure_table
    assert table.isVisible()
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    assert headers == ["metric", "model\nn=200", "real\nn=200"]
    names = row_names(table)
    assert names[0] == "FID (evaluator features) ↓" and "Class coverage ↑" in names and "Conditional accuracy ↑" in names
    for row in range(table.rowCount()):
        assert table.item(row, 1).text() != "–" and table.item(row, 2).text() != "–"
    assert "not Inception" in tab.measure_label.text()
    # Cancel: whatever was computed is dropped, the table stays empty.
    with qtbot.waitSignal(tab.measured, timeout=60_000) as blocker:
        tab.measure_button.click()
        tab.measure_button.click()
    assert blocker.args == [None] and not table.isVisible() and "cancelled" in tab.measure_label.text()


def test_a_tiny_dataset_shows_its_caveat_instead_of_a_floor(qtbot):
    from studio.ui.widgets.metrics_panel import MetricsPanel

    panel = MetricsPanel()
    qtbot.addWidget(panel)
    caveat = "These figures are unreliable for this dataset: the evaluator reads only 66.7% of held-out images right."
    panel.on_status(MonitorStatus("ready", caveat, every=100, n=120, floor={}, class_names=("a", "b", "c"),
                                  data_share=np.full(3, 1 / 3)))
    assert "unreliable" in panel.status_label.text() and panel.floor == {}
    panel.on_status(MonitorStatus("running", every=100, n=120, seconds=0.5, wall=10.0, calls=1))
    assert "unreliable" in panel.status_label.text()  # still said after the first check


def test_a_full_metrics_table_scrolls_rather_than_squash_the_plots(qtbot):
    from studio.core.live_keys import METRIC_LABELS
    from studio.core.train.events import Metrics
    from studio.ui.widgets.metrics_panel import PLOT_PX, MetricsPanel

    panel = MetricsPanel()
    qtbot.addWidget(panel)
    panel.resize(360, 600)  # the panel's share of a 1280x720 window
    panel.show()
    panel.on_metrics(Metrics(step=10, values={"fid_eval": 90.0, "precision": 0.5, "recall": 0.4}))
    panel.refresh(force=True)
    qtbot.waitUntil(lambda: panel.table.rowCount() == 3)
    assert panel.table.height() == panel.table.maximumHeight()  # few rows: all shown, no scrolling
    assert not panel.table.verticalScrollBar().isVisible()
    values = {key: 0.5 for key in METRIC_LABELS}
    for step in (20, 30):
        panel.on_metrics(Metrics(step=step, values={**values, "fid_eval": 80.0 - step}))
    panel.refresh(force=True)
    qtbot.waitUntil(lambda: panel.table.rowCount() > 10)
    qtbot.waitUntil(lambda: panel.plot.height() >= PLOT_PX - 1)
    assert panel.classes.height() >= PLOT_PX - 1
    assert panel.table.height() < panel.table.maximumHeight()
    qtbot.waitUntil(lambda: panel.table.verticalScrollBar().isVisible())  # the rest of the rows a scroll away
    # taller, the table grows back to all its rows; a dragged splitter keeps the person's sizes
    panel.resize(360, 1000)
    qtbot.waitUntil(lambda: panel.table.height() == panel.table.maximumHeight())
    panel.splitter.moveSplitter(panel.table.minimumHeight(), 1)  # what a drag calls (emits splitterMoved)
    sizes = panel.splitter.sizes()
    panel.resize(360, 1001)
    assert panel.splitter.sizes()[0] == sizes[0]
