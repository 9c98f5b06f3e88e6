"""The embedded mnist-5k digits in torchvision's MNIST layout, for the tutorials' own loops.

torchvision's MNIST reads uncompressed IDX files from <root>/MNIST/raw/; the benchmarks
feed the tutorials exactly that way, over the same digits the studio trains on.
"""

from __future__ import annotations

import gzip
import shutil
import tempfile
from pathlib import Path

from studio.core.data.embedded import MNIST_5K


def mnist_root(root: Path | None = None) -> Path:
    """Write the layout under ``root`` (a new temporary folder if None) and return it."""
    root = Path(tempfile.mkdtemp(prefix="mnist-5k-")) if root is None else root
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for gz in MNIST_5K.glob("*.gz"):
        with gzip.open(gz) as src, (raw / gz.stem).open("wb") as dst:
            shutil.copyfileobj(src, dst)
    return root
