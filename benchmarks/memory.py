"""Does memory stay flat over a long run? The window and its training process, 10,000 steps.

Trains in the real main window (offscreen), as a person would: the window process draws
the curves, grids and metrics; training runs in its child process (studio/core/train/
child.py). Every 1,000 steps it reads both processes' resident memory (VmRSS from
/proc), and prints the growth from step 1,000 (after start-up: the model, the evaluator,
the first grid) to the end. Default: the cgan-mlp preset (fast steps, so 10,000 of them
take a few minutes), grids every 200 steps, live metrics as the window runs them.

    QT_QPA_PLATFORM=offscreen python benchmarks/memory.py [--preset cgan-mlp] [--steps 10000]

Linux only (it reads /proc).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

EVERY = 1000


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child_pid() -> int | None:
    children = multiprocessing.active_children()
    return children[0].pid if children else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cgan-mlp")
    parser.add_argument("--steps", type=int, default=10_000)
    args = parser.parse_args()

    from studio.core.presets import preset
    from studio.ui.main_window import MainWindow
    from studio.ui.settings import Settings

    app = QApplication.instance() or QApplication(sys.argv)  # noqa: F841 - kept alive for the run
    cfg = preset(args.preset).with_overrides(train={"steps": args.steps, "log_every": 10, "sample_every": 200})
    rows: list[tuple[int, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = Settings(QSettings(str(root / "settings.ini"), QSettings.Format.IniFormat))
        window = MainWindow(settings=settings, runs_root=root / "runs", show_dialogs=False)
        window.show()

        def on_steps(chunk) -> None:
            if chunk.step // EVERY > len(rows) and (pid := child_pid()) is not None:
                rows.append((chunk.step, rss_mb(os.getpid()), rss_mb(pid)))
                print(f"  step {chunk.step:6,}: window {rows[-1][1]:7.1f} MB, training process {rows[-1][2]:7.1f} MB",
                      flush=True)

        window.training.steps.connect(on_steps)
        window.model_tab.set_config(cfg)
        window.dataset_tab.set_data_config(cfg.data)
        loop = QEventLoop()
        window.training.stateChanged.connect(lambda state: loop.quit() if state == "idle" else None)
        print(f"{args.preset}, {args.steps:,} steps in the window (grids every 200 steps)")
        if not window.start_training():
            raise SystemExit(f"could not start: {window.errors}")
        loop.exec()
        if window.errors:
            raise SystemExit(f"training failed: {window.errors}")
        window.close()
    if len(rows) < 2:
        raise SystemExit("too few samples: give more --steps")
    (s0, w0, c0), (sm, wm, cm), (s1, w1, c1) = rows[0], rows[len(rows) // 2], rows[-1]
    # The second half tells a bounded cache filling up (the Train tab keeps its newest grids
    # in memory) from a leak: a leak grows as fast in both halves.
    print(f"memory from step {s0:,} to {s1:,}: window {w1 - w0:+.1f} MB ({w0:.0f} -> {w1:.0f}; "
          f"{w1 - wm:+.1f} from step {sm:,}), training process {c1 - c0:+.1f} MB ({c0:.0f} -> {c1:.0f}; "
          f"{c1 - cm:+.1f} from step {sm:,})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
