"""Image folders written as real PNG/JPEG files: labels, sizes, channels, bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from studio.core.config import DataConfig
from studio.core.data import load_dataset, load_image_folder
from studio.core.data.folder import auto_size
from studio.core.errors import DataError


def save(path: Path, mode: str, size: tuple[int, int], value: int | tuple[int, ...]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value).save(path)


def test_class_subfolders_give_labels(tmp_path: Path) -> None:
    for cls, n in (("cat", 2), ("dog", 3)):
        for i in range(n):
            save(tmp_path / cls / f"{i}.png", "L", (20, 20), 40 * i)
    save(tmp_path / "dog" / "deeper" / "x.PNG", "L", (20, 20), 9)
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    data = load_image_folder(tmp_path)
    assert data.class_names == ["cat", "dog"]
    assert data.labels is not None and data.labels.tolist() == [0, 0, 1, 1, 1, 1]
    assert data.images.shape == (6, 1, 20, 20) and data.images.dtype == torch.uint8
    assert data.skipped == [] and data.source == str(tmp_path)


def test_flat_folder_is_unlabelled(tmp_path: Path) -> None:
    for i in range(3):
        save(tmp_path / f"{i}.jpg", "RGB", (16, 16), (200, 10, 10))
    data = load_image_folder(tmp_path)
    assert data.labels is None and data.class_names is None
    assert data.image_shape == (3, 16, 16)
    assert abs(int(data.images[0, 0].float().mean()) - 200) < 8  # JPEG is lossy


def test_mixed_grey_and_rgb_becomes_rgb(tmp_path: Path) -> None:
    save(tmp_path / "a.png", "L", (8, 8), 100)
    save(tmp_path / "b.png", "RGB", (8, 8), (0, 255, 0))
    data = load_image_folder(tmp_path)
    assert data.image_shape == (3, 8, 8)
    assert data.images[0, :, 0, 0].tolist() == [100, 100, 100] and data.images[
        1, :, 0, 0
    ].tolist() == [0, 255, 0]
    grey = load_image_folder(tmp_path, channels=1)
    assert grey.image_shape == (1, 8, 8) and grey.images[1, 0, 0, 0] == 150  # 0.587 * 255


def test_rgb_files_with_equal_channels_count_as_grey(tmp_path: Path) -> None:
    save(tmp_path / "a.png", "RGB", (8, 8), (70, 70, 70))
    save(tmp_path / "b.png", "LA", (8, 8), (30, 255))
    data = load_image_folder(tmp_path)
    assert data.image_shape == (1, 8, 8) and data.images[:, 0, 0, 0].tolist() == [70, 30]


def test_unreadable_files_are_listed_and_skipped(tmp_path: Path) -> None:
    save(tmp_path / "one" / "good.png", "L", (8, 8), 1)
    (tmp_path / "one" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    good = tmp_path / "two" / "cut.png"
    save(good, "RGB", (64, 64), (1, 2, 3))
    good.write_bytes(good.read_bytes()[:60])  # truncated
    save(tmp_path / "three" / "ok.jpeg", "L", (8, 8), 3)
    data = load_image_folder(tmp_path)
    assert len(data) == 2 and len(data.skipped) == 2
    assert data.skipped[0].startswith("one/bad.png: ") and data.skipped[1].startswith(
        "two/cut.png: "
    )
    assert (
        data.class_names == ["one", "three"]
        and data.labels is not None
        and data.labels.tolist() == [0, 1]
    )


def test_sizes_square_crop_and_auto(tmp_path: Path) -> None:
    img = np.zeros((30, 50), np.uint8)
    img[:, 10:40] = 255  # the centre square is white, the sides black
    Image.fromarray(img).save(tmp_path / "wide.png")
    data = load_image_folder(tmp_path)  # auto: shorter side 30 -> multiple of 4 = 28
    assert data.image_shape == (1, 28, 28) and int(data.images.min()) > 200
    assert load_image_folder(tmp_path, image_size=12).image_shape == (1, 12, 12)
    assert auto_size(1024, 768) == 64 and auto_size(5, 5) == 8 and auto_size(32, 40) == 32


def test_empty_folder_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("hi")
    with pytest.raises(DataError, match=f"{tmp_path}: no readable PNG or JPEG images"):
        load_image_folder(tmp_path)
    (tmp_path / "x.png").write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"unreadable: x\.png"):
        load_image_folder(tmp_path)


def test_folder_through_load_dataset(tmp_path: Path) -> None:
    for i in range(4):
        save(tmp_path / "imgs" / f"{i}.png", "RGB", (40, 40), (i, 2 * i, 3 * i))
    cfg = DataConfig(dataset=str(tmp_path / "imgs"), image_size=16, channels=3)
    seen: list[tuple[int, int | None]] = []
    data = load_dataset(cfg, progress=lambda d, t: seen.append((d, t)))
    assert data.image_shape == (3, 16, 16) and len(data) == 4 and seen[-1] == (4, 4)
    assert len(load_dataset(cfg, "test")) == 4
    (tmp_path / "file.png").write_bytes(b"")
    with pytest.raises(DataError, match="is a file"):
        load_dataset(DataConfig(dataset=str(tmp_path / "file.png")))
