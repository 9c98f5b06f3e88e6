"""The explorer's capability-driven views on real tiny models: the diffusion scrubber and
its sampling options, PixelCNN's row-by-row drawing, heat map and completions, slow jobs
with progress and Cancel, truncation, the seed grid, nearest training images, bookmarks,
the VAE's encoded training digits, super-resolution and ensembles.

The tab runs here over its own render thread, without the main window."""

from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest
import torch

from studio.core.models import build_model, seeded
from studio.core.presets import preset
from studio.core.train.checkpoint import load_checkpoint, save_checkpoint

DIGITS = [str(i) for i in range(10)]
TINY_MODELS = {  # preset -> model overrides: seconds to build, fractions of a second a sample
    "cddpm": {"width": 8, "timesteps": 50, "sample_steps": 6},
    "cpixelcnn": {"channels": 8, "layers": 2},
    "vae": {"width": 8, "latent_dim": 8},
    "gan-mlp": {"width": 8},
}


def _save_run(root, name: str, overrides: dict, seed: int = 0):
    """A run directory holding one checkpoint of a freshly built (untrained) tiny model."""
    from studio.core.config import save_config

    cfg = preset(name).with_overrides(model=overrides)
    torch.manual_seed(seed)
    model = build_model(cfg, (1, 28, 28), 10 if cfg.conditional else None)
    with torch.no_grad():  # zero-initialised outputs (a UNet's last conv) would make every option look alike
        for param in model.parameters():
            param.add_(torch.randn_like(param), alpha=0.05)
    run = root / name
    (run / "checkpoints").mkdir(parents=True)
    save_config(cfg, run / "config.toml")
    path = run / "checkpoints" / "last.safetensors"
    save_checkpoint(path, model, cfg, 0, DIGITS if cfg.conditional else None, cfg.data.dataset)
    return path


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory, tiny_runs):
    """Checkpoints of tiny diffusion, PixelCNN, 8-d VAE and MLP GAN models, a trained x2
    ESPCN run and a mixture ensemble of two GANs."""
    from studio.core.ensemble import Member, write_ensemble
    from studio.core.train.trainer import Trainer

    root = tmp_path_factory.mktemp("tiny-models")
    paths = {name: _save_run(root, name, overrides) for name, overrides in TINY_MODELS.items()}
    cfg = preset("espcn-x2").with_overrides(model={"width": 8}, train={
        "steps": 10, "batch_size": 16, "log_every": 5, "sample_every": 1000, "checkpoint_every": 10, "threads": 1})
    events = list(Trainer(cfg, root / "espcn-x2").steps())
    assert type(events[-1]).__name__ == "Finished", events[-1]
    paths["espcn-x2"] = root / "espcn-x2"
    members = [Member(tiny_runs["cgan-mlp"] / "checkpoints" / "last.safetensors"),
               Member(tiny_runs["cgan-mlp"] / "checkpoints" / "last.safetensors", raw=True)]
    paths["ensemble"] = root / "mix.toml"
    write_ensemble(paths["ensemble"], members, "mixture")
    return paths


@pytest.fixture
def explore(qtbot):
    """An Explore tab over its own render thread and task runner, stopped afterwards."""
    from studio.ui.renderer import RenderController
    from studio.ui.tabs.explore import ExploreTab
    from studio.ui.tasks import TaskRunner

    renderer, tasks = RenderController(), TaskRunner()
    tab = ExploreTab(renderer, tasks)
    tab.errors = []
    tab.errorOccurred.connect(tab.errors.append)
    qtbot.addWidget(tab)
    tab.resize(1280, 680)
    tab.show()
    yield tab
    renderer.shutdown()
    tasks.shutdown()


def wait_for(qtbot, tab, channel: str, action, timeout: int = 30_000):
    with qtbot.waitSignal(tab.rendered, timeout=timeout, check_params_cb=lambda c: c == channel):
        action()


def open_model(qtbot, tab, target):
    wait_for(qtbot, tab, "image", lambda: tab.load(target))
    assert not tab.errors, tab.errors
    return tab


def sample(target, z=None, **kwargs):
    model = load_checkpoint(target).model
    images = model.sample(1, z=None if z is None else torch.from_numpy(z[None]).view(1, *model.latent_shape),
                          **kwargs)
    return images.mul(255).round().to(torch.uint8)[0].expand(3, -1, -1).permute(1, 2, 0).numpy()


# -- A. diffusion ----------------------------------------------------------------------------
def test_diffusion_scrubber_follows_the_sampler_and_its_options(qtbot, explore, tiny_models):
    tab = open_model(qtbot, explore, tiny_models["cddpm"])
    info = tab.info
    assert info.can_denoise and info.latent_shape == (1, 28, 28) and info.direction_kind == "random"
    assert tab.options_form.names() == ["steps", "eta", "guidance"] and tab.pages.isTabVisible(1)
    assert tab.pc_box.title().startswith("Random directions") and not tab.axis_box.isVisibleTo(tab)
    path = tab.denoise_panel.path
    assert len(path.ts) == 6 and path.ts[0] == 49 and path.ts[-1] == 0
    np.testing.assert_array_equal(path.x0[-1], tab.image_view.image())
    expected = sample(tiny_models["cddpm"], tab.current_latent(), labels=tab.label(),
                      generator=seeded(tab.seed.value()), **tab.options())
    np.testing.assert_array_equal(tab.image_view.image(), expected)

    tab.denoise_panel.slider.setValue(0)  # scrub back to the noisiest step
    np.testing.assert_array_equal(tab.denoise_panel.xt_view.image(), path.x_t[0])
    assert "t = 49" in tab.denoise_panel.caption.text()
    tab.denoise_panel.play_button.click()
    qtbot.waitUntil(lambda: tab.denoise_panel.slider.value() == 5, timeout=5_000)
    qtbot.waitUntil(lambda: not tab.denoise_panel.play_button.isChecked(), timeout=5_000)

    before = tab.image_view.image().copy()
    wait_for(qtbot, tab, "image", lambda: tab.options_form.slider("guidance").setValue(150))
    assert tab.options()["guidance"] > 10 and not np.array_equal(before, tab.image_view.image())
    wait_for(qtbot, tab, "image", lambda: tab.options_form.input("steps").setValue(3))
    assert len(tab.denoise_panel.path.ts) == 3

    z0 = tab.current_latent()
    wait_for(qtbot, tab, "image", lambda: tab.pc_sliders.slider(0).setValue(200))
    np.testing.assert_allclose(tab.current_latent() - z0, 2.0 * info.direction_vectors[0], atol=1e-5)

    tab.set_a_button.click()
    wait_for(qtbot, tab, "image", tab.random_button.click)
    wait_for(qtbot, tab, "strip", tab.set_b_button.click)
    assert tab.strip_frames.shape == (tab.frames.value(), 28, 28, 3)
    np.testing.assert_allclose(tab.point_b, tab.current_latent())


# -- B. PixelCNN -------------------------------------------------------------------------------
def test_pixelcnn_draws_row_by_row_with_its_heat_map(qtbot, explore, tiny_models):
    tab = explore
    previews = []
    tab.renderer.progress.connect(lambda p: previews.append(p) if p.channel == "image" else None)
    open_model(qtbot, tab, tiny_models["cpixelcnn"])
    info = tab.info
    # the form is the model's declared options, in order (cpixelcnn: temperature, then guidance)
    assert info.can_complete and info.latent_dim == 0
    assert tab.options_form.names() == list(dict(info.sample_options)) and "temperature" in tab.options_form.names()
    assert tab.heat_box.isVisibleTo(tab) and tab.completion.isVisibleTo(tab)
    assert not tab.pages.isTabVisible(0) and not tab.axis_box.isVisibleTo(tab)  # no latent: no slerp, no sliders
    assert any("drawing row" in p.message for p in previews)
    assert tab.view.probs.shape == (28, 28) and np.all((tab.view.probs > 0) & (tab.view.probs <= 1))
    assert tab.heat_view.image().shape == (28, 28, 3)

    wait_for(qtbot, tab, "image", lambda: tab.options_form.slider("temperature").setValue(40))
    options = tab.options()
    assert options["temperature"] == pytest.approx(0.05 + 1.95 * 40 / 200, abs=0.01)
    expected = sample(tiny_models["cpixelcnn"], labels=tab.label(), generator=seeded(tab.seed.value()), **options)
    np.testing.assert_array_equal(tab.image_view.image(), expected)


def test_pixelcnn_completes_a_held_out_digit_k_ways(qtbot, explore, tiny_models):
    tab = open_model(qtbot, explore, tiny_models["cpixelcnn"])
    panel = tab.completion
    panel.digit.setValue(3)
    wait_for(qtbot, tab, "real", panel.digit_button.click)
    image, known = panel.editor.image(), panel.editor.known()
    assert image.shape == (28, 28) and image.max() > 0.5
    assert known[:14].all() and not known[14:].any()  # the lower half hidden
    panel.editor.paint_at(5.5, 3.5, "pen")  # draw a little, and hide a pixel of the upper part too
    panel.editor.paint_at(20.5, 5.5, "hide")
    image, known = panel.editor.image(), panel.editor.known()
    panel.k.setValue(3)
    wait_for(qtbot, tab, "complete", panel.request_complete)
    strip = panel.results.image()
    assert strip.shape == (28, 3 * 28 + 2 * 2, 3)
    for i in range(3):
        cell = strip[:, i * 30: i * 30 + 28, 0]
        np.testing.assert_array_equal(cell[known], np.round(image[known] * 255).astype(np.uint8))
    assert "3 completions" in panel.caption.text()


# -- C. slow jobs: progress, Cancel, superseded ------------------------------------------------
def test_slow_sampling_shows_progress_and_cancels(qtbot, explore, tiny_models):
    tab = open_model(qtbot, explore, tiny_models["cddpm"])
    finished = tab.image_view.image().copy()
    tab.options_form.set_values({"steps": 50, "eta": 1.0})  # the ancestral DDPM sampler over every t
    with qtbot.waitSignal(tab.renderer.progress, timeout=20_000):
        tab.request_render()
    assert tab.progress_row.isVisibleTo(tab) and "image" in tab.busy
    with qtbot.waitSignal(tab.cancelled, timeout=20_000, check_params_cb=lambda c: c == "image"):
        tab.cancel_button.click()
    assert not tab.busy and not tab.progress_row.isVisibleTo(tab)
    assert tab.timing.text() == "cancelled"
    np.testing.assert_array_equal(tab.image_view.image(), finished)  # the last finished image, not a partial one
    wait_for(qtbot, tab, "image", tab.request_render)  # the worker still serves
    assert len(tab.denoise_panel.path.ts) == 50


def test_a_newer_request_stops_the_running_job(qtbot):
    """RenderWorker: should_stop turns true once the channel has a newer request."""
    from types import SimpleNamespace

    from studio.ui.renderer import RenderController

    renderer = RenderController()
    results, cancelled = [], []
    renderer.result.connect(lambda r: results.append((r.channel, r.value)))
    renderer.cancelled.connect(lambda channel, seq: cancelled.append((channel, seq)))
    try:
        with qtbot.waitSignal(renderer.result, timeout=5_000):
            renderer.submit("load", lambda _none: SimpleNamespace(info="model"))
        started = []

        def slow(_ex, ctx):
            started.append(True)
            while not ctx.should_stop():
                ctx.progress(0.5, "working")
                time.sleep(0.005)
            return "stale"

        first = renderer.submit("image", slow, cancellable=True)
        qtbot.waitUntil(lambda: bool(started), timeout=5_000)
        with qtbot.waitSignal(renderer.result, timeout=5_000):
            renderer.submit("image", lambda _ex, _ctx: "fresh", cancellable=True)
        assert ("image", first) in cancelled and results[-1] == ("image", "fresh")
        waiting = renderer.submit("strip", lambda _ex, _ctx: "never", cancellable=True)
        renderer.cancel("strip", waiting)  # may be dropped before it runs, or stopped while it runs
        qtbot.waitUntil(lambda: ("strip", waiting) in cancelled or ("strip", "never") in results, timeout=5_000)
    finally:
        assert renderer.shutdown()


# -- E. truncation, seed grid, zoom, nearest, bookmarks, embedding -------------------------------
def test_truncation_scales_z_toward_the_mean(qtbot, explore, tiny_runs):
    target = tiny_runs["cgan-mlp"] / "checkpoints" / "last.safetensors"
    tab = open_model(qtbot, explore, target)
    assert tab.info.can_truncate and tab.truncation_box.isVisibleTo(tab)
    z = tab.current_latent()
    wait_for(qtbot, tab, "image", lambda: tab.psi_slider.setValue(40))
    assert tab.psi_label.text() == "ψ = 0.40"
    np.testing.assert_allclose(tab.current_latent(), 0.4 * z, atol=1e-6)
    np.testing.assert_array_equal(tab.image_view.image(), sample(target, tab.current_latent(), labels=tab.label()))


def test_seed_grid_shows_many_seeds_and_a_click_loads_one(qtbot, explore, tiny_runs):
    tab = open_model(qtbot, explore, tiny_runs["cgan-mlp"] / "checkpoints" / "last.safetensors")
    base = tab.seed.value()
    tab.grid_side.setValue(3)
    wait_for(qtbot, tab, "grid", lambda: tab.grid_button.setChecked(True))
    grid = tab.image_view.image()
    assert grid.shape == (3 * 28, 3 * 28, 3) and tab.grid_seeds == list(range(base, base + 9))
    cell = grid[28:56, 56:84].copy()  # row 1, column 2: seed base + 5
    wait_for(qtbot, tab, "image", lambda: tab._on_image_click(2.5 / 3, 1 - 1.5 / 3))
    assert tab.seed.value() == base + 5 and not tab.grid_button.isChecked()
    np.testing.assert_array_equal(tab.image_view.image(), cell)


def test_big_image_zooms_and_pans(qtbot, explore, tiny_runs):
    from PySide6.QtCore import QPoint, QPointF, Qt

    tab = open_model(qtbot, explore, tiny_runs["cgan-mlp"] / "checkpoints" / "last.safetensors")
    view = tab.image_view
    whole = view.target_rect()
    view.zoom_at(2.0, QPointF(view.width() / 2, view.height() / 2))
    assert view.zoom == 2.0 and view.target_rect().width() == pytest.approx(2 * whole.width(), abs=2)
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=QPoint(50, 50))
    qtbot.mouseMove(view, QPoint(80, 70))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(80, 70))
    moved = view.target_rect()
    view.zoom_at(2.0, QPointF(view.width() / 2, view.height() / 2))
    wait_for(qtbot, tab, "image", lambda: tab.axis_sliders.slider(0).setValue(100))
    assert view.zoom == 4.0  # a new image of the same size keeps the zoom
    qtbot.mouseDClick(view, Qt.MouseButton.LeftButton, pos=QPoint(10, 10))
    assert view.zoom == 1.0 and view.target_rect() == whole and moved != whole


def test_nearest_training_images_in_evaluator_features(qtbot, explore, tiny_runs):
    tab = open_model(qtbot, explore, tiny_runs["cgan-mlp"] / "checkpoints" / "last.safetensors")
    panel = tab.neighbours
    panel.k.setValue(4)
    wait_for(qtbot, tab, "nearest", panel.request, timeout=60_000)
    assert panel.view.image().shape == (28, 4 * 28 + 3 * 2, 3)
    assert re.match(r"Nearest of 4,500 training images .*typically [0-9.]+ from", panel.caption.text())
    wait_for(qtbot, tab, "nearest", lambda: tab.axis_sliders.slider(0).setValue(150))  # follows new images


def test_bookmarks_are_kept_in_the_run_and_reload(qtbot, explore, tiny_runs):
    target = tiny_runs["cgan-mlp"] / "checkpoints" / "last.safetensors"
    tab = open_model(qtbot, explore, target)
    wait_for(qtbot, tab, "image", lambda: tab.pc_sliders.slider(1).setValue(120))
    wait_for(qtbot, tab, "image", lambda: tab.class_picker._group.button(6).click())
    marked, image = tab.current_latent(), tab.image_view.image().copy()
    tab.bookmarks.name.setText("six")
    assert tab.bookmarks.save_current()
    saved = json.loads((tiny_runs["cgan-mlp"] / "bookmarks.json").read_text())
    assert [b["name"] for b in saved["bookmarks"]] == ["six"] and saved["bookmarks"][0]["label"] == 6
    wait_for(qtbot, tab, "image", tab.random_button.click)
    open_model(qtbot, tab, tiny_runs["vae-2d"])
    open_model(qtbot, tab, target)  # another model and back: the list comes from the file
    assert tab.bookmarks.combo.currentText() == "six"
    wait_for(qtbot, tab, "image", tab.bookmarks.load_button.click)
    np.testing.assert_allclose(tab.current_latent(), marked, atol=1e-6)
    assert tab.label() == 6 and "six" in tab.caption.text()
    np.testing.assert_array_equal(tab.image_view.image(), image)
    (tiny_runs["cgan-mlp"] / "bookmarks.json").unlink()


def test_vae_training_digits_over_the_map_and_projected(qtbot, explore, tiny_runs, tiny_models):
    tab = open_model(qtbot, explore, tiny_runs["vae-2d"])
    wait_for(qtbot, tab, "embed", lambda: tab.digits_check.setChecked(True))
    points = tab.map_view._points
    assert len(points) == 500 and len({colour for *_, colour in points}) == 10
    tab = open_model(qtbot, tab, tiny_models["vae"])  # an 8-d latent: its top two components
    assert tab.embedding_box.isVisibleTo(tab) and not tab.map_box.isVisibleTo(tab)
    wait_for(qtbot, tab, "embed", tab.embed_button.click)
    assert tab.embedding_plot.coords.shape == (500, 2) and "PCA" in tab.embed_label.text()
    wait_for(qtbot, tab, "image", lambda: tab.pick_embedded(7))
    np.testing.assert_allclose(tab.z, tab.embedded.latents[7])


# -- F. super-resolution, ensembles --------------------------------------------------------------
def test_super_resolution_beside_bicubic(qtbot, explore, tiny_runs, tiny_models):
    tab = open_model(qtbot, explore, tiny_runs["cgan-mlp"] / "checkpoints" / "last.safetensors")
    panel = tab.superres
    wait_for(qtbot, tab, "upscale", lambda: panel.choose(2, tiny_models["espcn-x2"]))
    assert panel.sr_view.image().shape == panel.bicubic_view.image().shape == (56, 56, 3)
    wait_for(qtbot, tab, "upscale", lambda: panel.choose(4, tiny_models["espcn-x2"]))
    assert panel.sr_view.image().shape == (112, 112, 3) and "applied 2 times" in panel.run_label.text()
    wait_for(qtbot, tab, "upscale", lambda: tab.axis_sliders.slider(0).setValue(-150))  # follows the image
    assert not tab.loading

    def load_upscaler() -> None:
        tab.load(tiny_models["espcn-x2"])
        assert tab.loading  # until the render thread has built it (benchmarks wait on this)

    wait_for(qtbot, tab, "load", load_upscaler)  # an upscaler alone draws nothing
    assert not tab.loading and tab.info.is_upscaler and "upscaler" in tab.source_label.text() and not tab.seed.isEnabled()


def test_ensemble_says_which_member_drew_the_image(qtbot, explore, tiny_models):
    tab = open_model(qtbot, explore, tiny_models["ensemble"])
    assert len(tab.info.members) == 2
    seen = set()
    for seed in range(1, 9):  # (the tab starts at seed 0: setting it again renders nothing)
        wait_for(qtbot, tab, "image", lambda seed=seed: tab.seed.setValue(seed))
        assert tab.caption.text().startswith("drawn by member ")
        seen.add(tab.caption.text())
    assert len(seen) == 2


@pytest.mark.parametrize("name", ["cddpm", "cpixelcnn", "vae"])
def test_new_views_fit_a_1280x720_screen(qtbot, make_window, tiny_models, name):
    window = make_window(size=(1280, 720))
    tab = window.explore_tab
    with qtbot.waitSignal(tab.rendered, timeout=30_000, check_params_cb=lambda c: c == "image"):
        window.open_checkpoint(tiny_models[name])
    hint = window.minimumSizeHint()
    assert hint.width() <= 1280 and hint.height() <= 720, hint
    assert window.height() <= 720 and tab.image_view.height() >= 160
    window.grab().save(str(tiny_models[name].parent / f"explore-{name}-720.png"))
