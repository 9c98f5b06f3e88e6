"""File writes that are atomic and whose failures are the user's errors.

Atomic: a temporary file in the same folder, fsync, then os.replace, so a crash
mid-write leaves either the old file or the new one, never half of one. A kill can
leave the temporary file (``.<name>.<8 characters>.tmp``); ``remove_stale_temps``
clears them when a run directory is next opened for writing.

Modes: files are created with 0o666 and the user's umask applies (tempfile.mkstemp
would make every file 0600, unreadable to a group sharing a run directory).

Failures: a full disk, a quota, a missing permission or a read-only file system
(``WRITE_CAUSES``) raise ``WriteError`` naming the file and the cause, e.g.
``runs/x/metrics.jsonl: cannot write (no space left on the disk)``.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from studio.core.errors import WriteError

WRITE_CAUSES = {
    errno.ENOSPC: "no space left on the disk",
    errno.EFBIG: "the file is too large for the file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.EISDIR: "it is a folder",
}
if hasattr(errno, "EDQUOT"):
    WRITE_CAUSES[errno.EDQUOT] = "disk quota exceeded"

_BINARY = getattr(os, "O_BINARY", 0)  # Windows would translate newlines otherwise
_TEMP = re.compile(r"^\..+\.[0-9a-z_]{8}\.tmp$")  # ours, and tempfile.mkstemp's before


def write_error(path: Path, exc: OSError) -> WriteError | None:
    """The user's error for an OSError of writing ``path``; None for any other cause."""
    cause = WRITE_CAUSES.get(exc.errno or 0)
    return None if cause is None else WriteError(f"{path}: cannot write ({cause})", exc.errno)


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn the write failures of the block into a WriteError naming ``path``."""
    try:
        yield
    except WriteError:
        raise
    except OSError as exc:
        error = write_error(path, exc)
        if error is None:
            raise
        raise error from None


def write_all(fd: int, data: bytes | memoryview) -> None:
    """os.write until every byte is out (a write may be partial)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _create_temp(path: Path) -> tuple[int, Path]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, flags, 0o666), tmp  # the umask applies
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(path))


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


class _FdFile(io.RawIOBase):
    """A raw file over a descriptor whose writes are os.write: every byte the studio
    writes goes through one call (and one place a test can make fail)."""

    def __init__(self, fd: int):
        super().__init__()
        self._fd = fd

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data) -> int:
        return os.write(self._fd, data)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return os.lseek(self._fd, offset, whence)

    def tell(self) -> int:
        return os.lseek(self._fd, 0, os.SEEK_CUR)

    def fileno(self) -> int:
        return self._fd

    def close(self) -> None:
        if not self.closed:
            try:
                os.close(self._fd)
            finally:
                super().close()


@contextlib.contextmanager
def atomic_open(path: Path, mode: str = "wb") -> Iterator[IO]:
    """A file object to stream into; ``path`` appears complete when the block ends."""
    path = Path(path)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _create_temp(path)
        try:
            buffered = io.BufferedWriter(_FdFile(fd))
            handle = buffered if "b" in mode else io.TextIOWrapper(buffered, encoding="utf-8")
            with handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            _unlink_quietly(tmp)
            raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _create_temp(path)
        try:
            try:
                write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            _unlink_quietly(tmp)
            raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_link(source: Path, dest: Path) -> None:
    """``dest`` becomes another name of ``source`` (a hard link: no second copy on disk),
    or an atomic copy where the file system has no hard links."""
    tmp = dest.parent / f".{dest.name}.{secrets.token_hex(4)}.tmp"
    try:
        os.link(source, tmp)
    except FileNotFoundError:
        raise
    except OSError:
        atomic_write_bytes(dest, Path(source).read_bytes())
        return
    try:
        with writing(dest):
            os.replace(tmp, dest)
    except BaseException:
        _unlink_quietly(tmp)
        raise


def fsync_dir(folder: Path) -> None:
    """Make the folder's entries (a rename) durable; a no-op where folders cannot be opened."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def check_writable(target: Path) -> None:
    """Raise WriteError unless a file can be created at ``target`` (a file path, not yet
    written) or inside it (an existing folder): checked before any work is done."""
    target = Path(target)
    folder = target if target.is_dir() else target.parent
    with writing(target):
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = _create_temp(folder / ".write-check")
        os.close(fd)
        os.unlink(tmp)


def check_output_file(path: Path) -> None:
    """An output file the user named (``sample --out``, ``eval --json``): not a folder,
    and its folder writable."""
    path = Path(path)
    if path.is_dir():
        raise WriteError(f"{path}: cannot write (it is a folder)", errno.EISDIR)
    check_writable(path)


def remove_stale_temps(folder: Path) -> list[Path]:
    """Delete the temporary files a killed writer left in ``folder``. Only for a folder
    this process holds (a run directory under its lock): another writer's are live."""
    removed = []
    with contextlib.suppress(OSError):
        for entry in Path(folder).iterdir():
            if _TEMP.match(entry.name) and entry.is_file():
                _unlink_quietly(entry)
                removed.append(entry)
    return removed


class AppendFile:
    """A file opened for appending, each write unbuffered (a watcher sees it at once)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        with writing(self.path):
            self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _BINARY, 0o666)

    def write(self, data: bytes) -> None:
        if self._fd is None:
            raise ValueError(f"{self.path}: closed")
        with writing(self.path):
            write_all(self._fd, data)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
