"""Reader for the IDX format of MNIST and friends (plain or gzip-compressed).

Untrusted input: the header is checked before the payload is read. A plain file must be
exactly as long as its header says before anything is allocated; a gzip stream is read
in chunks up to the size the header claims, so memory grows with the bytes the file
really holds. A hostile header cannot make us allocate gigabytes. ``copy_idx`` applies
the same checks while unpacking a gzip stream to disk.
"""

from __future__ import annotations

import contextlib
import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from studio.core.errors import DataError

# IDX type codes -> numpy big-endian dtypes (the format is big-endian).
_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
MAX_BYTES = 1024**3  # the largest split we know (EMNIST byclass images) is about 550 MB
_CHUNK = 8 * 1024**2


@dataclass(frozen=True)
class IdxHeader:
    """What an IDX file says it holds, checked against MAX_BYTES (and the file's length)."""

    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def header_bytes(self) -> int:
        return 4 + 4 * len(self.shape)

    @property
    def payload_bytes(self) -> int:
        return self.dtype.itemsize * int(np.prod(self.shape, dtype=np.float64))


def read_idx_header(path: str | Path) -> IdxHeader:
    """The header alone, so a caller can compare files before reading any payload."""
    path = Path(path)
    with _errors_named(path), _open(path) as (handle, gzipped):
        header = _checked_header(path, handle, MAX_BYTES)
        if not gzipped:
            _check_length(path, header)
    return header


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file into a native-endian numpy array; DataError names file and problem."""
    path = Path(path)
    with _errors_named(path), _open(path) as (handle, gzipped):
        header = _checked_header(path, handle, MAX_BYTES)
        if gzipped:
            flat = np.frombuffer(_read_chunks(path, handle, header), dtype=np.uint8)
        else:
            _check_length(path, header)
            flat = _read_exact(path, handle, header)
    native = header.dtype.newbyteorder("=")
    return flat.view(header.dtype).reshape(header.shape).astype(native, copy=False)


def copy_idx(src: BinaryIO, dst: BinaryIO, origin: Path, max_bytes: int = MAX_BYTES) -> None:
    """Copy an IDX stream (a gzip member being unpacked), checking it as ``read_idx`` does.

    The header is checked before a byte is written, and the copy must hold exactly the
    payload it claims: a gzip bomb stops at ``max_bytes``, trailing junk is refused.
    The caller writes to a temporary file, so a refusal leaves nothing behind.
    """
    header = _checked_header(origin, src, max_bytes, unpacking=True)
    dst.write(_header_bytes(header))
    left = header.payload_bytes
    while left:
        chunk = src.read(min(_CHUNK, left))
        if not chunk:
            raise _short(origin, header, header.payload_bytes - left)
        dst.write(chunk)
        left -= len(chunk)
    if src.read(1):
        raise _trailing(origin, header)


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write an IDX file (gzip-compressed when the name ends in .gz), atomically."""
    from studio.core.fileio import atomic_write_bytes

    array = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _DTYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None or not 1 <= array.ndim <= 4:
        raise ValueError(f"IDX cannot hold a {array.ndim}-d {array.dtype} array")
    header = IdxHeader(tuple(int(d) for d in array.shape), np.dtype(_DTYPES[code]))
    raw = _header_bytes(header) + array.astype(_DTYPES[code]).tobytes()
    path = Path(path)
    atomic_write_bytes(path, gzip.compress(raw, mtime=0) if path.suffix == ".gz" else raw)


@contextlib.contextmanager
def _errors_named(path: Path) -> Iterator[None]:
    """Turns the I/O failures of reading one file into a DataError that names it."""
    try:
        yield
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read ({_reason(exc)})") from None


@contextlib.contextmanager
def _open(path: Path) -> Iterator[tuple[BinaryIO, bool]]:
    """(handle, gzipped), deciding by content: a .gz-named plain file still reads."""
    with path.open("rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        if not gzipped:
            yield raw, False
            return
        with gzip.GzipFile(fileobj=raw, mode="rb") as unpacked:
            yield unpacked, True  # type: ignore[misc]


def _checked_header(
    path: Path, handle: BinaryIO, max_bytes: int, unpacking: bool = False
) -> IdxHeader:
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
    header = IdxHeader(shape, np.dtype(_DTYPES[code]))
    if header.payload_bytes > max_bytes:
        what = "unpacks to" if unpacking else "would hold"
        raise DataError(
            f"{path}: {what} more than {max_bytes:,} bytes: its header claims shape {shape} "
            f"({header.payload_bytes:,} bytes), more than any dataset file holds (corrupt header)"
        )
    return header


def _check_length(path: Path, header: IdxHeader) -> None:
    """A plain file's length is known up front: compare before allocating anything."""
    have = path.stat().st_size - header.header_bytes
    if have < header.payload_bytes:
        raise _short(path, header, have)
    if have > header.payload_bytes:
        raise _trailing(path, header, f" (the file holds {path.stat().st_size:,} bytes)")


def _read_exact(path: Path, handle: BinaryIO, header: IdxHeader) -> np.ndarray:
    out = np.empty(header.payload_bytes, dtype=np.uint8)  # the length was checked
    view, done = memoryview(out), 0
    while done < len(out):
        n = handle.readinto(view[done : done + _CHUNK])  # type: ignore[attr-defined]
        if not n:
            raise _short(path, header, done)  # the file shrank while we read it
        done += n
    return out


def _read_chunks(path: Path, handle: BinaryIO, header: IdxHeader) -> bytearray:
    payload = bytearray()
    while len(payload) < header.payload_bytes:
        chunk = handle.read(min(_CHUNK, header.payload_bytes - len(payload)))
        if not chunk:
            raise _short(path, header, len(payload))
        payload += chunk
    if handle.read(1):
        raise _trailing(path, header)
    return payload


def _header_bytes(header: IdxHeader) -> bytes:
    code = next(k for k, v in _DTYPES.items() if np.dtype(v) == header.dtype)
    dims = b"".join(int(d).to_bytes(4, "big") for d in header.shape)
    return bytes([0, 0, code, len(header.shape)]) + dims


def _short(path: Path, header: IdxHeader, have: int) -> DataError:
    return DataError(
        f"{path}: header claims shape {header.shape} ({header.payload_bytes:,} bytes) but the "
        f"file holds only {have:,} bytes of data (truncated or corrupt)"
    )


def _trailing(path: Path, header: IdxHeader, detail: str = "") -> DataError:
    return DataError(
        f"{path}: unexpected bytes after the {header.payload_bytes:,} bytes of data the header "
        f"claims{detail}"
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "the compressed stream ends early: truncated gzip"
    return str(exc) or type(exc).__name__
