"""BatchSampler: batches in [-1, 1], shuffled epochs, reproducible and resumable."""

from __future__ import annotations

import pytest
import torch

from studio.core.data import BatchSampler, ImageData
from studio.core.errors import DataError


def toy(n: int = 10, labelled: bool = True) -> ImageData:
    # image i is filled with the value i*20, so a batch tells which images it holds
    images = (
        (torch.arange(n, dtype=torch.uint8) * 20).view(n, 1, 1, 1).expand(n, 1, 4, 4).contiguous()
    )
    labels = torch.arange(n) if labelled else None
    return ImageData("toy", images, labels, [str(i) for i in range(n)] if labelled else None)


def ids(x: torch.Tensor) -> list[int]:
    return [round(v) for v in ((x[:, 0, 0, 0] + 1) * 127.5 / 20).tolist()]


def sampler(seed: int = 0, n: int = 10, batch: int = 4, labelled: bool = True) -> BatchSampler:
    return BatchSampler(toy(n, labelled), batch, torch.Generator().manual_seed(seed), "cpu")


def test_batch_shape_range_and_labels() -> None:
    s = sampler()
    x, y = s.next()
    assert x.shape == (4, 1, 4, 4) and x.dtype == torch.float32
    assert float(x.min()) >= -1 and float(x.max()) <= 1
    assert y is not None and y.tolist() == ids(x)  # labels travel with their images
    assert s.on_device


def test_extremes_map_to_minus_one_and_one() -> None:
    data = ImageData("bw", torch.tensor([0, 255], dtype=torch.uint8).view(2, 1, 1, 1), None)
    x, y = BatchSampler(data, 2, torch.Generator().manual_seed(0)).next()
    assert sorted(x.flatten().tolist()) == [-1.0, 1.0] and y is None


def test_every_image_once_per_epoch() -> None:
    s = sampler(batch=5)
    seen = ids(s.next()[0]) + ids(s.next()[0])
    assert sorted(seen) == list(range(10)) and s.epoch == 0
    s.next()
    assert s.epoch == 1


def test_batches_span_epochs_and_can_exceed_the_dataset() -> None:
    s = sampler(n=3, batch=7)
    first = ids(s.next()[0])
    assert len(first) == 7 and sorted(first[:3]) == [0, 1, 2] and sorted(first[3:6]) == [0, 1, 2]


def test_same_seed_same_batches_other_seed_other_batches() -> None:
    a, b, c = sampler(1), sampler(1), sampler(2)
    run_a = [ids(a.next()[0]) for _ in range(6)]
    assert run_a == [ids(b.next()[0]) for _ in range(6)]
    assert run_a != [ids(c.next()[0]) for _ in range(6)]


def test_state_round_trip_resumes_identically() -> None:
    a = sampler(3, batch=3)
    for _ in range(5):
        a.next()
    state = a.state_dict()
    expected = [ids(a.next()[0]) for _ in range(8)]
    b = sampler(99, batch=3)  # another seed: the state must override it
    b.load_state_dict(
        {k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in state.items()}
    )
    assert [ids(b.next()[0]) for _ in range(8)] == expected
    assert b.epoch == a.epoch


def test_state_from_another_dataset_is_refused() -> None:
    state = sampler(n=10).state_dict()
    with pytest.raises(DataError, match="another dataset"):
        sampler(n=6).load_state_dict(state)


def test_augment_runs_on_the_batch() -> None:
    s = BatchSampler(toy(), 4, torch.Generator().manual_seed(0), augment=lambda x: x * 0)
    assert float(s.next()[0].abs().max()) == 0


def test_empty_dataset_is_refused() -> None:
    with pytest.raises(DataError, match="no images"):
        BatchSampler(toy(0), 4, torch.Generator())
