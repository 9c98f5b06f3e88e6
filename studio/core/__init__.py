"""The Qt-free engine: data, models, training, metrics and latent tools."""
