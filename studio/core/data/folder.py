"""Image folders: PNG and JPEG files decoded once, at load time, into one uint8 tensor.

Layout: one subfolder per class gives labels (class names are the sorted subfolder
names; images may sit deeper inside a class folder); a folder of images with no class
subfolders is unlabelled. Hidden names are ignored. A link to a folder elsewhere is
followed (a class kept on another disk), but a link into the dataset folder or above it
is not: ``loop -> .`` would otherwise become a class holding a copy of every image.

Files are untrusted: one that cannot be decoded is listed in ``ImageData.skipped`` with
the reason, and loading goes on. What was found, skipped and decided is summarised in
``ImageData.notes`` (plain lines, for the terminal and the Dataset tab).

Size and channels are decided from the whole folder, never from one file:

- size: every image is centre-cropped to a square and resized to ``image_size``. With
  ``image_size`` 0 each image's own size is its shorter side, capped at
  ``AUTO_SIZE_CAP`` and rounded down to a multiple of 4 (at least 8), so that photos do
  not fill memory and the convolutional models accept them; the folder takes the most
  common of these (the larger on a tie) and the other images are resized to it.
- channels: 1 or 3 as asked; 0 means RGB when at least ``COLOUR_SHARE`` (10%) of the
  images have colour, grey otherwise (then the few colour images are converted to
  grey). A grey-mode file, or an RGB/CMYK file whose channels agree within a couple of
  levels (JPEG rounding), has no colour. Alpha is dropped.

EXIF orientation is applied, CMYK JPEGs are converted to RGB, 16-bit grey PNGs are
scaled to 8 bits. Names that are not valid UTF-8 are read as the file system gives them
and shown with ``\\xNN`` escapes (``printable``), so class names, messages and notes are
always valid text.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from studio.core.data.dataset import ImageData
from studio.core.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
AUTO_SIZE_CAP = 64
COLOUR_SHARE = 0.10  # a folder is RGB when at least this share of its images has colour
MAX_PIXELS = 40_000_000  # per image, after JPEG's reduced-scale decoding: bounds memory
_FORMATS = ("PNG", "JPEG")  # by content: a .png that is really a TIFF is not opened
_GREY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N"}
_GREY_SLACK = 3  # levels by which a grey pixel's channels may differ (JPEG rounding)
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_SHOWN_REASONS = 5  # skipped files named in the notes; ImageData.skipped has them all
_ORIENTATION = 0x0112  # the EXIF tag


def load_image_folder(
    folder: str | bytes | os.PathLike[str],
    image_size: int = 0,
    channels: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> ImageData:
    """Decode every PNG/JPEG under ``folder``; ``progress(done, total)`` per file."""
    root = Path(os.path.abspath(os.path.expanduser(os.fsdecode(folder))))
    shown = printable(str(root))
    if not root.is_dir():
        raise DataError(f"{shown}: not a folder of images")
    listing = _Walk(root).listing()
    decoded = _decode_all(root, listing, image_size, progress)
    if not decoded.arrays:
        raise DataError(f"{shown}: no readable PNG or JPEG images{_skipped_note(listing.skipped)}")
    size, size_note = _decide_size(decoded.arrays, image_size)
    channels, channel_note = _decide_channels(decoded.colour, len(decoded.arrays), channels)
    images = _stack(decoded.arrays, size, channels)
    y, names, dropped = _compact_labels(decoded.labels, listing)
    notes = [
        _summary(len(decoded.arrays), names, len(listing.skipped)),
        size_note,
        channel_note,
        *dropped,
        *listing.notes,
        *_skipped_lines(listing.skipped),
    ]
    name = printable(root.name) or shown
    return ImageData(name, images, y, names, shown, listing.skipped, tuple(notes))


def auto_size(width: int, height: int) -> int:
    """One image's own size when image_size is 0 (see the module docstring)."""
    return max(8, min(width, height, AUTO_SIZE_CAP) // 4 * 4)


def printable(text: str) -> str:
    """``text`` with the undecodable bytes of a file name (which Python holds as lone
    surrogates) as ``\\xNN`` escapes: safe to print, to write as UTF-8 JSON, to show in Qt."""
    return os.fsencode(text).decode("utf-8", "backslashreplace")


# -- listing --------------------------------------------------------------------------------


@dataclass
class _Listing:
    files: list[Path] = field(default_factory=list)
    labels: list[int] | None = None
    class_names: list[str] | None = None  # printable
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class _Walk:
    """One walk of the dataset folder, with the links it refused and the folders it read."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.real_root = Path(os.path.realpath(root))
        self.seen = {self.real_root}  # real paths of the folders read: no folder twice
        self.out = _Listing()

    def listing(self) -> _Listing:
        dirs, top = self._entries(self.root)
        classes = []
        for folder in dirs:
            files = self._files_under(folder)
            if files:
                classes.append((folder, files))
            else:
                self.out.notes.append(
                    f"not a class: {self._rel(folder)}/ holds no PNG or JPEG files"
                )
        if not classes:
            self.out.files = top
            return self.out
        self.out.labels, self.out.class_names = [], []
        for index, (folder, files) in enumerate(classes):
            self.out.files += files
            self.out.labels += [index] * len(files)
            self.out.class_names.append(printable(folder.name))
        self.out.skipped += [f"{self._rel(p)}: outside the class subfolders" for p in top]
        return self.out

    def _files_under(self, folder: Path) -> list[Path]:
        found: list[Path] = []
        stack = [folder]
        while stack:
            dirs, files = self._entries(stack.pop())
            found += files
            stack += dirs
        return sorted(found)

    def _entries(self, folder: Path) -> tuple[list[Path], list[Path]]:
        """(sub-folders to read, image files) of one folder, hidden names left out."""
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            self.out.notes.append(f"cannot list {self._rel(folder)}/: {exc.strerror or exc}")
            return [], []
        dirs, files = [], []
        for entry in entries:
            path = folder / entry.name
            if entry.name.startswith("."):
                continue
            if _is_dir(entry):
                if self._follow(path):
                    dirs.append(path)
            elif path.suffix.lower() in IMAGE_SUFFIXES:
                if os.path.isfile(path):
                    files.append(path)
                elif entry.is_symlink():
                    self.out.skipped.append(f"{self._rel(path)}: a link to a missing file")
        return dirs, files

    def _follow(self, path: Path) -> bool:
        real = Path(os.path.realpath(path))
        link = path.is_symlink()
        inside = real.is_relative_to(self.real_root) or self.real_root.is_relative_to(real)
        if link and inside:
            self.out.notes.append(
                f"not followed: {self._rel(path)} -> {printable(os.readlink(path))} "
                f"(a link into the dataset folder or above it)"
            )
            return False
        if real in self.seen:
            self.out.notes.append(
                f"not followed: {self._rel(path)} (that folder is already read through another link)"
            )
            return False
        self.seen.add(real)
        return True

    def _rel(self, path: Path) -> str:
        return printable(str(path.relative_to(self.root)))


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # follows links: whether to follow is _follow's decision
    except OSError:
        return False


# -- decoding -------------------------------------------------------------------------------


@dataclass
class _Decoded:
    arrays: list[np.ndarray] = field(default_factory=list)  # (s, s) grey or (s, s, 3) colour
    labels: list[int] = field(default_factory=list)
    colour: int = 0  # how many of them have colour


class _Unusable(Exception):
    """A readable file we refuse to decode; the message is the reason."""


def _decode_all(
    root: Path, listing: _Listing, image_size: int, progress: Callable[[int, int], None] | None
) -> _Decoded:
    out = _Decoded()
    for i, path in enumerate(listing.files):
        try:
            arr, colour = _decode(path, image_size)
        except Exception as exc:  # any decoder failure on an untrusted file: list it, go on
            rel = printable(str(path.relative_to(root)))
            listing.skipped.append(f"{rel}: {_reason(exc)}")
        else:
            out.arrays.append(arr)
            out.colour += colour
            if listing.labels is not None:
                out.labels.append(listing.labels[i])
        if progress is not None:
            progress(i + 1, len(listing.files))
    return out


def _decode(path: Path, size: int) -> tuple[np.ndarray, bool]:
    """One file, upright and square: uint8 (s, s) or (s, s, 3), and whether it has colour.

    ``s`` is ``size``, or the file's own auto_size when ``size`` is 0.
    """
    with Image.open(path, formats=_FORMATS) as img:
        side = size or auto_size(*img.size)
        img.draft(img.mode, (side, side))  # JPEG: decode at a reduced scale when large
        if img.width * img.height > MAX_PIXELS:
            raise _Unusable(f"{img.width}×{img.height} pixels, more than {MAX_PIXELS:,}")
        img.load()
        img = _upright(img)
        if img.mode in _GREY_MODES:
            grey = img if img.mode.startswith("I") else img.convert("L")  # 16-bit stays 16
            return _to_8bit(_square(grey, side)), False
        arr = np.asarray(_square(img.convert("RGB"), side))
    if _has_colour(arr):
        return arr, True
    return _luma(arr), False


def _upright(img: Image.Image) -> Image.Image:
    """Apply the EXIF orientation (cameras store portraits sideways and say so there)."""
    try:
        orientation = img.getexif().get(_ORIENTATION, 1)
    except Exception:  # a broken EXIF block: the pixels are still good, keep them as stored
        return img
    return img if orientation == 1 else ImageOps.exif_transpose(img)


def _to_8bit(img: Image.Image) -> np.ndarray:
    if img.mode.startswith("I"):  # 16-bit grey PNG: 0..65535
        values = np.asarray(img, dtype=np.float32)
        return np.clip(values / 257.0, 0, 255).round().astype(np.uint8)
    return np.asarray(img)


def _square(img: Image.Image, size: int) -> Image.Image:
    w, h = img.size
    if (w, h) == (size, size):
        return img
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return img.resize(
        (size, size), Image.Resampling.LANCZOS, box=(left, top, left + side, top + side)
    )


def _has_colour(rgb: np.ndarray) -> bool:
    r, g, b = (rgb[..., i].astype(np.int16) for i in range(3))
    return bool(np.abs(r - g).max() > _GREY_SLACK or np.abs(g - b).max() > _GREY_SLACK)


def _luma(rgb: np.ndarray) -> np.ndarray:
    return np.clip((rgb @ _LUMA).round(), 0, 255).astype(np.uint8)


# -- decisions ------------------------------------------------------------------------------


def _decide_size(arrays: list[np.ndarray], image_size: int) -> tuple[int, str]:
    if image_size:
        return image_size, f"size {image_size}×{image_size}: as configured (data.image_size)"
    counts = Counter(a.shape[0] for a in arrays)
    size, have = max(counts.items(), key=lambda item: (item[1], item[0]))
    others = "" if have == len(arrays) else "; the others are resized to it"
    capped = (
        f", at most {AUTO_SIZE_CAP} unless data.image_size says" if size == AUTO_SIZE_CAP else ""
    )
    return size, (
        f"size {size}×{size}: the most common size{capped} ({have:,} of {len(arrays):,} images{others})"
    )


def _decide_channels(colour: int, total: int, channels: int) -> tuple[int, str]:
    if channels:
        return channels, f"{'grey' if channels == 1 else 'RGB'}: as configured (data.channels)"
    has = "has" if colour == 1 else "have"
    if colour and colour >= COLOUR_SHARE * total:
        return 3, (
            f"RGB: {colour:,} of {total:,} images {has} colour "
            f"(a folder is RGB when at least {COLOUR_SHARE:.0%} do)"
        )
    if colour:
        return 1, (
            f"grey: {colour:,} of {total:,} images {has} colour, under the {COLOUR_SHARE:.0%} "
            f"that makes a folder RGB; converted to grey (data.channels = 3 keeps colour)"
        )
    return 1, "grey: no image has colour"


def _stack(arrays: list[np.ndarray], size: int, channels: int) -> torch.Tensor:
    out = np.empty((len(arrays), channels, size, size), dtype=np.uint8)
    for i, arr in enumerate(arrays):
        if arr.shape[0] != size:
            arr = np.asarray(Image.fromarray(arr).resize((size, size), Image.Resampling.LANCZOS))
        if channels == 1:
            out[i, 0] = arr if arr.ndim == 2 else _luma(arr)
        else:
            out[i] = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return torch.from_numpy(out)


def _compact_labels(
    labels: list[int], listing: _Listing
) -> tuple[torch.Tensor | None, list[str] | None, list[str]]:
    """Drop classes whose every file was unreadable, so labels stay 0..K-1; say which."""
    names = listing.class_names
    if names is None or listing.labels is None:
        return None, None, []
    used = sorted(set(labels))
    remap = {old: new for new, old in enumerate(used)}
    y = torch.tensor([remap[v] for v in labels], dtype=torch.int64)
    listed = Counter(listing.labels)
    dropped = [
        f"class '{names[c]}' dropped: "
        + ("its one file" if listed[c] == 1 else f"none of its {listed[c]:,} files")
        + " could be read"
        for c in range(len(names))
        if c not in remap
    ]
    return y, [names[i] for i in used], dropped


# -- notes ----------------------------------------------------------------------------------


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 'es' if word.endswith('s') else 's'}"


def _summary(images: int, names: list[str] | None, skipped: int) -> str:
    where = f"in {_plural(len(names), 'class')}" if names else "unlabelled"
    sep = " " if names else ", "
    return f"{_plural(images, 'image')}{sep}{where}, {skipped:,} skipped"


def _skipped_lines(skipped: list[str]) -> list[str]:
    lines = [f"skipped {entry}" for entry in skipped[:_SHOWN_REASONS]]
    if len(skipped) > _SHOWN_REASONS:
        lines.append(f"skipped {len(skipped) - _SHOWN_REASONS:,} more")
    return lines


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnidentifiedImageError):
        return "not a readable PNG or JPEG image"
    text = printable(str(exc))
    if isinstance(exc, _Unusable):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _skipped_note(skipped: list[str]) -> str:
    if not skipped:
        return " (a class subfolder per class, or the images directly in it)"
    shown = "; ".join(skipped[:3]) + (f"; and {len(skipped) - 3} more" if len(skipped) > 3 else "")
    return f" (unreadable: {shown})"
