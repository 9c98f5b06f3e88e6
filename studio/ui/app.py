"""``latent-studio gui``: open the studio window.

The window shows first; PyTorch and the engine (seconds to import) load on a worker
thread meanwhile, and ``MainWindow.finish_init`` completes the tabs when they are in.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="latent-studio gui", description="Open the Latent Studio window.")
    parser.add_argument("target", nargs="?", help="a run directory to watch, or a checkpoint to explore")
    parser.add_argument("--preset", help="the Model tab's starting preset (default: cgan)")
    parser.add_argument("--dataset", help="the dataset to select (default: the last one used, else mnist-5k)")
    parser.add_argument("--runs-root", default="runs", help="where new runs are created (default: ./runs)")
    return parser.parse_known_args(argv)


def import_engine(_progress: object = None, _cancelled: object = None) -> bool:
    """The slow imports, done off the GUI thread while the window is already up."""
    import torch  # noqa: F401

    import studio.core.data  # noqa: F401
    import studio.core.explore.explorer  # noqa: F401
    import studio.core.models  # noqa: F401
    import studio.core.train.trainer  # noqa: F401

    try:  # the Model tab's objective formula (widgets/formula.py), drawn when first shown
        import matplotlib.backends.backend_agg  # noqa: F401
        import matplotlib.mathtext  # noqa: F401
    except ImportError:  # the formula then shows as raw LaTeX
        pass

    return True


def main(argv: list[str] | None = None) -> int:
    args, qt_args = parse_args(list(sys.argv[1:] if argv is None else argv))
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0], *qt_args])
    app.setApplicationName("Latent Studio")
    app.setOrganizationName("latent-studio")
    # Wayland matches the window to packaging/'s launcher (and its icon) by this name.
    app.setDesktopFileName("io.github.latent_studio.LatentStudio")

    import pyqtgraph as pg

    from studio.core.config import ConfigError
    from studio.core.presets import PRESETS
    from studio.ui.main_window import MainWindow

    pg.setConfigOptions(antialias=False, foreground="k")
    window = MainWindow(runs_root=args.runs_root, defer_engine=True)
    if args.dataset:
        window.dataset_tab.selected = args.dataset
    if args.preset:
        if args.preset not in PRESETS:
            print(f"latent-studio gui: {ConfigError(f'unknown preset {args.preset!r}')}", file=sys.stderr)
            return 2
        window.model_tab.preset.setCurrentText(args.preset)
        window.model_tab.apply_preset(args.preset)
    window.show()

    def ready(_value: object) -> None:
        window.finish_init()
        if args.target:
            target = Path(args.target)
            if target.is_dir():
                window.open_run(target)
            else:
                window.open_checkpoint(target)

    window.tasks.run(import_engine, on_result=ready, on_error=window.report_error, name="import-engine")
    app.aboutToQuit.connect(window.shutdown)
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
