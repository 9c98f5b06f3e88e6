"""The evaluator: training, caching by content, retraining when missing or damaged."""

from __future__ import annotations

import pytest
import torch

from studio.core.config import DataConfig
from studio.core.data import load_dataset
from studio.core.data.dataset import ImageData
from studio.core.errors import StudioError
from studio.core.metrics import evaluator as evmod
from studio.core.metrics.evaluator import (
    EvaluatorCancelled,
    Recipe,
    content_key,
    get_evaluator,
    load_evaluator,
)

TINY = Recipe(epochs=1, max_steps=8, batch_size=32)  # seconds, not a minute: caching, not accuracy


@pytest.fixture(scope="module")
def digits() -> tuple[ImageData, ImageData]:
    train = load_dataset(DataConfig(), "train")
    test = load_dataset(DataConfig(), "test")
    return _subset(train, 500), _subset(test, 100)


def _subset(data: ImageData, n: int) -> ImageData:
    return ImageData(data.name, data.images[:n], data.labels[:n], data.class_names, data.source)


def test_trains_once_then_loads_from_the_cache(digits, tmp_path, monkeypatch):
    train, test = digits
    calls = []
    real_train = evmod.train_evaluator
    monkeypatch.setattr(evmod, "train_evaluator", lambda *a, **k: calls.append(1) or real_train(*a, **k))
    progress = []
    first = get_evaluator(train, test, root=tmp_path, recipe=TINY, progress=lambda f, m: progress.append(f))
    assert calls == [1] and first.path.exists() and first.path.parent == tmp_path
    assert first.path.suffix == ".safetensors" and progress[-1] == 1.0
    assert first.accuracy is not None and 0 <= first.accuracy <= 1
    second = get_evaluator(train, test, root=tmp_path, recipe=TINY)
    assert calls == [1], "a cached evaluator must not be retrained"
    assert second.key == first.key and second.accuracy == first.accuracy
    x = train.images[:64]
    torch.testing.assert_close(second.embed(x)[0], first.embed(x)[0])


def test_missing_or_damaged_cache_is_retrained(digits, tmp_path):
    train, test = digits
    ev = get_evaluator(train, test, root=tmp_path, recipe=TINY)
    ev.path.write_bytes(b"not a safetensors file")
    with pytest.raises(StudioError, match=ev.path.name):
        load_evaluator(ev.path)
    again = get_evaluator(train, test, root=tmp_path, recipe=TINY)
    assert load_evaluator(again.path).key == ev.key
    again.path.unlink()
    assert get_evaluator(train, test, root=tmp_path, recipe=TINY).path.exists()


def test_the_key_follows_the_content(digits):
    train, _ = digits
    key = content_key(train)
    same = ImageData("renamed", train.images.clone(), train.labels.clone(), train.class_names)
    assert content_key(same) == key  # the name is not content
    changed = train.images.clone()
    changed[0, 0, 0, 0] ^= 1
    assert content_key(ImageData(train.name, changed, train.labels, train.class_names)) != key
    relabelled = train.labels.clone()
    relabelled[0] = (relabelled[0] + 1) % 10
    assert content_key(ImageData(train.name, train.images, relabelled, train.class_names)) != key
    assert content_key(train, {"epochs": 2}) != content_key(train, {"epochs": 3})


def test_cancel_stops_training_and_caches_nothing(digits, tmp_path):
    train, test = digits
    with pytest.raises(EvaluatorCancelled):
        get_evaluator(train, test, root=tmp_path, recipe=TINY, should_stop=lambda: True)
    assert not list(tmp_path.iterdir())


def test_training_leaves_the_global_random_stream_alone(digits, tmp_path):
    train, _ = digits
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    get_evaluator(train, None, root=tmp_path, recipe=TINY)
    torch.testing.assert_close(torch.rand(3), expected)


def test_unlabelled_data_and_wrong_shapes_are_refused(digits, tmp_path):
    train, _ = digits
    with pytest.raises(StudioError, match="labelled"):
        get_evaluator(ImageData("faces", train.images, None), root=tmp_path, recipe=TINY)
    ev = get_evaluator(train, None, root=tmp_path, recipe=TINY)
    with pytest.raises(StudioError, match="shape"):
        ev.embed(torch.zeros(2, 3, 32, 32, dtype=torch.uint8))


def test_colour_images_of_another_size_work(tmp_path):
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8, generator=gen)
    data = ImageData("rgb", images, torch.arange(64) % 4, list("abcd"))
    ev = get_evaluator(data, None, root=tmp_path, recipe=Recipe(epochs=1, max_steps=2, batch_size=16))
    feats, probs = ev.embed(images[:5])
    assert feats.shape == (5, evmod.FEATURE_DIM) and probs.shape == (5, 4)
    assert ev.accuracy is None  # no held-out split given
