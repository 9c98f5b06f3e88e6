"""Shared fixtures: tiny configs that train in seconds on the embedded digits."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def tiny_config():
    """A factory for configs small enough to train a few steps in well under a second."""
    from studio.core.presets import preset

    def make(name: str = "cgan", **train):
        base = preset(name)
        model = {"width": 8} if base.model.arch in ("dcgan", "conv") else {"width": 8}
        values = {"steps": 6, "batch_size": 16, "log_every": 2, "sample_every": 3, "checkpoint_every": 4, "threads": 1}
        values.update(train)
        return base.with_overrides(model=model, train=values)

    return make
