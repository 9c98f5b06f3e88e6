"""Image folders written as real PNG/JPEG files: labels, sizes, channels, bad files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from studio.core.config import DataConfig
from studio.core.data import load_dataset, load_image_folder
from studio.core.data.folder import auto_size
from studio.core.data.registry import absolute_dataset
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


# -- issue 11: nothing lost, nothing frozen -------------------------------------------------


def grey_folder(folder: Path, n: int, size: int = 20) -> None:
    for i in range(n):
        save(folder / f"img{i:02d}.png", "L", (size, size), 10 * i)


@pytest.mark.parametrize("odd", [(1, 1), (4000, 4000)])
def test_size_is_the_most_common_not_the_first_file(tmp_path: Path, odd: tuple[int, int]) -> None:
    grey_folder(tmp_path, 5)
    save(tmp_path / "000-first.png", "L", odd, 200)  # first in sort order
    data = load_image_folder(tmp_path)
    assert data.image_shape == (1, 20, 20) and len(data) == 6
    assert any(line.startswith("size 20×20: the most common") for line in data.notes)


def test_configured_size_is_stated(tmp_path: Path) -> None:
    grey_folder(tmp_path, 2)
    data = load_image_folder(tmp_path, image_size=12)
    assert data.image_shape == (1, 12, 12)
    assert "size 12×12: as configured (data.image_size)" in data.notes


def test_one_colour_image_does_not_make_the_folder_rgb(tmp_path: Path) -> None:
    grey_folder(tmp_path, 19)
    Image.new("CMYK", (20, 20), (0, 255, 255, 0)).save(tmp_path / "red.jpg", quality=95)
    data = load_image_folder(tmp_path)
    assert data.image_shape == (1, 20, 20) and len(data) == 20
    assert any(line.startswith("grey: 1 of 20 images has colour") for line in data.notes)


def test_cmyk_jpeg_converts_to_the_right_colour(tmp_path: Path) -> None:
    grey_folder(tmp_path, 8)
    for i in range(2):  # 2 of 10 = 20% colour: RGB
        Image.new("CMYK", (20, 20), (0, 255, 255, 0)).save(tmp_path / f"red{i}.jpg", quality=95)
    data = load_image_folder(tmp_path)
    assert data.image_shape == (3, 20, 20)
    red = data.images[-1, :, 10, 10].tolist()
    assert red[0] > 240 and red[1] < 15 and red[2] < 15
    assert data.images[0, :, 0, 0].tolist() == [0, 0, 0]  # a grey file as three equal channels
    assert any(line.startswith("RGB: 2 of 10 images have colour") for line in data.notes)


def test_links_into_the_folder_or_above_are_not_classes(tmp_path: Path) -> None:
    root, outside = tmp_path / "set", tmp_path / "elsewhere"
    for cls in ("cat", "dog"):
        save(root / cls / "a.png", "L", (8, 8), 1)
    save(outside / "b.png", "L", (8, 8), 2)
    (root / "loop").symlink_to(".")
    (root / "up").symlink_to("..")
    (root / "dog" / "again").symlink_to("../cat")  # would copy the cats into dog
    (root / "bird").symlink_to(outside)  # a class kept elsewhere is followed
    data = load_image_folder(root)
    assert data.class_names == ["bird", "cat", "dog"] and len(data) == 3
    assert any("loop" in line and "not followed" in line for line in data.notes)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    stored = np.zeros((16, 16), np.uint8)
    stored[:8] = 255  # top half white as stored; orientation 6 shows it on the right
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(tmp_path / "turned.jpg", exif=exif, quality=95)
    data = load_image_folder(tmp_path)
    shown = data.images[0, 0].float()
    assert shown[:, 12:].mean() > 200 and shown[:, :4].mean() < 50


def test_names_that_are_not_utf8_work(tmp_path: Path) -> None:
    odd = os.path.join(os.fsencode(tmp_path), b"\xff\xfe")
    os.mkdir(odd)
    png = tmp_path / "tmp.png"
    save(png, "L", (8, 8), 5)
    (Path(os.fsdecode(odd)) / os.fsdecode(b"\xe9.png")).write_bytes(png.read_bytes())
    (Path(os.fsdecode(odd)) / os.fsdecode(b"bad\xe9.png")).write_bytes(b"junk")
    png.unlink()
    save(tmp_path / "plain" / "a.png", "L", (8, 8), 6)
    data = load_image_folder(tmp_path)
    assert data.class_names is not None and sorted(data.class_names) == ["\\xff\\xfe", "plain"]
    text = json.dumps(
        {"classes": data.class_names, "notes": data.notes, "skipped": data.skipped},
        ensure_ascii=False,
    )
    text.encode("utf-8")  # what a checkpoint, a run dir or a terminal does with them
    assert "\\xff\\xfe/bad\\xe9.png" in "".join(data.skipped)


def test_summary_reports_skipped_files_and_dropped_classes(tmp_path: Path) -> None:
    save(tmp_path / "cat" / "a.png", "L", (8, 8), 1)
    save(tmp_path / "cat" / "b.png", "L", (8, 8), 2)
    (tmp_path / "cat" / "c.png").write_bytes(b"not a png")
    save(tmp_path / "dog" / "a.png", "L", (8, 8), 3)
    (tmp_path / "ghost" / "x.png").parent.mkdir()
    (tmp_path / "ghost" / "x.png").write_bytes(b"junk")
    (tmp_path / "ghost" / "y.jpg").write_bytes(b"junk")
    data = load_image_folder(tmp_path)
    assert data.class_names == ["cat", "dog"]
    assert data.notes[0] == "3 images in 2 classes, 3 skipped"
    assert any(line.startswith("skipped cat/c.png: ") for line in data.notes)
    assert "class 'ghost' dropped: none of its 2 files could be read" in data.notes


def test_notes_survive_preparation(tmp_path: Path) -> None:
    grey_folder(tmp_path / "imgs", 3)
    cfg = DataConfig(dataset=str(tmp_path / "imgs"), image_size=8, channels=3)
    data = load_dataset(cfg)
    assert data.image_shape == (3, 8, 8) and data.notes[0] == "3 images, unlabelled, 0 skipped"
    assert data.to("cpu").notes == data.notes


def test_relative_folder_is_read_as_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    grey_folder(tmp_path / "imgs", 2)
    monkeypatch.chdir(tmp_path)
    assert absolute_dataset("imgs") == str(tmp_path / "imgs")
    assert absolute_dataset("./imgs/") == str(tmp_path / "imgs")
    assert absolute_dataset("mnist") == "mnist" and absolute_dataset("svhn") == "svhn"
    assert load_image_folder("imgs").source == str(tmp_path / "imgs")
    data = load_dataset(DataConfig(dataset="imgs"))
    monkeypatch.chdir("/")
    assert data.source == str(tmp_path / "imgs") and len(data) == 2


def test_dataset_tab_shows_the_folder_decision(tmp_path: Path) -> None:
    pytest.importorskip("PySide6")
    from studio.ui.tabs.dataset_preview import build_preview, preview_text

    grey_folder(tmp_path / "a", 3)
    (tmp_path / "a" / "bad.png").write_bytes(b"<junk>")
    preview = build_preview(DataConfig(dataset=str(tmp_path / "a")))
    assert preview.notes[0] == "3 images, unlabelled, 1 skipped"
    text = preview_text(preview)
    assert "size 20×20: the most common size" in text and "grey: no image has colour" in text
    assert "skipped bad.png: not a readable PNG or JPEG image" in text


def test_16_bit_grey_png_scales_to_8_bits(tmp_path: Path) -> None:
    for i, value in enumerate((65535, 32896, 0)):
        Image.fromarray(np.full((12, 16), value, np.uint16)).save(tmp_path / f"{i}.png")
    data = load_image_folder(tmp_path)
    assert data.image_shape == (1, 12, 12) and data.images[:, 0, 5, 5].tolist() == [255, 128, 0]
