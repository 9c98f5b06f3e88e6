"""Shared fixtures: tiny configs that train in seconds on the embedded digits."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session", autouse=True)
def evaluator_cache(tmp_path_factory):
    """Evaluators trained during the tests go to a temporary folder, not the user's cache."""
    path = tmp_path_factory.mktemp("evaluator-cache")
    old = os.environ.get("LATENT_STUDIO_CACHE")
    os.environ["LATENT_STUDIO_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("LATENT_STUDIO_CACHE", None)
    else:
        os.environ["LATENT_STUDIO_CACHE"] = old


@pytest.fixture(scope="session")
def cheap_evaluator(evaluator_cache):
    """The session's evaluator cache, holding a few-step mnist-5k evaluator (~80% accurate)
    under the real recipe's key: monitors, `eval` and the explorer's Measure load it in
    milliseconds instead of training the real one for a minute."""
    from dataclasses import asdict

    from studio.core.config import DataConfig
    from studio.core.metrics.evaluate import eval_splits
    from studio.core.metrics.evaluator import (
        Recipe,
        cache_path,
        content_key,
        save_evaluator,
        train_evaluator,
    )

    fit, held = eval_splits(DataConfig())
    evaluator = train_evaluator(fit, held, Recipe(epochs=1, max_steps=60, batch_size=32))
    evaluator.key = content_key(fit, asdict(Recipe()))
    save_evaluator(evaluator, cache_path(fit, evaluator.key))  # under $LATENT_STUDIO_CACHE
    return evaluator_cache


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


@pytest.fixture
def pretrained_run(tmp_path, tiny_config):
    """A factory that trains a tiny run in ``tmp_path / "pre"`` and returns its folder:
    the source of the init_from, freeze and finetune tests."""
    from studio.core.train.trainer import Trainer

    def make(name: str = "cgan", steps: int = 2):
        path = tmp_path / "pre"
        list(Trainer(tiny_config(name, steps=steps), path).steps())
        return path

    return make


@pytest.fixture
def image_folder(tmp_path):
    """A folder of 3 classes x 8 random 28x28 grey PNGs (class0/ .. class2/): another
    class count than the digits, for finetuning."""
    import numpy as np
    from PIL import Image

    root = tmp_path / "three"
    rng = np.random.default_rng(0)
    for c in range(3):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(8):
            Image.fromarray(rng.integers(0, 255, (28, 28), dtype=np.uint8)).save(root / f"class{c}" / f"{i}.png")
    return root
