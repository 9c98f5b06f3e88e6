"""Latent Studio: train and explore generative image models."""

__version__ = "0.1.0"
