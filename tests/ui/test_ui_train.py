"""Real tiny trainings in the window: curves, grids, pause/resume, stop, close, failures."""

from __future__ import annotations

import time

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from ui_helpers import tiny

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
    tab.refresh(force=True)
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


def test_a_failing_run_shows_its_message_and_the_app_stays_usable(qtbot, window):
    tiny(window)
    window.dataset_tab.selected = "no-such-dataset"  # fails inside the worker, at load time
    window.start_training()
    wait_idle(qtbot, window)
    assert window.errors and "no-such-dataset" in window.errors[-1]
    boxes = [b for b in window.findChildren(QMessageBox) if b.objectName() == "error-dialog"]
    assert boxes and "no-such-dataset" in boxes[-1].text()
    # Usable afterwards: a valid run trains.
    window.dataset_tab.selected = "mnist-5k"
    tiny(window, **{"train.steps": 3})
    assert window.start_training()
    wait_idle(qtbot, window)
    assert window.train_tab.step == 3 and len(window.errors) == 1


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
    with Image.open(png) as img:
        assert max(img.size) >= 600  # scaled up crisply
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
    from studio.core.train.checkpoint import load_checkpoint

    saved = load_checkpoint(run.path).step
    assert saved >= 10 and window.continue_action.isEnabled()
    window.model_tab.fields["train.steps"].setValue(saved + 3)  # ignored: Continue keeps the run's config
    chunks = []
    window.training.steps.connect(chunks.append)
    assert window.continue_run(run.path)
    qtbot.waitUntil(lambda: bool(chunks) and chunks[-1].step > saved + 1, timeout=60_000)
    assert chunks[0].steps[0] == saved + 1  # continued from the checkpoint, not from 0
    window.training.stop()
    wait_idle(qtbot, window)
    assert load_checkpoint(run.path).step > saved
