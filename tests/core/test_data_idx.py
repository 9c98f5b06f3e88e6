"""The IDX reader on real files: good ones round-trip, each kind of bad one is named."""

from __future__ import annotations

import gzip
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from studio.core.data.embedded import load_idx_pair
from studio.core.data.idx import read_idx, write_idx
from studio.core.errors import DataError


def idx_bytes(code: int, shape: tuple[int, ...], payload: bytes) -> bytes:
    return bytes([0, 0, code, len(shape)]) + b"".join(d.to_bytes(4, "big") for d in shape) + payload


@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_round_trip_plain_and_gz(tmp_path: Path, name: str) -> None:
    images = np.random.default_rng(0).integers(0, 256, (7, 5, 4), dtype=np.uint8)
    write_idx(tmp_path / name, images)
    raw = (tmp_path / name).read_bytes()
    assert raw[:2] == (b"\x1f\x8b" if name.endswith(".gz") else b"\x00\x00")
    np.testing.assert_array_equal(read_idx(tmp_path / name), images)


def test_wider_types_are_big_endian_on_disk(tmp_path: Path) -> None:
    values = np.array([1, -2, 70000], dtype=np.int32)
    (tmp_path / "v").write_bytes(idx_bytes(0x0C, (3,), values.astype(">i4").tobytes()))
    out = read_idx(tmp_path / "v")
    assert out.dtype == np.int32 and out.tolist() == [1, -2, 70000]


def test_bad_magic_number(tmp_path: Path) -> None:
    (tmp_path / "bad").write_bytes(b"\x12\x34\x08\x03" + bytes(12))
    with pytest.raises(DataError, match=r"bad.*magic number 0x12340803"):
        read_idx(tmp_path / "bad")


def test_unknown_type_code(tmp_path: Path) -> None:
    (tmp_path / "bad").write_bytes(idx_bytes(0x07, (1,), b"\x00"))
    with pytest.raises(DataError, match="magic number"):
        read_idx(tmp_path / "bad")


def test_truncated_header(tmp_path: Path) -> None:
    (tmp_path / "short").write_bytes(b"\x00\x00\x08\x03" + bytes(5))
    with pytest.raises(DataError, match=r"short: truncated IDX header"):
        read_idx(tmp_path / "short")


def test_tiny_file(tmp_path: Path) -> None:
    (tmp_path / "tiny").write_bytes(b"\x00\x00")
    with pytest.raises(DataError, match="tiny: not an IDX file"):
        read_idx(tmp_path / "tiny")


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_data(tmp_path: Path, gz: bool) -> None:
    raw = idx_bytes(0x08, (10, 28, 28), bytes(9 * 28 * 28))
    path = tmp_path / ("cut.gz" if gz else "cut")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    with pytest.raises(DataError, match=r"cut.*claims shape \(10, 28, 28\).*only 7,056 bytes"):
        read_idx(path)


def test_trailing_bytes(tmp_path: Path) -> None:
    (tmp_path / "long").write_bytes(idx_bytes(0x08, (2,), b"\x01\x02\x03"))
    with pytest.raises(DataError, match="long: unexpected bytes"):
        read_idx(tmp_path / "long")


@pytest.mark.parametrize("shape", [(60000, 1000, 1000), (2**31, 2**31, 2**31), (100000, 28, 28)])
def test_hostile_header_allocates_nothing_big(tmp_path: Path, shape: tuple[int, ...]) -> None:
    (tmp_path / "hostile").write_bytes(gzip.compress(idx_bytes(0x08, shape, bytes(1000))))
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="hostile"):
            read_idx(tmp_path / "hostile")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024**2


def test_corrupt_gzip(tmp_path: Path) -> None:
    good = gzip.compress(idx_bytes(0x08, (100, 10), bytes(range(100)) * 10))
    bad = good[:10] + bytes(b ^ 0xFF for b in good[10:30]) + good[30:]
    (tmp_path / "bad.gz").write_bytes(bad)
    with pytest.raises(DataError, match=r"bad\.gz: cannot read"):
        read_idx(tmp_path / "bad.gz")


def test_truncated_gzip(tmp_path: Path) -> None:
    good = gzip.compress(idx_bytes(0x08, (100, 10), bytes(1000)))
    (tmp_path / "cut.gz").write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match=r"cut\.gz: (cannot read|header claims)"):
        read_idx(tmp_path / "cut.gz")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nope: file not found"):
        read_idx(tmp_path / "nope")


def test_mismatched_image_and_label_counts(tmp_path: Path) -> None:
    write_idx(tmp_path / "img.gz", np.zeros((5, 4, 4), np.uint8))
    write_idx(tmp_path / "lab.gz", np.zeros(4, np.uint8))
    with pytest.raises(DataError, match=r"img\.gz: 5 images but lab\.gz has 4 labels"):
        load_idx_pair(tmp_path / "img.gz", tmp_path / "lab.gz", "pair")
