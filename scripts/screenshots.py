"""Render each tab of the studio to docs/screenshots/*.png, after short real trainings.

    QT_QPA_PLATFORM=offscreen python scripts/screenshots.py [--steps 400] [--out docs/screenshots]

Trains the default conditional GAN (a few hundred steps, so the curves and grids are
not empty, with live metrics every 50 steps) and a 2-D VAE (for the manifold map and
the drawing canvas), in temporary folders, measures the GAN in the Explore tab, then
grabs the window at 1280x800. The first run also trains the mnist-5k evaluator of the
metrics (under a minute, cached in the user cache dir or $LATENT_STUDIO_CACHE).
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

SIZE = (1280, 800)


def wait(app: QApplication, done, timeout: float = 600.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        loop = QEventLoop()
        QTimer.singleShot(50, loop.quit)
        loop.exec()


def settle(app: QApplication, ms: int = 400) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def grab(window, tab, path: Path) -> None:
    window.tabs.setCurrentWidget(tab)
    settle(QApplication.instance())
    window.grab().save(str(path))
    print(f"wrote {path}")


def train(app: QApplication, window, preset: str, steps: int, **train) -> None:
    window.model_tab.preset.setCurrentText(preset)
    window.model_tab.apply_preset(preset)
    values = {"train.steps": steps, **{f"train.{k}": v for k, v in train.items()}}
    for name, value in values.items():
        window.model_tab.fields[name].setValue(value)
    if not window.start_training():
        raise SystemExit(f"could not start training: {window.errors}")
    started = time.monotonic()
    wait(app, lambda: not window.training.active, what=f"the {preset} training")
    print(f"trained {preset} for {steps} steps in {time.monotonic() - started:.0f} s")
    if window.errors:
        raise SystemExit(f"training failed: {window.errors}")
    wait(app, lambda: window.explore_tab.info is not None and window.explore_tab.image_view.image() is not None,
         what="the explorer")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400, help="steps of the conditional GAN")
    parser.add_argument("--vae-steps", type=int, default=1500, help="steps of the 2-D VAE")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    app = QApplication.instance() or QApplication([])
    from studio.ui.main_window import MainWindow
    from studio.ui.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat))
        window = MainWindow(settings=settings, runs_root=Path(tmp) / "runs", show_dialogs=False)
        window.resize(*SIZE)
        window.show()
        wait(app, lambda: window.dataset_tab.preview is not None, what="the dataset preview")

        data = window.dataset_tab
        data.rotate.setValue(20)
        data.translate.setValue(0.1)
        grab(window, data, args.out / "dataset.png")
        data.rotate.setValue(0)
        data.translate.setValue(0)
        grab(window, window.model_tab, args.out / "model.png")

        train(app, window, "cgan", args.steps, sample_every=50, log_every=2)
        panel = window.train_tab.metrics_panel
        print(f"live metrics: {len(panel.history)} checks; {panel.cost_label.text()}; {panel.status_label.text()}")
        grab(window, window.train_tab, args.out / "train.png")

        explore = window.explore_tab
        explore.class_picker.set_value(3)
        explore.set_endpoint("a")
        explore.seed.setValue(7)
        explore.class_picker.set_value(8)
        explore.set_endpoint("b")
        explore.pc_sliders.slider(0).setValue(150)
        wait(app, lambda: explore.strip_frames is not None, what="the slerp strip")
        window.tabs.setCurrentWidget(explore)
        explore.measure()
        wait(app, lambda: not explore.measuring, what="the measurement")
        if explore.report is None:
            raise SystemExit(f"measuring failed: {window.errors}")
        grab(window, explore, args.out / "explore-gan.png")

        train(app, window, "vae-2d", args.vae_steps, sample_every=100, log_every=10)
        wait(app, lambda: explore.map_view.image() is not None, what="the manifold map")
        explore.canvas.stroke([(60, 40), (130, 40), (95, 160)])  # a "7"
        wait(app, lambda: explore.recon_view.image() is not None, what="the reconstruction")
        grab(window, explore, args.out / "explore-vae.png")
        window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
