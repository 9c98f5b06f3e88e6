"""Fuzzing image folders: real PNG/JPEG files of many sizes and modes, then damaged.

Each example writes a few files (odd sizes, modes, EXIF orientations, names that are not
UTF-8, wrong suffixes) into class subfolders or a flat folder, damages some (cut short,
flipped bytes, junk, a PNG header claiming a huge image with a valid CRC), and loads the
folder through ``load_dataset``. The studio must give a consistent ImageData or a
DataError, within the bounds of ``fuzzing.works_or_user_error``; all text must encode.
"""

from __future__ import annotations

import io
import os
import tempfile
import zlib

import numpy as np
from fuzzing import FUZZ, assert_valid_text, works_or_user_error
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from studio.core.config import DataConfig
from studio.core.data import ImageData, load_dataset
from studio.core.errors import DataError

PNG_MODES = ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"]
JPEG_MODES = ["L", "RGB", "CMYK"]
BANDS = {"1": 0, "L": 1, "LA": 2, "P": 1, "RGB": 3, "RGBA": 4, "I;16": 2, "CMYK": 4}
NAMES = st.binary(min_size=1, max_size=6).filter(
    lambda b: b"/" not in b and b"\0" not in b and not b.startswith(b".")
)


@st.composite
def encoded_image(draw: st.DrawFn) -> bytes:
    fmt = draw(st.sampled_from(["PNG", "JPEG"]))
    mode = draw(st.sampled_from(PNG_MODES if fmt == "PNG" else JPEG_MODES))
    w, h = draw(st.integers(1, 48)), draw(st.integers(1, 48))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    count = (w + 7) // 8 * h if mode == "1" else BANDS[mode] * w * h
    img = Image.frombytes(mode, (w, h), rng.bytes(count))
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = draw(st.integers(0, 9))  # orientation, including values out of range
    if draw(st.booleans()):
        img.save(out, fmt, exif=exif.tobytes())
    else:
        img.save(out, fmt)
    return out.getvalue()


def damaged(draw: st.DrawFn, data: bytes) -> bytes:
    kind = draw(st.sampled_from(["none", "none", "cut", "flip", "junk", "empty", "huge"]))
    if kind == "cut":
        return data[: draw(st.integers(0, len(data) - 1))]
    if kind == "flip":
        buf = bytearray(data)
        for _ in range(draw(st.integers(1, 4))):
            buf[draw(st.integers(0, len(buf) - 1))] ^= draw(st.integers(1, 255))
        return bytes(buf)
    if kind == "junk":
        return draw(st.binary(max_size=256))
    if kind == "empty":
        return b""
    if kind == "huge" and data.startswith(b"\x89PNG"):
        return _png_claiming(data, draw(st.integers(1, 2**31 - 1)), draw(st.integers(1, 2**16)))
    return data


def _png_claiming(data: bytes, width: int, height: int) -> bytes:
    """The same PNG with IHDR claiming another size, CRC fixed so the header is believed."""
    ihdr = bytearray(data[12:29])  # b"IHDR" + 13 bytes of data
    ihdr[4:12] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    crc = zlib.crc32(bytes(ihdr)).to_bytes(4, "big")
    return data[:12] + bytes(ihdr) + crc + data[33:]


@st.composite
def folders(draw: st.DrawFn) -> list[tuple[bytes | None, bytes, bytes]]:
    """(class folder name or None, file name, contents) for 1..6 files."""
    classes = draw(st.lists(NAMES, min_size=0, max_size=2, unique=True))
    files = []
    for i in range(draw(st.integers(1, 6))):
        folder = draw(st.sampled_from(classes)) if classes else None
        stem = draw(NAMES) if draw(st.booleans()) else f"img{i}".encode()
        suffix = draw(st.sampled_from([b".png", b".jpg", b".jpeg", b".PNG"]))
        files.append(
            (folder, f"{i}-".encode() + stem + suffix, damaged(draw, draw(encoded_image())))
        )
    return files


def write(root: bytes, files: list[tuple[bytes | None, bytes, bytes]]) -> None:
    for folder, name, body in files:
        where = root if folder is None else os.path.join(root, folder)
        os.makedirs(where, exist_ok=True)
        with open(os.path.join(where, name), "wb") as handle:
            handle.write(body)


def check_consistent(data: ImageData, image_size: int, channels: int) -> None:
    n, c, h, w = data.images.shape
    assert n == len(data) >= 1 and h == w and c in (1, 3)
    assert image_size in (0, h) and channels in (0, c)
    if data.labels is not None:
        assert data.class_names and len(data.labels) == n
        assert int(data.labels.min()) >= 0 and int(data.labels.max()) < len(data.class_names)
    assert data.notes and data.notes[0].startswith(f"{n:,} image")
    for text in (*data.notes, *data.skipped, *(data.class_names or ()), data.source, data.name):
        assert_valid_text(text)


@FUZZ
@given(folders(), st.sampled_from([0, 0, 8, 13]), st.sampled_from([0, 0, 1, 3]))
def test_image_folder_loads_or_fails_cleanly(
    files: list[tuple[bytes | None, bytes, bytes]], image_size: int, channels: int
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = os.path.join(os.fsencode(folder), b"set")
        write(root, files)
        cfg = DataConfig(dataset=os.fsdecode(root), image_size=image_size, channels=channels)
        result = works_or_user_error(lambda: load_dataset(cfg))
    if isinstance(result, DataError):
        assert_valid_text(str(result))
        assert "no readable PNG or JPEG images" in str(result), result
    else:
        check_consistent(result, image_size, channels)
