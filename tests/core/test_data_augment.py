"""Batch augmentation: per-image randomness, shapes and ranges kept, reproducible, fast."""

from __future__ import annotations

import time

import torch

from studio.core.config import AugmentConfig
from studio.core.data import make_augmenter


def batch(n: int = 64, c: int = 1, size: int = 28) -> torch.Tensor:
    x = torch.full((n, c, size, size), -1.0)
    x[:, :, 4:12, 2:8] = 1.0  # an off-centre block: flips and shifts move it
    return x


def test_off_by_default_and_for_grey_jitter() -> None:
    assert make_augmenter(AugmentConfig(), 1) is None
    assert make_augmenter(AugmentConfig(color_jitter=0.5), 1) is None  # no colour to jitter


def test_flips_are_per_image() -> None:
    augment = make_augmenter(AugmentConfig(hflip=True), 1)
    assert augment is not None
    torch.manual_seed(0)
    x = batch()
    out = augment(x)
    flipped = torch.tensor([torch.equal(o, i.flip(-1)) for o, i in zip(out, x, strict=True)])
    kept = torch.tensor([torch.equal(o, i) for o, i in zip(out, x, strict=True)])
    assert bool((flipped | kept).all()) and 10 < int(flipped.sum()) < 54


def test_affine_is_per_image_in_range_and_reproducible() -> None:
    cfg = AugmentConfig(rotate_degrees=15, translate=0.1)
    augment = make_augmenter(cfg, 1, torch.Generator().manual_seed(5))
    assert augment is not None
    x = batch()
    state = torch.get_rng_state()
    out = augment(x)
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is not touched
    assert out.shape == x.shape and float(out.min()) >= -1 and float(out.max()) <= 1
    distinct = {tuple(o.flatten().tolist()) for o in out}
    assert len(distinct) > 60  # identical inputs, different outputs
    again = make_augmenter(cfg, 1, torch.Generator().manual_seed(5))  # the same generator state replays it
    assert torch.equal(again(x), out)


def test_colour_jitter_on_rgb_per_image() -> None:
    augment = make_augmenter(AugmentConfig(color_jitter=0.4), 3)
    assert augment is not None
    x = torch.rand(16, 3, 8, 8) * 2 - 1
    x = x[:1].expand(16, -1, -1, -1)  # one image, sixteen times
    out = augment(x)
    assert out.shape == x.shape and float(out.min()) >= -1 and float(out.max()) <= 1
    assert len({round(float(o.mean()), 4) for o in out}) > 12


def test_fast_enough_for_64_digits() -> None:
    augment = make_augmenter(AugmentConfig(hflip=True, rotate_degrees=10, translate=0.1), 1)
    assert augment is not None
    x = batch()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # on a busy shared machine, thread contention swamps the timing
    try:
        augment(x)
        start = time.perf_counter()
        for _ in range(10):
            augment(x)
        per_batch_ms = (time.perf_counter() - start) / 10 * 1000
    finally:
        torch.set_num_threads(threads)
    assert per_batch_ms < 50, per_batch_ms  # about 2 ms on one idle core; slack for a busy CI
