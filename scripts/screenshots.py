"""Render each tab of the studio to docs/screenshots/*.png, after short real trainings.

    QT_QPA_PLATFORM=offscreen python scripts/screenshots.py [--steps 400] [--out docs/screenshots]
        [--only explore-diffusion explore-pixelcnn superres]

Trains the default conditional GAN (a few hundred steps, so the curves and grids are
not empty, with live metrics every 50 steps) and a 2-D VAE (for the manifold map and
the drawing canvas), in temporary folders, measures the GAN in the Explore tab, then
grabs the window at 1280x800. The first run also trains the mnist-5k evaluator of the
metrics (under a minute, cached in the user cache dir or $LATENT_STUDIO_CACHE).

The explorer's newer views come from trainings of about two minutes each on one core,
so their samples are rough: a conditional DDPM at width 16 (the denoising scrubber at
its middle step), a small class-conditional PixelCNN (a held-out digit's lower half
completed four ways beside a row-by-row sample and its probability heat map) and an x2
ESPCN beside bicubic over the GAN's sample.
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
VIEWS = ("dataset", "model", "train", "explore-gan", "explore-vae", "explore-diffusion", "explore-pixelcnn", "superres")


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


def train(app: QApplication, window, preset: str, steps: int, model: dict | None = None, **train) -> None:
    window.model_tab.preset.setCurrentText(preset)
    window.model_tab.apply_preset(preset)
    values = {"train.steps": steps, **{f"model.{k}": v for k, v in (model or {}).items()},
              **{f"train.{k}": v for k, v in train.items()}}
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


def wait_channel(app: QApplication, explore, channel: str, action, timeout: float = 300.0) -> None:
    """Do ``action`` and wait until the explorer has shown ``channel``'s newest result."""
    seen: list[str] = []
    explore.rendered.connect(seen.append)
    try:
        action()
        wait(app, lambda: channel in seen and not explore.busy, timeout, what=f"the explorer's {channel}")
    finally:
        explore.rendered.disconnect(seen.append)


def train_headless(root: Path, preset: str, steps: int, model: dict | None = None, **train) -> Path:
    """A short run on one core without the window (its Model tab is not what these screenshots show)."""
    from studio.core.presets import preset as get_preset
    from studio.core.train.trainer import Trainer

    values = {"steps": steps, "batch_size": 32, "sample_every": steps, "log_every": 10, "checkpoint_every": steps,
              "threads": 1, **train}
    cfg = get_preset(preset).with_overrides(model=model or {}, train=values)
    started = time.monotonic()
    events = list(Trainer(cfg, root / preset).steps())
    if type(events[-1]).__name__ != "Finished":
        raise SystemExit(f"training {preset} failed: {events[-1]}")
    print(f"trained {preset} for {steps} steps in {time.monotonic() - started:.0f} s")
    return root / preset


def explore_diffusion(app: QApplication, window, out: Path, steps: int) -> None:
    """The denoising scrubber of a conditional DDPM, stopped half way through its path."""
    run = train_headless(window.runs_root, "cddpm", steps, model={"width": 16})
    explore = window.explore_tab
    wait_channel(app, explore, "image", lambda: window.open_checkpoint(run))
    explore.seed.setValue(5)
    explore.class_picker.set_value(3, notify=False)
    explore.options_form.set_values({"steps": 24, "guidance": 3.0})
    wait_channel(app, explore, "image", explore.request_render)
    explore.pages.setCurrentWidget(explore.denoise_panel)
    explore.denoise_panel.slider.setValue(11)
    grab(window, explore, out / "explore-diffusion.png")


def explore_pixelcnn(app: QApplication, window, out: Path, steps: int) -> None:
    """A row-by-row sample with its heat map, and four completions of a held-out digit."""
    run = train_headless(window.runs_root, "cpixelcnn", steps, model={"channels": 16, "layers": 4})
    explore = window.explore_tab
    wait_channel(app, explore, "image", lambda: window.open_checkpoint(run))
    explore.class_picker.set_value(7, notify=False)
    wait_channel(app, explore, "image", lambda: explore.seed.setValue(2))
    panel = explore.completion
    panel.digit.setValue(4)
    wait_channel(app, explore, "real", panel.request_digit)
    wait_channel(app, explore, "complete", panel.request_complete)
    grab(window, explore, out / "explore-pixelcnn.png")


def superres(app: QApplication, window, out: Path, generator: Path, steps: int) -> None:
    """The GAN's sample through an x2 ESPCN run, beside bicubic."""
    upscaler = train_headless(window.runs_root, "espcn-x2", steps)
    explore = window.explore_tab
    wait_channel(app, explore, "image", lambda: window.open_checkpoint(generator))
    wait_channel(app, explore, "upscale", lambda: explore.superres.choose(2, upscaler))
    explore.pages.setCurrentWidget(explore.superres)
    grab(window, explore, out / "superres.png")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400, help="steps of the conditional GAN")
    parser.add_argument("--vae-steps", type=int, default=1500, help="steps of the 2-D VAE")
    parser.add_argument("--ddpm-steps", type=int, default=500, help="steps of the conditional DDPM")
    parser.add_argument("--pixelcnn-steps", type=int, default=400, help="steps of the conditional PixelCNN")
    parser.add_argument("--espcn-steps", type=int, default=300, help="steps of the x2 ESPCN")
    parser.add_argument("--only", nargs="+", choices=VIEWS, default=list(VIEWS), help="screenshots to make")
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
        try:
            shoot(app, window, args, set(args.only))
        finally:
            window.close()  # also on a failure: the window's threads end before the interpreter
    return 0


def shoot(app: QApplication, window, args: argparse.Namespace, only: set[str]) -> None:
    """Every screenshot asked for, in the order that reuses trainings."""
    wait(app, lambda: window.dataset_tab.preview is not None, what="the dataset preview")

    data = window.dataset_tab
    if "dataset" in only:
        data.augment.rotate.setValue(20)
        data.augment.translate.setValue(0.1)
        grab(window, data, args.out / "dataset.png")
        data.augment.rotate.setValue(0)
        data.augment.translate.setValue(0)
    if "model" in only:
        grab(window, window.model_tab, args.out / "model.png")
    gan = None
    if only & {"train", "explore-gan", "explore-vae", "superres"}:
        gan = explore_gan(app, window, args, only)
    if "explore-diffusion" in only:
        explore_diffusion(app, window, args.out, args.ddpm_steps)
    if "explore-pixelcnn" in only:
        explore_pixelcnn(app, window, args.out, args.pixelcnn_steps)
    if "superres" in only:
        superres(app, window, args.out, gan, args.espcn_steps)


def explore_gan(app: QApplication, window, args: argparse.Namespace, only: set[str]) -> Path:
    """The GAN (training curves, explorer, Measure) and the 2-D VAE's map and canvas; the GAN's run."""
    train(app, window, "cgan", args.steps, sample_every=50, log_every=2)
    gan = window.current_run
    panel = window.train_tab.metrics_panel
    print(f"live metrics: {len(panel.history)} checks; {panel.cost_label.text()}; {panel.status_label.text()}")
    if "train" in only:
        grab(window, window.train_tab, args.out / "train.png")
    explore = window.explore_tab
    if "explore-gan" in only:
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
    if "explore-vae" in only:
        train(app, window, "vae-2d", args.vae_steps, sample_every=100, log_every=10)
        wait(app, lambda: explore.map_view.image() is not None, what="the manifold map")
        explore.canvas.stroke([(60, 40), (130, 40), (95, 160)])  # a "7"
        wait(app, lambda: explore.recon_view.image() is not None, what="the reconstruction")
        grab(window, explore, args.out / "explore-vae.png")
    return gan


if __name__ == "__main__":
    raise SystemExit(main())
