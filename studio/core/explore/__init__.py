"""Latent-space tools for the explorer: slerp (latent), GANSpace-style directions
(directions), the 2-D manifold map (manifold), encoding a drawn image (encode), and
the Explorer that serves the GUI's render thread (explorer). Qt-free.

Import the submodules directly; this package imports nothing so that the numpy-only
helpers (images.tile, export) load without PyTorch.
"""
