"""Render the Search tab mid-study to docs/screenshots/search.png.

    QT_QPA_PLATFORM=offscreen python scripts/screenshot_search.py [--steps 200] [--out docs/screenshots]

Starts a real 12-trial study of the `vae` preset (held-out bits/dim, median pruner) in a
temporary folder and grabs the window at 1280x800 once six trials have finished, three
of them complete (so the importances show), while the next one is running. About a
minute on a laptop CPU. Needs Optuna (pip install 'latent-studio[search]').
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEventLoop, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def mid_study(tab) -> bool:
    rows = list(tab.trials.values())
    finished = [r for r in rows if r.state in ("COMPLETE", "PRUNED")]
    complete = [r for r in rows if r.state == "COMPLETE"]
    running = [r for r in rows if r.state == "RUNNING" and r.intermediate]
    return len(finished) >= 6 and len(complete) >= 3 and bool(running) and bool(tab.importance_values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="steps per trial")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    from studio.ui.main_window import MainWindow
    from studio.ui.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # the window shows runs/<study> paths as a user's would
        settings = Settings(QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat))
        window = MainWindow(settings=settings, runs_root=Path("runs"), show_dialogs=False)
        window.resize(1280, 800)
        window.show()
        tab = window.search_tab
        window.tabs.setCurrentWidget(tab)
        tab.set_preset("vae")
        tab.trials_spin.setValue(12)
        tab.steps_spin.setValue(args.steps)
        tab.objective.setCurrentIndex(tab.objective.findData("nll"))
        if not tab.start():
            raise SystemExit(f"could not start the search: {window.errors}")
        deadline = time.monotonic() + 900
        while not mid_study(tab):
            if time.monotonic() > deadline or not tab.controller.active:
                raise SystemExit(f"the study never reached the mid-study state: {window.errors}")
            loop = QEventLoop()
            QTimer.singleShot(20, loop.quit)
            loop.exec()
        tab._refresh_plots()  # now, not on the redraw timer: the running trial may end soon
        app.processEvents()
        window.grab().save(str(out / "search.png"))
        print(f"wrote {out / 'search.png'}")
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
