"""What the studio remembers between sessions (QSettings): last dataset, window
geometry, recent runs, the dataset root, whether live metrics are on."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

MAX_RECENT = 8


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
        value = self.q.value("train/live_metrics", True)
        return value if isinstance(value, bool) else str(value).lower() not in ("false", "0")

    @live_metrics.setter
    def live_metrics(self, on: bool) -> None:
        self.q.setValue("train/live_metrics", bool(on))

    @property
    def recent_runs(self) -> list[str]:
        value = self.q.value("runs/recent", [])
        if isinstance(value, str):  # QSettings returns a lone string for a 1-item list
            value = [value]
        return [v for v in (value or []) if isinstance(v, str)]

    def add_recent_run(self, path: str | Path) -> list[str]:
        path = str(Path(path))
        runs = [path] + [r for r in self.recent_runs if r != path]
        self.q.setValue("runs/recent", runs[:MAX_RECENT])
        return runs[:MAX_RECENT]

    def sync(self) -> None:
        self.q.sync()
