"""The set-up every titled pyqtgraph plot shares: a white panel, a small title, a light grid."""

from __future__ import annotations

import pyqtgraph as pg


def titled_plot(title: str, legend_offset: tuple[int, int] | None = None) -> pg.PlotWidget:
    """A plot with ``title`` in 10 pt over a faint x/y grid; a legend at ``legend_offset`` if given."""
    plot = pg.PlotWidget(background="w")
    item = plot.getPlotItem()
    item.setTitle(title, size="10pt")
    item.showGrid(x=True, y=True, alpha=0.25)
    if legend_offset is not None:
        item.addLegend(offset=legend_offset)
    return plot
