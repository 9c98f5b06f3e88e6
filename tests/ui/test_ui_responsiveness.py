"""What keeps the Train tab cheap to repaint while a run trains (benchmarks/gui_responsiveness.py)."""

from __future__ import annotations

import numpy as np

from studio.ui.tabs.train import TrainTab
from studio.ui.widgets.loss_plot import LossPlot


def test_the_loss_plot_y_range_grows_only_when_a_point_leaves_it(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.set_x_extent(100)
    vb = plot.plot.getPlotItem().getViewBox()
    plot.append(np.arange(3), {"loss": np.array([1.0, 2.0, 3.0])})
    plot.refresh()
    first = vb.viewRange()[1]
    assert first[0] < 1.0 and first[1] > 3.0
    plot.append(np.arange(3, 5), {"loss": np.array([2.9, 1.1])})  # inside: the axis stays as it is
    plot.refresh()
    assert vb.viewRange()[1] == first
    plot.append(np.arange(5, 6), {"loss": np.array([10.0])})  # outside: the range grows to hold it
    plot.refresh()
    assert vb.viewRange()[1][1] > 10.0
    vb.sigRangeChangedManually.emit([False, True])  # a zoom by hand: the user's range stays
    held = vb.viewRange()[1]
    plot.append(np.arange(6, 7), {"loss": np.array([50.0])})
    plot.refresh()
    assert vb.viewRange()[1] == held
    vb.enableAutoRange()  # the "A" button: the range follows the data again
    plot.append(np.arange(7, 8), {"loss": np.array([1.0])})
    plot.refresh()
    assert vb.viewRange()[1][1] > 50.0
    plot.log_scale.setChecked(True)  # log10 units
    assert vb.viewRange()[1][1] < 3.0  # log10(50) = 1.7 and its margin, not 50


def test_the_loss_plot_shows_no_band_below_zero_unless_a_loss_goes_there(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    vb = plot.plot.getPlotItem().getViewBox()
    plot.append(np.arange(3), {"d": np.array([0.05, 0.5, 1.0]), "g": np.array([1.0, 4.5, 2.0])})
    plot.refresh()
    low, high = vb.viewRange()[1]
    assert -0.03 * high < low < 0.05 and high > 4.5  # the 0 in view, not half a unit under it
    plot.append(np.arange(3, 4), {"d": np.array([-2.0]), "g": np.array([1.0])})  # a WGAN critic's
    plot.refresh()
    assert vb.viewRange()[1][0] < -2.0 - 0.5  # negative losses get the full margin


def test_status_text_does_not_resize_the_plots(qtbot):
    tab = TrainTab(tasks=None)
    qtbot.addWidget(tab)
    tab.resize(1280, 760)
    tab.show()
    qtbot.waitExposed(tab)
    size = tab.loss_plot.plot.size()
    for text in ("Starting: loading data and building the model…", "1,234 images/s · ETA 0:12", "Ready"):
        tab.status.setText(text)
        tab.metrics_panel.status_label.setText(text)
        qtbot.wait(20)
        assert tab.loss_plot.plot.size() == size, text


def test_a_new_run_of_the_same_losses_reuses_the_curves(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.append(np.arange(3), {"d": np.ones(3), "g": np.ones(3), "gp": np.ones(3)})
    plot.refresh()
    items = dict(plot._smooth)
    plot.clear(keep=["d", "g", "gp", "loss"])  # the new run's loss names
    assert plot._smooth == items and plot.point_count() == 0  # the same items, emptied
    assert all(len(curve.getData()[0] or ()) == 0 for curve in plot._smooth.values())
    plot.append(np.arange(2), {"d": np.zeros(2), "g": np.zeros(2)})  # this config logs no gp
    assert set(plot.series) == {"d", "g"} and plot._smooth["d"] is items["d"]
    assert [label.text for _, label in plot.legend.items] == ["d", "g"]
    plot.clear(keep=["loss", "recon"])  # another family: nothing kept
    plot.append(np.arange(2), {"loss": np.ones(2), "recon": np.ones(2)})
    assert set(plot.series) == {"loss", "recon"} and len(set(plot._color.values())) == 2


def test_a_progress_value_paints_with_the_window_not_at_once(qtbot):
    """QProgressBar.setValue repaints at once, and with it every pending region of the
    window (a dirty plot); the studio's bar leaves them to the next paint pass."""
    from PySide6.QtWidgets import QProgressBar, QVBoxLayout, QWidget

    from studio.ui.widgets.progress import ProgressBar

    class Counting(QWidget):
        paints = 0

        def paintEvent(self, event) -> None:  # noqa: N802
            self.paints += 1

    def synchronous_paints(bar_type) -> int:
        window, other, bar = QWidget(), Counting(), bar_type()
        qtbot.addWidget(window)
        layout = QVBoxLayout(window)
        layout.addWidget(other)
        layout.addWidget(bar)
        window.resize(300, 200)
        window.show()
        qtbot.waitExposed(window)
        qtbot.waitUntil(lambda: other.paints > 0)
        before = other.paints
        other.update()  # pending, as a plot is after new data
        bar.setValue(50)
        now = other.paints - before
        qtbot.waitUntil(lambda: other.paints > before)  # painted in the next pass either way
        assert bar.value() == 50
        return now

    assert synchronous_paints(QProgressBar) == 1  # Qt's bar: the pending paint happened inside setValue
    assert synchronous_paints(ProgressBar) == 0


def test_the_class_chart_stays_as_it_is_for_the_same_content(qtbot):
    """Every run's start resets the metrics panel to the data's class shares over empty
    bars: for a run like the last, nothing is rebuilt (each rebuild repaints the chart)."""
    from studio.ui.widgets.metrics_panel import MetricsPanel

    panel = MetricsPanel()
    qtbot.addWidget(panel)
    share = np.full(10, 100.0)
    panel.set_reference([str(i) for i in range(10)], share)
    panel.refresh()
    bars, ref = panel.classes._bars, panel.classes._reference
    bars.drawPicture()
    ref.drawPicture()
    drawn = bars.picture, ref.picture
    panel.clear()  # the next run's start, on the same data
    panel.set_reference([str(i) for i in range(10)], share)
    panel.refresh()
    assert (bars.picture, ref.picture) == drawn
    panel.clear()  # another dataset: no reference, the bars go
    panel.refresh()
    assert len(panel.classes.values) == 0 and not ref.isVisible() and bars.picture is None
