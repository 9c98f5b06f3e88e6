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
