"""Start-up, menus, settings and About."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from studio.ui.app import main
from studio.ui.main_window import MainWindow

ROOT = Path(__file__).resolve().parents[2]


def test_window_shows_before_torch_is_imported(tmp_path):
    """The real entry point in a fresh process: the window is up before torch loads."""
    script = (
        "import os, sys, time\n"
        "t0 = time.perf_counter()\n"
        "from studio.ui import app\n"
        "from studio.ui.main_window import MainWindow\n"
        "show = MainWindow.show\n"
        "def shown(self):\n"
        "    show(self)\n"
        "    print('SHOWN', round(time.perf_counter() - t0, 2), 'torch' in sys.modules, flush=True)\n"
        "    os._exit(0)  # the point is made; skip waiting for the background import\n"
        "MainWindow.show = shown\n"
        f"sys.exit(app.main(['--runs-root', {str(tmp_path / 'runs')!r}]))\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if x.startswith("SHOWN"))
    _, seconds, torch_loaded = line.split()
    assert torch_loaded == "False"
    assert float(seconds) < 10  # ~1 s on an idle machine; the bound only catches a regression to eager imports


def test_main_opens_with_the_preset_and_dataset_ready_to_train(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    seen = {}

    def inspect():
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if not windows or not windows[0].engine_ready or windows[0].dataset_tab.preview is None:
            QTimer.singleShot(50, inspect)
            return
        w = windows[0]
        seen.update(
            preset=w.model_tab.preset.currentText(),
            family=w.model_tab.config().model.family,
            dataset=w.dataset_tab.selected,
            can_train=w.train_tab.start_button.isEnabled(),
            tab=w.tabs.tabText(w.tabs.currentIndex()),
        )
        w.close()

    QTimer.singleShot(0, inspect)
    assert main(["--runs-root", str(tmp_path / "runs"), "--preset", "vae"]) == 0
    assert seen == {"preset": "vae", "family": "vae", "dataset": "mnist-5k", "can_train": True, "tab": "Train"}


def test_settings_remember_dataset_geometry_and_recent_runs(make_window, settings, tiny_runs):
    first = make_window()
    first.resize(1000, 700)
    first.open_run(tiny_runs["cgan-mlp"])
    first.dataset_tab.select("fashion-mnist")
    first.close()
    second = make_window(wait_preview=False, size=None)
    assert second.dataset_tab.selected == "fashion-mnist"
    assert settings.geometry is not None and second.height() == 700  # (width: the offscreen screen clamps it)
    assert settings.recent_runs[0] == str(tiny_runs["cgan-mlp"].resolve())
    second.recent_menu.aboutToShow.emit()  # filled as it opens
    assert [a.toolTip() for a in second.recent_menu.actions()] == [str(tiny_runs["cgan-mlp"].resolve())]


def test_about_has_the_mnist_attribution(window):
    help_menu = window.findChild(type(window.menuBar())).actions()[-1].menu()
    next(a for a in help_menu.actions() if "About" in a.text()).trigger()
    box = next(b for b in window.findChildren(QMessageBox) if b.objectName() == "about-dialog")
    assert "Yann LeCun" in box.text() and "CC BY-SA 3.0" in box.text()


def test_open_run_that_is_not_a_run_reports_it(window, tmp_path):
    assert not window.open_run(tmp_path)
    assert "not a run directory" in window.errors[-1]


def test_continue_training_an_opened_run(qtbot, window, tiny_runs, tmp_path):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(tiny_runs["cgan-mlp"], run)
    text = (run / "config.toml").read_text().replace("steps = 20", "steps = 24")
    (run / "config.toml").write_text(text)
    assert window.open_run(run)
    assert window.continue_action.isEnabled()
    assert window.continue_run()
    qtbot.waitUntil(lambda: not window.training.active, timeout=60_000)
    assert window.errors == [] and window.train_tab.step == 24
