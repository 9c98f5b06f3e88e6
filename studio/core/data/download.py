"""Fetching torchvision datasets into a root folder, with progress, cancel and time limits.

Why our own downloader rather than ``download=True``: torchvision's has no cancel, no
progress callback and can block for minutes without a network. Here every connection
and every read has a time limit, name resolution runs on a helper thread we stop
waiting for, so an offline machine gets a clear DataError within about 25 s. Files are
streamed to a temporary file, checked against the md5 torchvision publishes, then
renamed into place: a crash or a cancel never leaves a half file behind.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import shutil
import socket
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.core.data.catalog import (
    SPECS,
    DatasetSpec,
    dataset_dir,
    download_urls,
    get_spec,
    idx_files,
    missing_files,
    resolve_root,
    tv_class,
)
from studio.core.data.embedded import MNIST_5K
from studio.core.data.idx import MAX_BYTES as MAX_IDX_BYTES
from studio.core.data.idx import copy_idx
from studio.core.errors import DataError, DownloadCancelled
from studio.core.fileio import atomic_open

ProgressFn = Callable[[int, "int | None"], None]
CancelFn = Callable[[], bool]

TIMEOUT = 10.0  # seconds for a connection and for each read
MAX_DOWNLOAD = 2 * 1024**3  # no dataset file we fetch is near this; a bigger answer is wrong
_CHUNK = 64 * 1024
_USER_AGENT = "latent-studio (dataset download)"


def download_dataset(
    name: str,
    root: str | os.PathLike[str] = "",
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> Path:
    """Fetch a named dataset into ``root`` unless it is already there; return its folder.

    ``progress(done_bytes, total_bytes_or_None)`` is called as bytes arrive; ``cancel()``
    returning True stops the download with DownloadCancelled and removes partial files.
    """
    spec = get_spec(name)
    if spec is None:
        raise DataError(f"unknown dataset {name!r}; expected one of {', '.join(SPECS)}")
    if spec.embedded:
        return MNIST_5K
    root_path = resolve_root(root)
    folder = dataset_dir(spec, root_path)
    if not missing_files(spec, root_path):
        unpack_idx_gz(spec, folder)
        return folder
    meter = _Meter(progress, spec.download_bytes)
    try:
        _fetch(spec, root_path, folder, meter, cancel)
    except DownloadCancelled:
        raise
    except DataError as exc:
        raise DataError(
            f"could not download {name}: {exc}. {manual_hint(spec, root_path)}"
        ) from None
    return folder


def manual_hint(spec: DatasetSpec, root: Path) -> str:
    """Where to put the files by hand, for machines without a network."""
    folder = dataset_dir(spec, root)
    urls = ", ".join(download_urls(spec))
    if spec.tv_class == "EMNIST":
        wanted = ", ".join(f"{n}.gz" for n in (*idx_files(spec, "train"), *idx_files(spec, "test")))
        return f"To install it by hand, fetch {urls} and put {wanted} from its gzip/ folder into {folder}"
    if spec.idx_layout:
        return f"To install it by hand, fetch {urls} and put the files into {folder}"
    return (
        f"To install it by hand, fetch {urls} and unpack it into {root} (it creates {folder.name}/)"
    )


def fetch_url(
    url: str,
    dest: Path,
    md5: str | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
    timeout: float = TIMEOUT,
) -> Path:
    """Stream one URL to ``dest`` atomically, checking its md5; DataError says what failed."""
    _fetch_url(url, Path(dest), md5, _Meter(progress, 0), cancel, timeout)
    return Path(dest)


def unpack_idx_gz(spec: DatasetSpec, folder: Path) -> list[Path]:
    """Unpack ``name.gz`` files of an IDX dataset that lack their uncompressed twin.

    Returns the files it wrote, so a caller whose load then fails can remove them
    (``remove_unpacked``). Each is checked like ``read_idx`` checks a file, while it is
    streamed; when one is refused, the ones written before it are removed too.
    """
    created: list[Path] = []
    if not spec.idx_layout:
        return created
    try:
        for split in ("train", "test"):
            for name in idx_files(spec, split):
                gz = folder / f"{name}.gz"
                if not (folder / name).is_file() and gz.is_file():
                    _gunzip(gz, folder / name)
                    created.append(folder / name)
    except BaseException:
        remove_unpacked(created)
        raise
    return created


def remove_unpacked(paths: list[Path]) -> None:
    """Delete unpacked copies (their .gz stays): a failed load leaves no large files behind."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


class _Meter:
    """Adds up bytes over the files of one dataset and reports them to ``progress``."""

    def __init__(self, progress: ProgressFn | None, total: int) -> None:
        self.progress = progress
        self.total = total or None
        self.done = 0
        self._file_start = 0

    def start_file(self) -> None:
        self._file_start = self.done

    def rewind(self) -> None:
        self.done = self._file_start

    def set_single_file_total(self, length: int | None) -> None:
        if length is not None and self.total is None:
            self.total = length

    def advance(self, n: int) -> None:
        self.done += n
        if self.progress is not None:
            total = None if self.total is None else max(self.total, self.done)
            self.progress(self.done, total)


def _fetch_url(
    url: str,
    dest: Path,
    md5: str | None,
    meter: _Meter,
    cancel: CancelFn | None,
    timeout: float = TIMEOUT,
) -> None:
    meter.start_file()
    try:
        response = _open(url, timeout, cancel)
        with contextlib.closing(response):
            _stream(response, dest, md5, meter, cancel, url)
    except (DataError, DownloadCancelled):
        meter.rewind()
        raise
    except urllib.error.HTTPError as exc:
        meter.rewind()
        raise DataError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (OSError, ValueError) as exc:  # URLError, timeouts, resets, bad URLs
        meter.rewind()
        raise DataError(f"{url}: {_reason(exc, timeout)}") from None


def _fetch(
    spec: DatasetSpec, root: Path, folder: Path, meter: _Meter, cancel: CancelFn | None
) -> None:
    if spec.tv_class == "EMNIST":
        _fetch_emnist(spec, folder, meter, cancel)
    elif spec.idx_layout:
        _fetch_mnist_like(spec, folder, meter, cancel)
    else:
        _fetch_cifar(spec, root, meter, cancel)


def _fetch_mnist_like(
    spec: DatasetSpec, folder: Path, meter: _Meter, cancel: CancelFn | None
) -> None:
    cls = tv_class(spec)
    for filename, md5 in cls.resources:
        if (folder / Path(filename).stem).is_file():
            continue
        gz = folder / filename
        if not _intact(gz, md5):
            _fetch_from_mirrors(
                [f"{mirror}{filename}" for mirror in cls.mirrors], gz, md5, meter, cancel
            )
    unpack_idx_gz(spec, folder)


def _fetch_from_mirrors(
    urls: list[str], dest: Path, md5: str, meter: _Meter, cancel: CancelFn | None
) -> None:
    errors = []
    for url in urls:
        try:
            _fetch_url(url, dest, md5, meter, cancel)
            return
        except DownloadCancelled:
            raise
        except DataError as exc:
            errors.append(str(exc))
    raise DataError("; ".join(errors))


def _fetch_emnist(spec: DatasetSpec, folder: Path, meter: _Meter, cancel: CancelFn | None) -> None:
    cls = tv_class(spec)
    archive = folder / Path(cls.url).name
    if not _intact(archive, cls.md5):
        meter.total = None  # one file: its Content-Length is the exact total
        _fetch_url(cls.url, archive, cls.md5, meter, cancel)
    wanted = {
        name
        for s in SPECS.values()
        if s.tv_class == "EMNIST"
        for split in ("train", "test")
        for name in idx_files(s, split)
    }
    _unzip_gz_members(archive, wanted, folder, cancel)
    archive.unlink()  # 560 MB; every split we use is unpacked now


def _fetch_cifar(spec: DatasetSpec, root: Path, meter: _Meter, cancel: CancelFn | None) -> None:
    cls = tv_class(spec)
    archive = root / cls.filename
    if not _intact(archive, cls.tgz_md5):
        meter.total = None
        _fetch_url(cls.url, archive, cls.tgz_md5, meter, cancel)
    _extract_into(archive, root)
    archive.unlink()


def _intact(path: Path, md5: str) -> bool:
    from torchvision.datasets.utils import check_integrity

    return path.is_file() and check_integrity(str(path), md5)


def _open(url: str, timeout: float, cancel: CancelFn | None) -> Any:
    """urlopen on a helper thread: name lookups ignore socket timeouts, we must not hang."""
    lock = threading.Lock()
    box: dict[str, Any] = {}

    def worker() -> None:
        try:
            request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
            answer: Any = urllib.request.urlopen(request, timeout=timeout)
        except BaseException as exc:  # handed to the waiting thread below
            answer, key = exc, "error"
        else:
            key = "response"
        with lock:
            if box.get("abandoned") and key == "response":
                answer.close()
            box[key] = answer

    thread = threading.Thread(target=worker, name="latent-studio-download", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout + 1.0
    while thread.is_alive() and time.monotonic() < deadline:
        thread.join(0.05)
        if cancel is not None and cancel():
            _abandon(lock, box)
            raise DownloadCancelled(f"download of {url} cancelled")
    if thread.is_alive():
        _abandon(lock, box)
        raise TimeoutError(f"no answer within {timeout:g} s")
    if "error" in box:
        raise box["error"]
    return box["response"]


def _abandon(lock: threading.Lock, box: dict[str, Any]) -> None:
    with lock:
        box["abandoned"] = True
        response = box.pop("response", None)
    if response is not None:
        response.close()


def _stream(
    response: Any, dest: Path, md5: str | None, meter: _Meter, cancel: CancelFn | None, url: str
) -> None:
    length = _content_length(response)
    if length is not None and length > MAX_DOWNLOAD:
        raise DataError(
            f"{url}: the server offers {length:,} bytes, far more than any dataset file"
        )
    meter.set_single_file_total(length)
    digest = hashlib.md5(usedforsecurity=False)
    written = 0
    with atomic_open(dest, "wb") as handle:
        while chunk := response.read(_CHUNK):
            if cancel is not None and cancel():
                raise DownloadCancelled(f"download of {url} cancelled")
            handle.write(chunk)
            digest.update(chunk)
            written += len(chunk)
            if written > MAX_DOWNLOAD:
                raise DataError(f"{url}: more than {MAX_DOWNLOAD:,} bytes, not a dataset file")
            meter.advance(len(chunk))
        if length is not None and written != length:
            raise DataError(f"{url}: connection closed after {written:,} of {length:,} bytes")
        if md5 and digest.hexdigest() != md5:
            raise DataError(
                f"{url}: md5 {digest.hexdigest()} differs from the expected {md5} (corrupt download)"
            )


def _content_length(response: Any) -> int | None:
    value = response.headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _reason(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, urllib.error.URLError):  # unwrap to the socket-level cause
        if not isinstance(exc.reason, BaseException):
            return str(exc.reason)
        exc = exc.reason
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, socket.gaierror):
        return f"cannot look up the server's name, no network? ({exc.strerror or exc})"
    return str(exc) or type(exc).__name__


def _gunzip(gz: Path, dest: Path) -> None:
    """Stream one .gz into place through a temporary file: a refusal leaves no file."""
    try:
        with gzip.open(gz, "rb") as src, atomic_open(dest, "wb") as dst:
            copy_idx(src, dst, gz, MAX_IDX_BYTES)  # type: ignore[arg-type]
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{gz}: cannot unpack ({exc or 'truncated gzip'})") from None


def _unzip_gz_members(
    archive: Path, names: set[str], folder: Path, cancel: CancelFn | None
) -> None:
    created: list[Path] = []
    try:
        with zipfile.ZipFile(archive) as zf:
            members = {Path(m).name: m for m in zf.namelist()}
            for name in sorted(names):
                if cancel is not None and cancel():
                    raise DownloadCancelled(f"unpacking {archive} cancelled")
                member = members.get(f"{name}.gz")
                if member is None:
                    raise DataError(f"{archive}: has no {name}.gz")
                origin = Path(f"{archive}:{member}")
                with (
                    zf.open(member) as raw,
                    gzip.open(raw, "rb") as src,
                    atomic_open(folder / name) as dst,
                ):
                    copy_idx(src, dst, origin, MAX_IDX_BYTES)  # type: ignore[arg-type]
                created.append(folder / name)
    except BaseException as exc:
        remove_unpacked(created)
        if isinstance(exc, OSError | EOFError | zlib.error | zipfile.BadZipFile):
            raise DataError(f"{archive}: cannot unpack ({exc})") from None
        raise


def _extract_into(archive: Path, dest: Path) -> None:
    """extract_archive into a scratch folder, then move files in: no half-extracted set."""
    from torchvision.datasets.utils import extract_archive

    dest.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest))
    try:
        extract_archive(str(archive), str(scratch))
        _merge(scratch, dest)
    except (OSError, EOFError, RuntimeError, tarfile.TarError) as exc:
        raise DataError(f"{archive}: cannot unpack ({exc})") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _merge(src: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for entry in src.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            _merge(entry, dest / entry.name)
        else:
            os.replace(entry, dest / entry.name)
