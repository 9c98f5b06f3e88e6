"""Real tiny trainings in the window: curves, grids, pause/resume, one step, save while
paused, the learning rate mid-run, stop, close, failures before and after the start."""

from __future__ import annotations

import time

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from ui_helpers import tiny

from studio.core.train.checkpoint import load_checkpoint
from studio.core.train.rundir import RunDir
from studio.ui.workers import running_threads


def wait_idle(qtbot, window, timeout=60_000):
    qtbot.waitUntil(lambda: not window.training.active, timeout=timeout)


def test_one_click_trains_with_live_curves_and_grids(qtbot, window):
    tab = window.train_tab
    tiny(window)
    assert tab.start_button.isEnabled()
    qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    assert window.training.active and not tab.start_button.isEnabled()
    wait_idle(qtbot, window)
    assert window.errors == []
    assert set(tab.loss_plot.series) == {"d", "g"}
    assert tab.loss_plot.series["g"].n == 20
    tab.refresh()
    x, y = tab.loss_plot._smooth["g"].getData()
    assert len(x) == 20 and np.isfinite(y).all()
    assert tab.grid_updates == 4 and len(tab.timeline) == 4
    grid = tab.grid_view.image()
    assert grid.dtype == np.uint8 and grid.shape == (302, 242, 3)  # 10 class rows x 8 columns
    assert tab.grid_view._row_labels == [str(i) for i in range(10)]
    assert tab.progress.value() == 1000 and "20 / 20" in tab.progress.format()
    assert tab.start_button.isEnabled() and not tab.stop_button.isEnabled()
    run = RunDir(window.current_run)
    assert (run.checkpoints_dir / "last.safetensors").exists()
    # The timeline scrubs back to an earlier grid and forward to the latest again.
    tab.timeline_slider.setValue(0)
    assert "step 5 " in tab.timeline_label.text() and tab.grid_view.image() is not grid
    tab.timeline_slider.setValue(3)
    assert "(latest)" in tab.timeline_label.text()
    # The explorer picks up the finished model.
    qtbot.waitUntil(lambda: window.explore_tab.info is not None, timeout=20_000)
    assert window.explore_tab.info.family == "cgan"


def test_pause_resume_and_stop(qtbot, window):
    tab, ctl = window.train_tab, window.training
    tiny(window, **{"train.steps": 100000, "train.checkpoint_every": 100000})
    window.start_training()
    qtbot.waitUntil(lambda: tab.step >= 3, timeout=30_000)
    tab.pause_button.click()
    qtbot.waitUntil(lambda: ctl.state == "paused", timeout=10_000)
    assert tab.resume_button.isEnabled() and not tab.pause_button.isEnabled()
    paused_at = tab.step
    qtbot.wait(300)
    assert tab.step == paused_at  # nothing moves while paused
    tab.resume_button.click()
    qtbot.waitUntil(lambda: tab.step > paused_at, timeout=10_000)
    assert ctl.state == "running"
    tab.stop_button.click()
    wait_idle(qtbot, window)
    assert window.errors == []
    assert "Stopped at step" in tab.status.text()
    assert (RunDir(window.current_run).checkpoints_dir / "last.safetensors").exists()


def test_paused_run_saves_steps_once_and_takes_a_new_learning_rate(qtbot, window):
    tab, ctl = window.train_tab, window.training
    tiny(window, **{"train.steps": 100000, "train.checkpoint_every": 100000})
    window.start_training()
    qtbot.waitUntil(lambda: tab.step >= 3, timeout=30_000)
    tab.pause_button.click()
    qtbot.waitUntil(lambda: ctl.state == "paused", timeout=10_000)
    paused_at = tab.step
    run = RunDir(window.current_run)
    assert tab.step_button.isEnabled() and tab.save_button.isEnabled()
    with qtbot.waitSignal(ctl.checkpoint, timeout=10_000):
        tab.save_button.click()
    assert "Checkpoint saved at step" in tab.status.text() and ctl.state == "paused"
    assert load_checkpoint(run.path).step == paused_at  # on disk while still paused
    tab.step_button.click()
    qtbot.waitUntil(lambda: tab.step == paused_at + 1, timeout=10_000)
    qtbot.wait(300)
    assert tab.step == paused_at + 1 and ctl.state == "paused"  # exactly one step, still paused
    tab.lr_edit.setText("1e-3")
    with qtbot.waitSignal(ctl.learningRate, timeout=10_000):
        tab.lr_button.click()
    assert "→ 0.001" in tab.status.text()
    tab.stop_button.click()
    wait_idle(qtbot, window)
    changes = [r for r in run.read_metrics() if r.get("kind") == "lr"]
    assert [(r["step"], r["lr"]) for r in changes] == [(paused_at + 1, 1e-3)]
    assert window.errors == []


def test_save_checkpoint_button(qtbot, window):
    tab = window.train_tab
    tiny(window, **{"train.steps": 100000, "train.checkpoint_every": 100000})
    window.start_training()
    qtbot.waitUntil(lambda: tab.step >= 2, timeout=30_000)
    with qtbot.waitSignal(window.training.checkpoint, timeout=10_000):
        tab.save_button.click()
    assert "Checkpoint saved" in tab.status.text()
    window.training.stop()
    wait_idle(qtbot, window)


def test_closing_mid_training_saves_a_checkpoint_and_stops_the_thread(qtbot, make_window):
    window = make_window()
    tiny(window, **{"train.steps": 100000, "train.checkpoint_every": 100000})
    window.start_training()
    qtbot.waitUntil(lambda: window.train_tab.step >= 2, timeout=30_000)
    run = RunDir(window.current_run)
    start = time.perf_counter()
    window.close()
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0, f"closing took {elapsed:.2f} s"
    assert running_threads() == []
    assert (run.checkpoints_dir / "last.safetensors").exists()


def shown_boxes(window, name):
    return [b for b in window.findChildren(QMessageBox) if b.objectName() == name and b.isVisible()]


def test_a_run_that_fails_to_start_leaves_the_last_run_on_screen(qtbot, window, tmp_path):
    tab = window.train_tab
    tiny(window, **{"train.steps": 10})
    window.start_training()
    wait_idle(qtbot, window)
    curves, grids, progress = tab.loss_plot.series["g"].n, len(tab.timeline), tab.progress.format()
    metrics_text = tab.metrics_panel.status_label.text()
    runs_root = window.runs_root
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    window.runs_root = blocker  # the child prepares the live metrics, then cannot create the run's folder
    monitor = []
    window.training.monitor.connect(monitor.append)
    assert window.start_training()
    wait_idle(qtbot, window)
    assert any(m.state == "preparing" for m in monitor)  # it got as far as the evaluator
    assert len(window.errors) == 1 and "not-a-folder" in window.errors[0]
    boxes = shown_boxes(window, "error-dialog")
    assert len(boxes) == 1 and "not-a-folder" in boxes[0].text()
    # The finished run is still on screen, with its progress, not "Preparing the evaluator…".
    assert tab.loss_plot.series["g"].n == curves and len(tab.timeline) == grids == 2
    assert tab.progress.format() == progress == "step 10 / 10" and "Could not start" in tab.status.text()
    assert tab.metrics_panel.status_label.text() == metrics_text
    # Usable afterwards: a valid run trains and replaces the views.
    window.runs_root = runs_root
    tiny(window, **{"train.steps": 3})
    assert window.start_training()
    wait_idle(qtbot, window)
    assert tab.step == 3 and tab.loss_plot.series["g"].n == 3 and len(window.errors) == 1


def test_a_dataset_not_on_disk_is_caught_before_the_start(qtbot, window, tmp_path, monkeypatch):
    import studio.ui.tabs.dataset as dataset_module

    tab = window.train_tab
    tiny(window, **{"train.steps": 5})
    window.start_training()
    wait_idle(qtbot, window)
    curves, grids, progress = tab.loss_plot.series["g"].n, len(tab.timeline), tab.progress.format()
    window.settings.data_root = str(tmp_path / "datasets")  # nothing downloaded there
    window.dataset_tab.refresh()
    window.dataset_tab.select("fashion-mnist")
    assert "not on disk" in window.model_tab.validation.text()  # before any click, not "✓ valid"
    qtbot.mouseClick(tab.start_button, Qt.MouseButton.LeftButton)
    assert not window.training.active  # no child started
    assert len(window.errors) == 1 and "download it" in window.errors[0]
    assert "Set download = true" not in window.errors[0]  # the CLI's advice, not the window's
    boxes = shown_boxes(window, "dataset-dialog")
    assert len(boxes) == 1 and not shown_boxes(window, "error-dialog")  # shown once
    buttons = {b.text(): b for b in boxes[0].buttons()}
    assert {"Download and train", "Choose an image folder…"} <= set(buttons)
    assert tab.loss_plot.series["g"].n == curves and len(tab.timeline) == grids
    assert tab.progress.format() == progress
    # "Download and train" starts the Dataset tab's download; a cancelled one trains nothing.
    started = []

    def fake_download(name, root, progress, cancelled):
        started.append(name)
        return "cancelled"

    monkeypatch.setattr(dataset_module, "_download", fake_download)
    with qtbot.waitSignal(window.dataset_tab.downloadFinished, timeout=10_000):
        buttons["Download and train"].click()
    assert started == ["fashion-mnist"] and window.tabs.currentWidget() is window.dataset_tab
    assert not window.training.active and len(window.errors) == 1


def test_invalid_config_names_the_field_instead_of_training(qtbot, window):
    tiny(window)
    window.model_tab.fields["model.latent_dim"].setValue(0)
    assert not window.start_training()
    assert "model.latent_dim must be between 1 and 1024" in window.errors[-1]
    assert window.tabs.currentWidget() is window.model_tab


def test_exports_png_and_gif(qtbot, window, tmp_path):
    tiny(window, **{"train.steps": 10})
    window.start_training()
    wait_idle(qtbot, window)
    png = window.train_tab.export_png(tmp_path / "grid.png")
    assert window.statusBar().currentMessage() == f"Saved {png}"
    grid = window.train_tab.grid_view.image()
    with Image.open(png) as img:
        assert max(img.size) >= 600  # scaled up crisply
        scale = img.size[1] // grid.shape[0]
        margin = img.size[0] - grid.shape[1] * scale
        assert margin > 0 and img.size[1] == grid.shape[0] * scale  # a column for the class names
        labels = np.asarray(img.convert("L"))[:, :margin]
        assert (labels < 128).any()  # text drawn in it
    gif = tmp_path / "evolution.gif"
    done = []
    window.train_tab.export_gif(gif, on_done=done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=20_000)
    with Image.open(gif) as img:
        assert img.n_frames == 2


def test_open_run_follows_another_process(qtbot, window, tiny_runs, tmp_path):
    """A run another process is still writing: new lines and grids appear as they land."""
    import json
    import shutil

    source = tiny_runs["cgan-mlp"]
    run = tmp_path / "live-run"
    run.mkdir()
    shutil.copy(source / "config.toml", run / "config.toml")
    lines = (source / "metrics.jsonl").read_text().splitlines()
    (run / "metrics.jsonl").write_text("\n".join(lines[:5]) + "\n" + lines[5][:10])  # a half line
    assert window.open_run(run)
    tab = window.train_tab
    assert tab.state == "watching" and tab.loss_plot.series["g"].n == 5
    with (run / "metrics.jsonl").open("a") as handle:
        handle.write(lines[5][10:] + "\n" + "\n".join(lines[6:]) + "\n")
        handle.write(json.dumps({"step": 20, "kind": "metrics", "values": {"fid": 1.5}}) + "\n")
    (run / "samples").mkdir()
    shutil.copy(source / "samples" / "step-000005.png", run / "samples" / "step-000005.png")
    qtbot.waitUntil(lambda: tab.loss_plot.series["g"].n == len(lines) and len(tab.timeline) == 1, timeout=5000)
    assert tab.metrics_panel.history[-1].values == {"fid": 1.5}
    assert str(run) in window.settings.recent_runs
    window.new_run()
    assert tab.state == "idle" and not window.follow_timer.isActive()


def test_loss_plot_stays_fluid_past_100k_points(qtbot):
    from studio.ui.widgets.loss_plot import LossPlot

    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.resize(600, 400)
    plot.show()
    rng = np.random.default_rng(0)
    for start in range(0, 120_000, 10_000):  # 12 chunks of 10k points, 3 losses
        steps = np.arange(start, start + 10_000)
        plot.append(steps, {k: rng.random(10_000) + 1 for k in ("d", "g", "kl")})
        plot.refresh()
    for i in range(5):
        plot.append(np.array([120_000 + i]), {"d": np.ones(1), "g": np.ones(1), "kl": np.ones(1)})
        plot.refresh()
        plot.plot.grab()  # includes the paint
    assert plot.point_count() == 3 * 120_005
    # Fluid because what is drawn stays bounded by the width (peak downsampling), not by the
    # number of points: a structural check, not a wall-clock one (CI machines are noisy).
    for item in plot._raw.values():
        assert len(item.xData) == 120_005 and len(item.curve.getData()[0]) < 12_000
    plot.log_scale.setChecked(True)
    plot.smoothing.setValue(90)
    plot.plot.grab()


def test_closing_while_paused_still_saves_and_exits(qtbot, make_window):
    window = make_window()
    tiny(window, **{"train.steps": 100000, "train.checkpoint_every": 100000})
    window.start_training()
    qtbot.waitUntil(lambda: window.train_tab.step >= 2, timeout=30_000)
    window.training.pause()
    qtbot.waitUntil(lambda: window.training.state == "paused", timeout=10_000)
    run = RunDir(window.current_run)
    window.close()
    assert running_threads() == []
    assert (run.checkpoints_dir / "last.safetensors").exists()


def test_a_killed_training_process_leaves_the_window_up_and_the_run_resumable(qtbot, make_window):
    import os
    import signal

    window = make_window()
    tiny(window, **{"train.steps": 100000, "train.checkpoint_every": 5})
    window.start_training()
    qtbot.waitUntil(lambda: window.train_tab.step >= 12, timeout=60_000)
    child = window.training.trainer
    assert child.process.pid != os.getpid()  # the training runs in its own process
    os.kill(child.process.pid, signal.SIGKILL)
    wait_idle(qtbot, window, 30_000)
    assert window.errors and "killed by SIGKILL" in window.errors[-1]
    assert "can continue from its last checkpoint" in window.errors[-1]
    run = RunDir(window.current_run)
    saved = load_checkpoint(run.path).step
    assert saved >= 10 and window.continue_action.isEnabled()
    assert window.train_tab.continue_button.isVisible()  # in the Train tab, not only the menu
    window.model_tab.fields["train.steps"].setValue(saved + 3)  # ignored: Continue keeps the run's config
    chunks = []
    window.training.steps.connect(chunks.append)
    assert window.continue_run(run.path)
    qtbot.waitUntil(lambda: bool(chunks) and chunks[-1].step > saved + 1, timeout=60_000)
    assert chunks[0].steps[0] == saved + 1  # continued from the checkpoint, not from 0
    window.training.stop()
    wait_idle(qtbot, window)
    assert load_checkpoint(run.path).step > saved
