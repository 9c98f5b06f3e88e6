"""Render the Model tab for a few families at a few window sizes, to look at them.

    QT_QPA_PLATFORM=offscreen python scripts/model_screenshots.py [--out DIR] [--sizes 1280x720 1920x1080]
        [--presets gan vae pixelcnn ddpm] [--docs]

Writes DIR/model-<family>-<W>x<H>.png (a temporary folder's window, nothing trained);
``--docs`` also writes docs/screenshots/model-<family>.png at the first size.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from screenshots import settle, wait  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "model-shots")
    parser.add_argument("--sizes", nargs="+", default=["1280x720", "1920x1080"])
    parser.add_argument("--presets", nargs="+", default=["gan", "vae", "pixelcnn", "ddpm"],
                        help="presets to show (each file is named after its preset)")
    parser.add_argument("--docs", action="store_true", help="also write docs/screenshots/model-<family>.png")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    from studio.ui.main_window import MainWindow
    from studio.ui.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat))
        window = MainWindow(settings=settings, runs_root=Path(tmp) / "runs", show_dialogs=False)
        window.show()
        try:
            wait(app, lambda: window.dataset_tab.preview is not None, what="the dataset preview")
            tab = window.model_tab
            window.tabs.setCurrentWidget(tab)
            for i, size in enumerate(args.sizes):
                w, h = (int(v) for v in size.split("x"))
                window.resize(w, h)
                for family in args.presets:
                    tab.preset.setCurrentText(family)
                    tab.apply_preset(family)
                    settle(app, 300)
                    image = window.grab().toImage()
                    path = args.out / f"model-{family}-{w}x{h}.png"
                    image.save(str(path), "PNG", 0)
                    print(f"wrote {path} ({path.stat().st_size // 1024} KB)")
                    if args.docs and i == 0:
                        doc = ROOT / "docs" / "screenshots" / f"model-{family}.png"
                        image.save(str(doc), "PNG", 0)
                        print(f"wrote {doc} ({doc.stat().st_size // 1024} KB)")
        finally:
            window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
