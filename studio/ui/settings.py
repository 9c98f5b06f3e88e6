"""What the studio remembers between sessions (QSettings): last dataset, the image
folders used, window geometry, recent runs (resolved, without duplicates), the dataset
root, whether live metrics are on, and the loss plot's smoothing and log scale."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

MAX_RECENT = 8
MAX_FOLDERS = 5


class Settings:
    def __init__(self, qsettings: QSettings | None = None):
        self.q = qsettings if qsettings is not None else QSettings("latent-studio", "Latent Studio")

    def _str(self, key: str, default: str = "") -> str:
        value = self.q.value(key, default)
        return value if isinstance(value, str) else default

    @property
    def last_dataset(self) -> str:
        return self._str("data/last_dataset", "mnist-5k")

    @last_dataset.setter
    def last_dataset(self, name: str) -> None:
        self.q.setValue("data/last_dataset", name)

    @property
    def data_root(self) -> str:
        return self._str("data/root", "")

    @data_root.setter
    def data_root(self, root: str) -> None:
        self.q.setValue("data/root", root)

    @property
    def geometry(self) -> QByteArray | None:
        value = self.q.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    @geometry.setter
    def geometry(self, value: QByteArray) -> None:
        self.q.setValue("window/geometry", value)

    @property
    def live_metrics(self) -> bool:
        return self._bool("train/live_metrics", True)

    @live_metrics.setter
    def live_metrics(self, on: bool) -> None:
        self.q.setValue("train/live_metrics", bool(on))

    def _list(self, key: str) -> list[str]:
        value = self.q.value(key, [])
        if isinstance(value, str):  # QSettings returns a lone string for a 1-item list
            value = [value]
        return [v for v in (value or []) if isinstance(v, str)]

    def _push(self, key: str, item: str, limit: int) -> list[str]:
        items = _unique([item, *self._list(key)])[:limit]
        self.q.setValue(key, items)
        return items

    @property
    def recent_runs(self) -> list[str]:
        """Absolute paths, newest first: a run opened as runs/x and as /home/me/runs/x is one."""
        return _unique(self._list("runs/recent"))

    def add_recent_run(self, path: str | Path) -> list[str]:
        return self._push("runs/recent", _resolve(path), MAX_RECENT)

    @property
    def image_folders(self) -> list[str]:
        """Image folders used as datasets, newest first (listed in the Dataset tab)."""
        return _unique(self._list("data/folders"))

    def add_image_folder(self, path: str | Path) -> list[str]:
        return self._push("data/folders", _resolve(path), MAX_FOLDERS)

    def _float(self, key: str, default: float) -> float:
        try:
            return float(self.q.value(key, default))
        except (TypeError, ValueError):
            return default

    def _bool(self, key: str, default: bool) -> bool:
        value = self.q.value(key, default)
        return value if isinstance(value, bool) else str(value).lower() not in ("false", "0")

    @property
    def smoothing(self) -> int:
        """The loss plot's smoothing slider, 0..99."""
        return int(min(99, max(0, self._float("plot/smoothing", 60))))

    @smoothing.setter
    def smoothing(self, value: int) -> None:
        self.q.setValue("plot/smoothing", int(value))

    @property
    def log_scale(self) -> bool:
        return self._bool("plot/log_scale", False)

    @log_scale.setter
    def log_scale(self, on: bool) -> None:
        self.q.setValue("plot/log_scale", bool(on))

    def sync(self) -> None:
        self.q.sync()


def _resolve(path: str | Path) -> str:
    return str(Path(path).expanduser().resolve())


def _unique(paths: list[str]) -> list[str]:
    """Resolved, first occurrence kept."""
    seen: set[str] = set()
    out = []
    for p in paths:
        key = _resolve(p)
        if key not in seen:
            seen.add(key)
            out.append(key)
    return out
