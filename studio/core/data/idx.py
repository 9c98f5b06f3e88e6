"""Reader for the IDX format of MNIST and friends (plain or gzip-compressed).

Untrusted input: the header is checked before the payload is read, and the payload is
read in chunks up to the size the header claims, so memory grows with the bytes the
file really holds. A hostile header cannot make us allocate gigabytes.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from studio.core.errors import DataError

# IDX type codes -> numpy big-endian dtypes (the format is big-endian).
_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
MAX_BYTES = 1024**3  # the largest split we know (EMNIST byclass images) is about 550 MB
_CHUNK = 8 * 1024**2


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file into a native-endian numpy array; DataError names file and problem."""
    path = Path(path)
    try:
        with _open(path) as handle:
            shape, dtype = _read_header(path, handle)
            expected = dtype.itemsize * int(np.prod(shape, dtype=np.float64))
            if expected > MAX_BYTES:
                raise DataError(
                    f"{path}: header claims shape {shape} ({expected:,} bytes), more than the "
                    f"{MAX_BYTES:,} bytes any dataset file may hold (corrupt header)"
                )
            payload = _read_payload(path, handle, expected, shape)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read ({_reason(exc)})") from None
    return np.frombuffer(payload, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write an IDX file (gzip-compressed when the name ends in .gz), atomically."""
    from studio.core.fileio import atomic_write_bytes

    array = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _DTYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None or not 1 <= array.ndim <= 4:
        raise ValueError(f"IDX cannot hold a {array.ndim}-d {array.dtype} array")
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    raw = header + array.astype(_DTYPES[code]).tobytes()
    path = Path(path)
    atomic_write_bytes(path, gzip.compress(raw, mtime=0) if path.suffix == ".gz" else raw)


def _open(path: Path) -> BinaryIO:
    # Decide by content, not by name: a .gz-named plain file or vice versa still reads.
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gzipped else path.open("rb")  # type: ignore[return-value]


def _read_header(path: Path, handle: BinaryIO) -> tuple[tuple[int, ...], np.dtype]:
    magic = handle.read(4)
    if len(magic) < 4:
        raise DataError(f"{path}: not an IDX file (only {len(magic)} bytes)")
    zero, code, ndim = int.from_bytes(magic[:2], "big"), magic[2], magic[3]
    if zero != 0 or code not in _DTYPES or not 1 <= ndim <= 4:
        raise DataError(f"{path}: bad IDX magic number 0x{magic.hex()}")
    dims = handle.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise DataError(f"{path}: truncated IDX header ({4 + len(dims)} of {4 + 4 * ndim} bytes)")
    shape = tuple(int.from_bytes(dims[4 * i : 4 * i + 4], "big") for i in range(ndim))
    return shape, np.dtype(_DTYPES[code])


def _read_payload(path: Path, handle: BinaryIO, expected: int, shape: tuple[int, ...]) -> bytearray:
    payload = bytearray()
    while len(payload) < expected:
        chunk = handle.read(min(_CHUNK, expected - len(payload)))
        if not chunk:
            raise DataError(
                f"{path}: header claims shape {shape} ({expected:,} bytes) but the file holds "
                f"only {len(payload):,} bytes of data (truncated or corrupt)"
            )
        payload += chunk
    if handle.read(1):
        raise DataError(
            f"{path}: unexpected bytes after the {expected:,} bytes of data the header claims"
        )
    return payload


def _reason(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "the compressed stream ends early: truncated gzip"
    return str(exc) or type(exc).__name__
