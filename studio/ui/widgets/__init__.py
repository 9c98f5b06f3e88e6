"""Reusable views: image grids, loss curves, class bars, latent sliders, a drawing canvas."""

import pyqtgraph as pg

# Plots sit on white panels beside Qt widgets: dark text, no antialiasing (faster lines).
pg.setConfigOptions(background="w", foreground="k", antialias=False)
