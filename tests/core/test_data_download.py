"""The downloader against this offline machine and against a local HTTP server."""

from __future__ import annotations

import gzip
import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torchvision.datasets

from studio.core.config import DataConfig
from studio.core.data import download_dataset, load_dataset
from studio.core.data.download import fetch_url
from studio.core.data.idx import write_idx
from studio.core.errors import DataError, DownloadCancelled


class Files(dict):
    """URL path -> bytes served by the local server."""


@pytest.fixture
def server() -> Iterator[tuple[str, Files]]:
    files = Files()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for start in range(0, len(body), 16384):
                self.wfile.write(body[start : start + 16384])

        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            pass  # a client that cancels mid-file breaks the pipe; that is the point

    httpd = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", files
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_offline_download_fails_fast_and_clearly(tmp_path: Path) -> None:
    start = time.monotonic()
    with pytest.raises(DataError) as err:
        download_dataset("mnist", tmp_path)
    assert time.monotonic() - start < 30
    message = str(err.value)
    assert message.startswith(
        "could not download mnist: https://ossci-datasets.s3.amazonaws.com/mnist/"
    )
    assert str(tmp_path / "MNIST" / "raw") in message and "by hand" in message
    assert leftovers(tmp_path) == []


def test_load_with_download_offline(tmp_path: Path) -> None:
    start = time.monotonic()
    with pytest.raises(DataError, match="could not download fashion-mnist"):
        load_dataset(DataConfig(dataset="fashion-mnist", root=str(tmp_path), download=True))
    assert time.monotonic() - start < 30


def test_fetch_reports_progress_and_checks_md5(server: tuple[str, Files], tmp_path: Path) -> None:
    url, files = server
    body = bytes(range(256)) * 1000
    files["/blob.bin"] = body
    seen: list[tuple[int, int | None]] = []
    fetch_url(
        f"{url}/blob.bin",
        tmp_path / "blob.bin",
        hashlib.md5(body).hexdigest(),
        progress=lambda d, t: seen.append((d, t)),
    )
    assert (tmp_path / "blob.bin").read_bytes() == body
    assert seen[-1] == (len(body), len(body)) and len(seen) > 1
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_md5_mismatch_leaves_no_file(server: tuple[str, Files], tmp_path: Path) -> None:
    url, files = server
    files["/blob.bin"] = b"x" * 1000
    with pytest.raises(DataError, match=r"blob\.bin: md5 .* differs from the expected 0+"):
        fetch_url(f"{url}/blob.bin", tmp_path / "blob.bin", "0" * 32)
    assert leftovers(tmp_path) == []


def test_http_error_is_named(server: tuple[str, Files], tmp_path: Path) -> None:
    url, _ = server
    with pytest.raises(DataError, match=r"missing\.bin: HTTP 404"):
        fetch_url(f"{url}/missing.bin", tmp_path / "missing.bin")


def test_cancel_mid_download_removes_partial_file(
    server: tuple[str, Files], tmp_path: Path
) -> None:
    url, files = server
    files["/big.bin"] = bytes(4 * 1024 * 1024)
    seen: list[int] = []
    with pytest.raises(DownloadCancelled):
        fetch_url(
            f"{url}/big.bin",
            tmp_path / "big.bin",
            progress=lambda d, t: seen.append(d),
            cancel=lambda: bool(seen),
        )
    assert len(seen) == 1 and leftovers(tmp_path) == []


def test_cancel_while_waiting_for_an_answer(tmp_path: Path) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts connections, never answers
    try:
        start = time.monotonic()
        with pytest.raises(DownloadCancelled):
            fetch_url(
                f"http://127.0.0.1:{silent.getsockname()[1]}/x",
                tmp_path / "x",
                cancel=lambda: time.monotonic() - start > 0.3,
            )
        assert time.monotonic() - start < 3
    finally:
        silent.close()


def test_silent_server_times_out(tmp_path: Path) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        with pytest.raises(DataError, match="no answer within 0.5 s"):
            fetch_url(f"http://127.0.0.1:{silent.getsockname()[1]}/x", tmp_path / "x", timeout=0.5)
    finally:
        silent.close()


def test_download_dataset_end_to_end(
    server: tuple[str, Files], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MNIST's own resource list, served locally: download, verify, unpack, load."""
    url, files = server
    source = tmp_path / "source"
    resources = []
    for name, shape in [
        ("train-images-idx3-ubyte", (8, 28, 28)),
        ("train-labels-idx1-ubyte", (8,)),
        ("t10k-images-idx3-ubyte", (4, 28, 28)),
        ("t10k-labels-idx1-ubyte", (4,)),
    ]:
        write_idx(source / f"{name}.gz", np.full(shape, 7, np.uint8))
        body = (source / f"{name}.gz").read_bytes()
        files[f"/mnist/{name}.gz"] = body
        resources.append((f"{name}.gz", hashlib.md5(body).hexdigest()))
    monkeypatch.setattr(
        torchvision.datasets.MNIST, "mirrors", ["http://127.0.0.1:9/dead/", f"{url}/mnist/"]
    )
    monkeypatch.setattr(torchvision.datasets.MNIST, "resources", resources)
    seen: list[tuple[int, int | None]] = []
    root = tmp_path / "root"
    folder = download_dataset("mnist", root, progress=lambda d, t: seen.append((d, t)))
    assert folder == root / "MNIST" / "raw"
    assert (folder / "t10k-labels-idx1-ubyte").is_file()
    assert seen[-1][0] == sum(len(b) for b in files.values())
    data = load_dataset(DataConfig(dataset="mnist", root=str(root)), "test")
    assert len(data) == 4 and int(data.images.max()) == 7
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temp files left


def test_load_dataset_downloads_when_asked(
    server: tuple[str, Files], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EMNIST's single zip of gzip files, unpacked for both splits we use."""
    import io
    import zipfile

    url, files = server
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for split, labels in (("balanced", [0, 46]), ("letters", [1, 26])):
            for part in ("train", "test"):
                images = (
                    bytes([0, 0, 8, 3])
                    + b"".join(d.to_bytes(4, "big") for d in (2, 28, 28))
                    + bytes(2 * 784)
                )
                label_bytes = bytes([0, 0, 8, 1, 0, 0, 0, 2]) + bytes(labels)
                zf.writestr(
                    f"gzip/emnist-{split}-{part}-images-idx3-ubyte.gz", gzip.compress(images)
                )
                zf.writestr(
                    f"gzip/emnist-{split}-{part}-labels-idx1-ubyte.gz", gzip.compress(label_bytes)
                )
    files["/gzip.zip"] = buffer.getvalue()
    monkeypatch.setattr(torchvision.datasets.EMNIST, "url", f"{url}/gzip.zip")
    monkeypatch.setattr(
        torchvision.datasets.EMNIST, "md5", hashlib.md5(buffer.getvalue()).hexdigest()
    )
    data = load_dataset(DataConfig(dataset="emnist-letters", root=str(tmp_path), download=True))
    assert data.labels is not None and data.labels.tolist() == [0, 25]
    assert not (tmp_path / "EMNIST" / "raw" / "gzip.zip").exists()
    balanced = load_dataset(DataConfig(dataset="emnist-balanced", root=str(tmp_path)), "test")
    assert balanced.labels is not None and balanced.labels.tolist() == [0, 46]


def test_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unknown dataset 'svhn'"):
        download_dataset("svhn", tmp_path)


def test_hand_placed_gzip_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from studio.core.data import download

    raw = tmp_path / "MNIST" / "raw"
    for prefix in ("train", "t10k"):
        write_idx(raw / f"{prefix}-images-idx3-ubyte.gz", np.zeros((4, 28, 28), np.uint8))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte.gz", np.zeros(4, np.uint8))
    monkeypatch.setattr(download, "MAX_IDX_BYTES", 1000)  # 3,152 bytes unpacked is "too big" now
    with pytest.raises(DataError, match=r"images-idx3-ubyte\.gz: unpacks to more than 1,000 bytes"):
        load_dataset(DataConfig(dataset="mnist", root=str(tmp_path)))
    assert sorted(p.name for p in raw.iterdir() if not p.name.endswith(".gz")) == []


def test_bad_member_of_the_emnist_zip_leaves_nothing_unpacked(
    server: tuple[str, Files], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A member that is not IDX (or longer than its header) is refused while it streams,
    and the members unpacked before it are removed: no half-unpacked set on disk."""
    import io
    import zipfile

    url, files = server
    buffer = io.BytesIO()
    images = bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in (2, 28, 28))
    with zipfile.ZipFile(buffer, "w") as zf:
        for split in ("balanced", "letters"):
            for part in ("train", "test"):
                body = images + bytes(2 * 784)
                if (split, part) == ("letters", "test"):
                    body += bytes(100_000)  # more than its header claims
                zf.writestr(f"gzip/emnist-{split}-{part}-images-idx3-ubyte.gz", gzip.compress(body))
                labels = bytes([0, 0, 8, 1, 0, 0, 0, 2, 1, 2])
                zf.writestr(
                    f"gzip/emnist-{split}-{part}-labels-idx1-ubyte.gz", gzip.compress(labels)
                )
    files["/gzip.zip"] = buffer.getvalue()
    monkeypatch.setattr(torchvision.datasets.EMNIST, "url", f"{url}/gzip.zip")
    monkeypatch.setattr(
        torchvision.datasets.EMNIST, "md5", hashlib.md5(buffer.getvalue()).hexdigest()
    )
    with pytest.raises(
        DataError, match=r"emnist-letters-test-images-idx3-ubyte\.gz: unexpected bytes"
    ):
        load_dataset(DataConfig(dataset="emnist-letters", root=str(tmp_path), download=True))
    assert leftovers(tmp_path) == ["gzip.zip"]  # the checked download stays, for a retry
