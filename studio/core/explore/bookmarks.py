"""Latent bookmarks: named points of the explorer, kept beside the run in a small JSON file.

A bookmark holds the point as shown (principal directions already applied, so it reopens
the same even where a later checkpoint's directions differ), the seed (the whole state of
a model without a latent), the class, the truncation and the sampling options.

The file is ``<run>/bookmarks.json`` for a checkpoint inside a run directory, else
``<checkpoint stem>.bookmarks.json`` beside the file it was opened from.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from studio.core.errors import StudioError
from studio.core.fileio import atomic_write_text

FILE = "bookmarks.json"
VERSION = 1


@dataclass(frozen=True)
class Bookmark:
    name: str
    seed: int
    z: tuple[float, ...] = ()  # the latent as shown, flat; () for a model without one
    label: int | None = None
    psi: float = 1.0  # truncation
    options: dict[str, float] = field(default_factory=dict)


def bookmarks_path(checkpoint: str | Path) -> Path:
    """Where the bookmarks of a checkpoint (or an ensemble file) live."""
    path = Path(checkpoint)
    run = path.parent.parent
    if path.parent.name == "checkpoints" and (run / "config.toml").is_file():
        return run / FILE
    return path.with_name(f"{path.stem}.{FILE}")


def load_bookmarks(path: str | Path) -> list[Bookmark]:
    """The bookmarks in ``path`` (none when it does not exist); StudioError names a bad file."""
    path = Path(path)
    if not path.exists():
        return []
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return [_parse(entry) for entry in raw["bookmarks"]]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise StudioError(f"{path}: not a bookmarks file ({type(exc).__name__}: {exc})") from None


def save_bookmarks(path: str | Path, bookmarks: list[Bookmark]) -> Path:
    path = Path(path)
    entries = [asdict(b) for b in bookmarks]
    atomic_write_text(path, json.dumps({"version": VERSION, "bookmarks": entries}, indent=1) + "\n")
    return path


def with_bookmark(bookmarks: list[Bookmark], bookmark: Bookmark) -> list[Bookmark]:
    """The list with ``bookmark`` added, replacing one of the same name in its place."""
    names = [b.name for b in bookmarks]
    if bookmark.name in names:
        out = list(bookmarks)
        out[names.index(bookmark.name)] = bookmark
        return out
    return [*bookmarks, bookmark]


def _parse(entry: dict[str, Any]) -> Bookmark:
    label = entry.get("label")
    return Bookmark(
        name=str(entry["name"]),
        seed=int(entry["seed"]),
        z=tuple(float(v) for v in entry.get("z", ())),
        label=None if label is None else int(label),
        psi=float(entry.get("psi", 1.0)),
        options={str(k): float(v) for k, v in dict(entry.get("options", {})).items()},
    )
