"""The window as a session: asking before a training run is stopped, opening runs without
overwriting the form, Continue in the Train tab, Open recent, what is remembered between
launches, the window's size, keyboard shortcuts and the preset notes."""

from __future__ import annotations

import re
import shutil

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from ui_helpers import set_fields, tiny

from studio.core.presets import all_presets
from studio.core.train.rundir import RunDir
from studio.ui.workers import running_threads


def long_run(qtbot, window) -> RunDir:
    tiny(window, **{"train.steps": 100000, "train.checkpoint_every": 100000})
    assert window.start_training()
    qtbot.waitUntil(lambda: window.train_tab.step >= 2, timeout=30_000)
    return RunDir(window.current_run)


@pytest.fixture
def answer(monkeypatch):
    """Answers the modal "A run is training" question with the button named in ``reply``."""
    asked: list[list[str]] = []
    reply = ["Cancel"]

    def fake_exec(box):  # the user's click, without a nested event loop
        names = [b.text().replace("&", "") for b in box.buttons()]
        asked.append(names)
        box.buttons()[names.index(reply[0])].click()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", fake_exec)
    return reply, asked


def test_quitting_mid_training_asks_stop_and_save_or_cancel(qtbot, make_window, answer):
    reply, asked = answer
    window = make_window()
    run = long_run(qtbot, window)
    window.request_quit()  # File → Quit
    assert asked == [["Stop and save", "Cancel"]]
    assert window.isVisible() and window.training.active  # Cancel: still training
    reply[0] = "Stop and save"
    window.request_quit()
    assert not window.isVisible() and running_threads() == []
    assert (run.checkpoints_dir / "last.safetensors").exists()


def test_starting_another_run_mid_training_asks_first(qtbot, window, answer):
    reply, asked = answer
    first = long_run(qtbot, window)
    window.new_run()
    assert asked and window.training.active and window.current_run == first.path  # Cancel
    reply[0] = "Stop and save"
    tiny(window, **{"train.steps": 3})
    assert not window.start_training()  # not now: once the first run has stopped and saved
    qtbot.waitUntil(lambda: window.current_run != first.path and not window.training.active, timeout=60_000)
    assert (first.checkpoints_dir / "last.safetensors").exists()
    assert window.train_tab.step == 3 and window.errors == []


def test_opening_a_run_keeps_the_form_until_the_user_says(qtbot, window, tiny_runs):
    set_fields(window, {"train.steps": 777})
    window.dataset_tab.augment.rotate.setValue(12)
    mine = window.config()
    assert window.open_run(tiny_runs["cgan-mlp"])
    assert window.config() == mine  # steps, dataset and augmentation untouched
    box = next(b for b in window.findChildren(QMessageBox) if b.objectName() == "run-settings-dialog")
    assert "other settings" in box.text() and box.isVisible()
    use = next(b for b in box.buttons() if b.text() == "Use the run's settings")
    use.click()
    assert window.config().train.steps == 20 and window.dataset_tab.augment.rotate.value() == 0


def test_continue_is_a_button_once_a_stopped_run_is_opened(qtbot, window, tiny_runs, tmp_path):
    run = tmp_path / "stopped"
    shutil.copytree(tiny_runs["cgan-mlp"], run)
    text = (run / "config.toml").read_text().replace("steps = 20", "steps = 24")
    (run / "config.toml").write_text(text)  # its checkpoint (step 20) is short of the 24 steps
    tab = window.train_tab
    assert not tab.continue_button.isVisible()
    assert window.open_run(run)
    assert tab.continue_button.isVisible() and tab.continue_button.isEnabled()
    assert "Stopped at step 20 of 24" in tab.status.text() and "Continue" in tab.status.text()
    qtbot.mouseClick(tab.continue_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.training.active, timeout=60_000)
    assert window.errors == [] and tab.step == 24  # from 20, not a new run from 0
    assert window.current_run == run and not tab.continue_button.isVisible()


def test_open_recent_names_each_run_once_with_family_step_and_date(qtbot, window, tiny_runs, monkeypatch):
    run = tiny_runs["cgan-mlp"]
    monkeypatch.chdir(run.parent)
    window.open_run(run.name)  # relative
    window.open_run(run)  # absolute: the same run
    window.open_run(tiny_runs["vae-2d"])
    window.recent_menu.aboutToShow.emit()  # filled as it opens
    labels = [a.text() for a in window.recent_menu.actions()]
    assert len(labels) == 2 and labels[1].startswith("cgan-mlp · cgan · step 20 / 20 · 20")
    assert labels[0].startswith("vae-2d · vae · step 60 / 60")
    assert window.settings.recent_runs == [str(tiny_runs["vae-2d"].resolve()), str(run.resolve())]


def test_the_window_remembers_folder_and_plot_settings(qtbot, make_window, settings, tmp_path, monkeypatch):
    import numpy as np
    from PIL import Image
    from PySide6.QtWidgets import QFileDialog

    folder = tmp_path / "shapes"
    for cls in ("a", "b"):
        (folder / cls).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((8, 8), 40 * i, dtype=np.uint8)).save(folder / cls / f"{i}.png")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    first = make_window()
    with qtbot.waitSignal(first.dataset_tab.previewLoaded, timeout=20_000):
        first.dataset_tab.folder_button.click()
    first.dataset_tab.select("mnist-5k")  # another dataset afterwards: the folder stays listed
    first.train_tab.loss_plot.smoothing.setValue(85)
    first.train_tab.loss_plot.log_scale.setChecked(True)
    first.close()
    second = make_window(wait_preview=False)
    qtbot.waitUntil(lambda: second.dataset_tab.row(str(folder)) is not None, timeout=20_000)
    assert second.dataset_tab.row(str(folder)).status == "folder"
    plot = second.train_tab.loss_plot
    assert plot.smoothing.value() == 85 and plot.log_scale.isChecked()


def test_the_window_fits_a_1280x720_screen(qtbot, window):
    tiny(window, **{"train.steps": 5})
    window.start_training()
    qtbot.waitUntil(lambda: not window.training.active, timeout=60_000)
    for i in range(window.tabs.count()):  # each tab's content shown, the metrics table full
        window.tabs.setCurrentIndex(i)
        qtbot.wait(50)
        hint = window.minimumSizeHint()
        assert hint.width() <= 1200 and hint.height() <= 660, (window.tabs.tabText(i), hint)


def test_keyboard_shortcuts_drive_the_run_and_are_listed_in_help(qtbot, window):
    keys = {name: a.shortcut().toString() for name, a in window.training_actions.items()}
    assert keys["train"] == "F5" and keys["pause"] == "F6" and keys["step"] == "F10"
    assert keys["stop"] == "Shift+F5" and keys["checkpoint"] == "Ctrl+Shift+S"
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    next(a for a in help_menu.actions() if "Keyboard" in a.text()).trigger()
    box = next(b for b in window.findChildren(QMessageBox) if b.objectName() == "shortcuts-dialog")
    for text in ("F5", "F6", "F10", "Shift+F5", "Ctrl+Shift+S", "Train a new run", "One step", "Save checkpoint"):
        assert text in box.text()
    box.close()
    tiny(window, **{"train.steps": 100000, "train.checkpoint_every": 100000})
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    qtbot.keyClick(window, Qt.Key.Key_F5)
    assert window.training.active
    qtbot.waitUntil(lambda: window.train_tab.step >= 2, timeout=30_000)
    qtbot.keyClick(window, Qt.Key.Key_F6)
    qtbot.waitUntil(lambda: window.training.state == "paused", timeout=10_000)
    at = window.train_tab.step
    qtbot.keyClick(window, Qt.Key.Key_F10)
    qtbot.waitUntil(lambda: window.train_tab.step == at + 1, timeout=10_000)
    with qtbot.waitSignal(window.training.checkpoint, timeout=10_000):
        qtbot.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClick(window, Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: not window.training.active, timeout=30_000)
    assert "Stopped at step" in window.train_tab.status.text()


def test_every_preset_note_gives_an_estimated_time(window):
    tab = window.model_tab
    for name in all_presets():
        tab.apply_preset(name)
        note = tab.preset_note.text()
        assert re.search(r"\b(\d+(\.\d+)?|a|an) (s|min|minutes?|hours?)\b.* here", note), (name, note)


def test_a_wide_model_tab_puts_each_fields_help_beside_it(qtbot, window):
    tab = window.model_tab
    window.tabs.setCurrentWidget(tab)
    window.resize(1600, 1000)
    qtbot.waitUntil(lambda: tab.width() >= 1400, timeout=5000)
    assert tab.wide and tab.helps["train.lr"].isVisible()
    assert "generator" in tab.helps["train.lr"].text()
    assert tab.fields["train.lr"].width() <= 240  # the help, not a stretched box, takes the width
    window.resize(1200, 660)
    qtbot.waitUntil(lambda: not tab.wide, timeout=5000)
    assert not tab.helps["train.lr"].isVisible()
