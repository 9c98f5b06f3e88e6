"""Fuzzing the IDX reader and the torchvision layout: headers, payloads, gzip.

Every example writes a real file (plain or gzip, sometimes cut short or corrupted) and
reads it; the reader must give the array its header claims or a DataError naming the
file, within the time and memory bounds of ``fuzzing.works_or_user_error``. Through
``load_dataset`` a failed load must also leave no unpacked copy behind.
"""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import numpy as np
import torch
import torchvision.datasets  # noqa: F401  imported here, not inside a timed, traced example
from fuzzing import FUZZ, assert_valid_text, works_or_user_error
from hypothesis import given
from hypothesis import strategies as st

from studio.core.config import DataConfig
from studio.core.data import load_dataset
from studio.core.data.idx import read_idx, write_idx
from studio.core.errors import DataError

CODES = [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E]
SIZES = {0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}


@st.composite
def idx_files(draw: st.DrawFn) -> bytes:
    """IDX bytes: mostly plausible headers, some hostile; payloads near the claimed size."""
    zero = draw(st.sampled_from([b"\0\0", b"\0\0", b"\0\0", b"\x12\x34"]))
    code = draw(st.sampled_from(CODES) | st.integers(0, 255))
    dims = draw(st.lists(st.integers(0, 6) | st.integers(0, 2**32 - 1), min_size=0, max_size=5))
    ndim = draw(st.just(len(dims)) | st.integers(0, 255))
    header = zero + bytes([code, ndim]) + b"".join(d.to_bytes(4, "big") for d in dims)
    header = header[: draw(st.integers(0, len(header)))] if draw(st.booleans()) else header
    claimed = SIZES.get(code, 1) * int(np.prod(dims, dtype=np.float64)) if dims else 0
    if claimed <= 4096 and draw(st.booleans()):
        length = max(0, claimed + draw(st.integers(-3, 3)))  # just short, exact, just long
        payload = draw(st.binary(min_size=length, max_size=length))
    else:
        payload = draw(st.binary(max_size=512))
    return header + payload


def packed(draw: st.DrawFn, raw: bytes) -> bytes:
    """Plain, gzip, or gzip cut short / with a flipped byte."""
    kind = draw(st.sampled_from(["plain", "gz", "gz-cut", "gz-flip"]))
    if kind == "plain":
        return raw
    data = bytearray(gzip.compress(raw, mtime=0))
    if kind == "gz-cut":
        return bytes(data[: draw(st.integers(2, len(data)))])
    if kind == "gz-flip":
        at = draw(st.integers(2, len(data) - 1))
        data[at] ^= draw(st.integers(1, 255))
    return bytes(data)


@FUZZ
@given(st.data())
def test_read_idx_gives_the_claimed_array_or_a_data_error(data: st.DataObject) -> None:
    body = packed(data.draw, data.draw(idx_files()))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzzed-idx3-ubyte"
        path.write_bytes(body)
        result = works_or_user_error(lambda: read_idx(path))
    if isinstance(result, DataError):
        assert str(result).startswith(str(path)), result
        assert_valid_text(str(result))
    else:
        assert isinstance(result, np.ndarray) and 1 <= result.ndim <= 4
        assert result.dtype.isnative


@FUZZ
@given(st.data())
def test_mnist_layout_loads_or_fails_cleanly(data: st.DataObject) -> None:
    """The images file of a torchvision MNIST root, fuzzed, plain or hand-placed .gz."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        raw = root / "MNIST" / "raw"
        gz = data.draw(st.booleans())
        suffix = ".gz" if gz else ""
        for prefix, n in (("train", 4), ("t10k", 2)):
            write_idx(raw / f"{prefix}-images-idx3-ubyte{suffix}", np.zeros((n, 28, 28), np.uint8))
            write_idx(raw / f"{prefix}-labels-idx1-ubyte{suffix}", np.arange(n, dtype=np.uint8))
        body = data.draw(idx_files())
        target = raw / f"train-images-idx3-ubyte{suffix}"
        target.write_bytes(packed(data.draw, body) if gz else body)
        cfg = DataConfig(dataset="mnist", root=str(root))
        result = works_or_user_error(lambda: load_dataset(cfg))
        if isinstance(result, DataError):
            assert_valid_text(str(result))
            if gz:  # nothing unpacked is left behind by a failed load
                assert all(p.name.endswith(".gz") for p in raw.iterdir()), list(raw.iterdir())
        else:
            assert result.images.dtype == torch.uint8 and result.images.ndim == 4
            assert result.labels is not None and len(result.labels) == len(result.images) == 4
