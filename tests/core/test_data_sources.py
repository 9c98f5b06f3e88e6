"""Named datasets read from a root folder in torchvision's layout, written here for real."""

from __future__ import annotations

import gzip
import pickle
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch

from studio.core.config import DataConfig
from studio.core.data import dataset_names, default_root, list_datasets, load_dataset
from studio.core.data.idx import write_idx
from studio.core.data.torchvision_sets import unpickle
from studio.core.errors import DataError

COUNTS = {"train": 12, "t10k": 6}


def write_mnist_layout(
    root: Path, folder: str = "MNIST", gz: bool = False, classes: int = 10
) -> dict:
    """Uncompressed IDX files where torchvision looks: <root>/<Class>/raw/."""
    raw = root / folder / "raw"
    rng = np.random.default_rng(1)
    written = {}
    for prefix, n in COUNTS.items():
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % classes).astype(np.uint8)
        suffix = ".gz" if gz else ""
        write_idx(raw / f"{prefix}-images-idx3-ubyte{suffix}", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte{suffix}", labels)
        written[prefix] = (images, labels)
    return written


def test_names_and_default_root() -> None:
    assert dataset_names() == [
        "mnist-5k",
        "mnist",
        "fashion-mnist",
        "kmnist",
        "emnist-balanced",
        "emnist-letters",
        "cifar10",
    ]
    assert default_root().parts[-2:] == ("latent-studio", "datasets")


@pytest.mark.parametrize(("split", "count"), [("train", 4500), ("test", 500)])
def test_embedded_mnist_5k(split: str, count: int) -> None:
    data = load_dataset(DataConfig(), split)
    assert len(data) == count and data.image_shape == (1, 28, 28) and data.num_classes == 10
    assert (
        data.images.dtype == torch.uint8
        and data.labels is not None
        and data.labels.dtype == torch.int64
    )
    assert set(data.labels.tolist()) == set(range(10))


@pytest.mark.parametrize(
    ("name", "folder", "first_class"),
    [("mnist", "MNIST", "0 - zero"), ("fashion-mnist", "FashionMNIST", "T-shirt/top")],
)
def test_mnist_family_layout(tmp_path: Path, name: str, folder: str, first_class: str) -> None:
    written = write_mnist_layout(tmp_path, folder)
    data = load_dataset(DataConfig(dataset=name, root=str(tmp_path)), "test")
    images, labels = written["t10k"]
    assert data.images.shape == (6, 1, 28, 28) and data.images.dtype == torch.uint8
    np.testing.assert_array_equal(data.images[:, 0].numpy(), images)
    assert data.labels is not None and data.labels.tolist() == labels.tolist()
    assert data.class_names is not None and data.class_names[0] == first_class
    assert data.source == str(tmp_path / folder / "raw")
    assert len(load_dataset(DataConfig(dataset=name, root=str(tmp_path)))) == 12


def test_hand_placed_gz_files_are_unpacked(tmp_path: Path) -> None:
    write_mnist_layout(tmp_path, "KMNIST", gz=True)
    data = load_dataset(DataConfig(dataset="kmnist", root=str(tmp_path)))
    assert len(data) == 12 and (tmp_path / "KMNIST/raw/train-images-idx3-ubyte").is_file()


def test_missing_files_message(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        load_dataset(DataConfig(dataset="mnist", root=str(tmp_path)))
    message = str(err.value)
    assert str(tmp_path / "MNIST" / "raw") in message
    assert (
        "train-images-idx3-ubyte" in message
        and "download" in message
        and "latent-studio datasets" in message
    )


def test_corrupt_file_is_named(tmp_path: Path) -> None:
    write_mnist_layout(tmp_path)
    bad = tmp_path / "MNIST/raw/train-images-idx3-ubyte"
    bad.write_bytes(bad.read_bytes()[:1000])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte: header claims"):
        load_dataset(DataConfig(dataset="mnist", root=str(tmp_path)))


def test_label_count_mismatch_is_named(tmp_path: Path) -> None:
    write_mnist_layout(tmp_path)
    write_idx(tmp_path / "MNIST/raw/train-labels-idx1-ubyte", np.zeros(5, np.uint8))
    with pytest.raises(DataError, match="12 images but train-labels-idx1-ubyte has 5 labels"):
        load_dataset(DataConfig(dataset="mnist", root=str(tmp_path)))


def test_emnist_letters_upright_and_from_zero(tmp_path: Path) -> None:
    raw = tmp_path / "EMNIST" / "raw"
    stored = np.zeros((3, 28, 28), np.uint8)
    stored[:, 0, 5] = 255  # transposed on disk: shows as row 5, column 0
    for split in ("balanced", "letters"):
        for part in ("train", "test"):
            write_idx(raw / f"emnist-{split}-{part}-images-idx3-ubyte", stored)
            labels = [1, 2, 26] if split == "letters" else [0, 10, 46]
            write_idx(raw / f"emnist-{split}-{part}-labels-idx1-ubyte", np.array(labels, np.uint8))
    letters = load_dataset(DataConfig(dataset="emnist-letters", root=str(tmp_path)))
    assert letters.labels is not None and letters.labels.tolist() == [0, 1, 25]
    assert letters.class_names == [chr(c) for c in range(ord("a"), ord("z") + 1)]
    assert letters.images[0, 0, 5, 0] == 255 and letters.images[0, 0, 0, 5] == 0
    balanced = load_dataset(DataConfig(dataset="emnist-balanced", root=str(tmp_path)), "test")
    assert (
        balanced.num_classes == 47
        and balanced.labels is not None
        and balanced.labels.tolist() == [0, 10, 46]
    )


def write_cifar_layout(root: Path, per_batch: int = 3) -> np.ndarray:
    """CIFAR-10's own format: pickled dicts of uint8 rows (CHW order) and label lists."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(2)
    rows = rng.integers(0, 256, (6 * per_batch, 3072), dtype=np.uint8)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for i, name in enumerate(names):
        batch = {
            b"batch_label": name.encode(),
            b"data": rows[i * per_batch : (i + 1) * per_batch],
            b"labels": [(i + j) % 10 for j in range(per_batch)],
            b"filenames": [b"x.png"] * per_batch,
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    meta = {
        b"label_names": [
            b"airplane",
            b"automobile",
            b"bird",
            b"cat",
            b"deer",
            b"dog",
            b"frog",
            b"horse",
            b"ship",
            b"truck",
        ],
        b"num_vis": 3072,
    }
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return rows


def test_cifar10_layout(tmp_path: Path) -> None:
    rows = write_cifar_layout(tmp_path)
    train = load_dataset(DataConfig(dataset="cifar10", root=str(tmp_path)))
    assert train.images.shape == (15, 3, 32, 32) and train.images.dtype == torch.uint8
    np.testing.assert_array_equal(train.images.reshape(15, -1).numpy(), rows[:15])
    assert (
        train.class_names is not None
        and train.class_names[0] == "airplane"
        and train.num_classes == 10
    )
    test = load_dataset(
        DataConfig(dataset="cifar10", root=str(tmp_path), channels=1, image_size=16), "test"
    )
    assert (
        test.images.shape == (3, 1, 16, 16)
        and test.labels is not None
        and test.labels.tolist() == [5, 6, 7]
    )


class Boom:
    def __reduce__(self):  # a pickle that would run code when loaded by plain pickle
        return (print, ("pwned",))


def test_cifar_refuses_hostile_pickle(tmp_path: Path) -> None:
    write_cifar_layout(tmp_path)
    bad = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    bad.write_bytes(pickle.dumps({"data": Boom(), "labels": []}, protocol=2))
    with pytest.raises(
        DataError,
        match=r"data_batch_3: not a readable dataset batch \(refusing to load builtins.print\)",
    ):
        load_dataset(DataConfig(dataset="cifar10", root=str(tmp_path)))


def test_unpickle_reads_numpy_arrays_of_any_protocol(tmp_path: Path) -> None:
    for protocol in (2, 4, 5):
        (tmp_path / "b").write_bytes(
            pickle.dumps({"data": np.arange(6, dtype=np.uint8)}, protocol=protocol)
        )
        assert unpickle(tmp_path / "b")["data"].tolist() == [0, 1, 2, 3, 4, 5]


def test_list_datasets_sees_what_is_on_disk(tmp_path: Path) -> None:
    write_mnist_layout(tmp_path)
    infos = {info.name: info for info in list_datasets(str(tmp_path))}
    assert infos["mnist-5k"].available and infos["mnist"].available
    assert not infos["fashion-mnist"].available and not infos["cifar10"].available
    assert infos["mnist"].location == str(tmp_path / "MNIST" / "raw")
    assert infos["cifar10"].size.startswith("32x32 RGB, 10 classes")
    assert infos["emnist-balanced"].size.startswith("28x28 grey, 47 classes")


def test_resize_and_channels_once_at_load() -> None:
    data = load_dataset(DataConfig(image_size=32, channels=3), "test")
    assert data.images.shape == (500, 3, 32, 32) and data.images.dtype == torch.uint8
    assert torch.equal(data.images[:, 0], data.images[:, 2])


@pytest.mark.parametrize("value", ["not-a-dataset", "./no/such/folder"])
def test_unknown_dataset_or_folder(value: str) -> None:
    with pytest.raises(DataError, match="unknown dataset|no such folder"):
        load_dataset(DataConfig(dataset=value))


def test_unknown_split() -> None:
    with pytest.raises(DataError, match="unknown split 'val'"):
        load_dataset(DataConfig(), "val")


# -- issue 11: every data path checks before it allocates ------------------------------------


def idx_header(code: int, shape: tuple[int, ...]) -> bytes:
    return bytes([0, 0, code, len(shape)]) + b"".join(d.to_bytes(4, "big") for d in shape)


def sparse_idx(path: Path, shape: tuple[int, ...], payload: int) -> None:
    """An IDX file of ``payload`` zero bytes that costs no disk (a sparse file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.write(idx_header(0x08, shape))
        handle.truncate(len(idx_header(0x08, shape)) + payload)


def peak_while(fn) -> int:
    import torchvision.datasets  # noqa: F401  imported first: its allocations are not the loader's

    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_count_mismatch_is_found_before_reading_the_images(tmp_path: Path) -> None:
    write_mnist_layout(tmp_path)
    raw = tmp_path / "MNIST" / "raw"
    sparse_idx(raw / "train-images-idx3-ubyte", (100_000, 28, 28), 100_000 * 784)  # 78 MB
    cfg = DataConfig(dataset="mnist", root=str(tmp_path))

    def load() -> None:
        with pytest.raises(DataError, match="100,000 images but train-labels-idx1-ubyte has 12"):
            load_dataset(cfg)

    assert peak_while(load) < 8 * 1024**2


def test_plain_file_bigger_than_its_header_is_refused_unread(tmp_path: Path) -> None:
    write_mnist_layout(tmp_path)
    raw = tmp_path / "MNIST" / "raw"
    sparse_idx(raw / "train-images-idx3-ubyte", (12, 28, 28), 100_000 * 784)
    cfg = DataConfig(dataset="mnist", root=str(tmp_path))

    def load() -> None:
        with pytest.raises(DataError, match=r"train-images-idx3-ubyte: .*78,400,016 bytes"):
            load_dataset(cfg)

    assert peak_while(load) < 8 * 1024**2


def only_gz_left(raw: Path) -> bool:
    return all(p.name.endswith(".gz") for p in raw.iterdir())


def test_gz_that_is_not_idx_is_never_unpacked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from studio.core.data import download

    write_mnist_layout(tmp_path, gz=True)
    raw = tmp_path / "MNIST" / "raw"
    monkeypatch.setattr(download, "MAX_IDX_BYTES", 20_000)
    (raw / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(bytes(19_000)))  # under the cap
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz: bad IDX magic"):
        load_dataset(DataConfig(dataset="mnist", root=str(tmp_path)))
    assert only_gz_left(raw)


def test_gz_longer_than_its_header_is_never_unpacked(tmp_path: Path) -> None:
    write_mnist_layout(tmp_path, gz=True)
    raw = tmp_path / "MNIST" / "raw"
    body = idx_header(0x08, (12, 28, 28)) + bytes(12 * 784 + 50_000)
    (raw / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(body))
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz: unexpected bytes after"):
        load_dataset(DataConfig(dataset="mnist", root=str(tmp_path)))
    assert only_gz_left(raw)


def test_unpacked_copies_are_removed_when_the_load_fails(tmp_path: Path) -> None:
    write_mnist_layout(tmp_path, gz=True)
    raw = tmp_path / "MNIST" / "raw"
    write_idx(raw / "train-labels-idx1-ubyte.gz", np.zeros(5, np.uint8))  # valid, wrong count
    with pytest.raises(DataError, match="12 images but train-labels-idx1-ubyte"):
        load_dataset(DataConfig(dataset="mnist", root=str(tmp_path)))
    assert only_gz_left(raw)


def test_labels_must_be_integers(tmp_path: Path) -> None:
    write_mnist_layout(tmp_path)
    write_idx(tmp_path / "MNIST/raw/train-labels-idx1-ubyte", np.zeros(12, np.float32))
    with pytest.raises(DataError, match="train-labels-idx1-ubyte: expected integer labels"):
        load_dataset(DataConfig(dataset="mnist", root=str(tmp_path)))
