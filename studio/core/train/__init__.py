"""Training: the Trainer generator, per-family step functions, checkpoints, run directories."""
