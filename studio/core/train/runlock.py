"""One writer per run directory: an advisory lock file naming its holder.

``<run>/.lock`` holds the writer's pid, host, start time and command line, and the
writer keeps an OS lock on it (``flock``; ``msvcrt.locking`` on Windows) for as long
as it trains. The OS drops that lock when the process dies, ``kill -9`` included, so
a lock file nobody holds is stale and the next writer takes it over. A lock file
naming another host is refused even when it is not held: a network file system may
not share OS locks, and we cannot see whether that process lives.

Readers (``load_checkpoint``, the window following a run) never take the lock.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from studio.core.errors import RunLocked
from studio.core.fileio import write_all, writing

LOCK_NAME = ".lock"

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt


def _try_lock(fd: int) -> bool:
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:  # BlockingIOError (flock) or PermissionError (msvcrt): somebody holds it
        return False
    return True


def _holder_text(holder: dict[str, Any]) -> str:
    since = holder.get("since")
    when = f" since {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(since))}" if isinstance(since, (int, float)) else ""
    command = f" ({holder['command']})" if holder.get("command") else ""
    return f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}{when}{command}"


def _read_holder(fd: int) -> dict[str, Any]:
    with contextlib.suppress(OSError, ValueError):
        os.lseek(fd, 0, os.SEEK_SET)
        raw = os.read(fd, 4096)
        holder = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        return holder if isinstance(holder, dict) else {}
    return {}


def _same_file(fd: int, path: Path) -> bool:
    """The lock file at ``path`` is still the one ``fd`` has open (a releaser unlinks it)."""
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


class RunLock:
    """Held by the process that trains in a run directory; ``release()`` (or exit) frees it."""

    def __init__(self, path: Path, fd: int, took_over: dict[str, Any] | None):
        self.path = path
        self._fd: int | None = fd
        self.took_over = took_over  # the stale holder replaced, if any

    @classmethod
    def acquire(cls, run_dir: Path) -> RunLock:
        """Take the lock of ``run_dir`` or raise RunLocked naming the holder (WriteError when
        the folder is not writable)."""
        path = Path(run_dir) / LOCK_NAME
        for _ in range(10):  # retried only when a releaser unlinked the file under us
            with writing(path):
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
            if not _try_lock(fd):
                holder = _read_holder(fd)
                os.close(fd)
                raise RunLocked(f"{path}: the run directory is in use by {_holder_text(holder)}; "
                                "wait for that training to end or stop it")
            if not _same_file(fd, path):
                os.close(fd)
                continue
            holder = _read_holder(fd)
            if holder.get("host") not in (None, socket.gethostname()):
                os.close(fd)
                raise RunLocked(f"{path}: the run directory is locked by {_holder_text(holder)}; "
                                "if no training runs there any more, delete this file")
            lock = cls(path, fd, holder or None)
            lock._write_holder()
            return lock
        raise RunLocked(f"{path}: the lock keeps changing hands; another process is starting in this run")

    def _write_holder(self) -> None:
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time(),
                  "command": " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv))[:300]}
        with writing(self.path):
            os.ftruncate(self._fd, 0)
            os.lseek(self._fd, 0, os.SEEK_SET)
            write_all(self._fd, json.dumps(holder).encode("utf-8"))

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Remove the lock file, then drop the OS lock (in that order: a newcomer that opened
        the old file sees it unlinked and retries)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        os.close(self._fd)
        self._fd = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.release()

