"""The explorer's views (Qt-free): capabilities in ExplorerInfo, renders that equal the
engine's samples (denoising path, row-by-row drawing, seed grid), completions, bookmarks,
nearest training images, the 2-D projection and super-resolution."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.core.config import DataConfig
from studio.core.errors import StudioError
from studio.core.explore import views
from studio.core.explore.bookmarks import (
    Bookmark,
    bookmarks_path,
    load_bookmarks,
    save_bookmarks,
    with_bookmark,
)
from studio.core.explore.embedding import project_2d
from studio.core.explore.explorer import Explorer
from studio.core.explore.images import heat, to_uint8
from studio.core.models import build_model, seeded
from studio.core.presets import preset


def explorer(name: str, **overrides) -> Explorer:
    cfg = preset(name).with_overrides(model=overrides)
    torch.manual_seed(0)
    model = build_model(cfg, (1, 28, 28), 10 if cfg.conditional else None)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param), alpha=0.05)
    ex = Explorer(model)
    ex.data_config = cfg.data
    return ex


@pytest.fixture(scope="module")
def ddpm():
    return explorer("cddpm", width=8, timesteps=20, sample_steps=5)


@pytest.fixture(scope="module")
def pixelcnn():
    return explorer("cpixelcnn", channels=8, layers=2)


def test_info_declares_what_each_view_keys_on(ddpm, pixelcnn):
    d, p, g = ddpm.info, pixelcnn.info, explorer("gan-mlp", width=8).info
    assert d.can_denoise and d.can_cancel and not d.can_complete and d.direction_kind == "random"
    assert p.can_complete and p.can_cancel and not p.can_denoise and p.latent_dim == 0 and p.directions == 0
    assert g.can_truncate and not g.can_cancel and g.direction_kind == "ganspace"
    assert not explorer("vae", width=8).info.can_truncate  # an encoder's latent is not truncated
    assert explorer("espcn-x2", width=8).info.is_upscaler


def test_denoising_path_ends_in_the_engines_sample(ddpm):
    z = ddpm.random_latent(3)
    seen = []
    view = views.render_view(ddpm, z, 4, seed=3, options={"guidance": 2.0},
                             progress=lambda f, msg, preview: seen.append((f, msg, preview.shape)))
    assert view.path.ts == (19, 14, 10, 5, 0) and view.path.x_t.shape == (5, 28, 28, 3)
    expected = to_uint8(ddpm.model.sample(1, 4, seeded(3), z=torch.from_numpy(z).view(1, 1, 28, 28), guidance=2.0))
    np.testing.assert_array_equal(view.image, expected[0])
    np.testing.assert_array_equal(view.path.x0[-1], view.image)
    assert seen[-1][0] == 1.0 and "step 5 of 5" in seen[-1][1] and seen[-1][2] == (28, 28, 3)


def test_a_stopped_view_raises_instead_of_passing_for_finished(ddpm, pixelcnn):
    calls = []

    def stop_after_two() -> bool:
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(views.Stopped):
        views.render_view(ddpm, ddpm.random_latent(0), 0, 0, {}, stop_after_two)
    calls.clear()
    with pytest.raises(Exception, match="stopped"):
        views.render_view(pixelcnn, np.zeros(0, np.float32), 0, 0, {}, stop_after_two)


def test_row_by_row_drawing_is_the_engines_sample_with_its_probabilities(pixelcnn):
    rows = []
    view = views.render_view(pixelcnn, np.zeros(0, np.float32), 7, seed=5, options={"temperature": 0.7},
                             progress=lambda f, msg, preview: rows.append(msg))
    expected = to_uint8(pixelcnn.model.sample(1, 7, seeded(5), temperature=0.7))[0]
    np.testing.assert_array_equal(view.image, expected)
    assert len(rows) == 28 and rows[0] == "drawing row 1 of 28"
    assert view.probs.shape == (28, 28) and np.all((view.probs > 0) & (view.probs <= 1))
    shades = heat(views.heat_values(view.probs))
    assert shades.shape == (28, 28, 3) and shades.dtype == np.uint8


def test_completions_keep_the_known_pixels(pixelcnn):
    image = np.zeros((28, 28), np.float32)
    image[4:24, 12:16] = 1.0
    known = np.ones((28, 28), bool)
    known[14:] = False
    out = views.complete(pixelcnn, image, known, 3, label=1, seed=2)
    assert out.shape == (3, 28, 28, 3)
    for k in range(3):
        np.testing.assert_array_equal(out[k, :14, :, 0], (image[:14] * 255).astype(np.uint8))
    assert not np.array_equal(out[0, 14:], out[1, 14:])  # k different completions


def test_seed_grid_cells_are_the_single_renders():
    ex = explorer("gan-mlp", width=8)
    seeds = [11, 12, 13]
    latents = [ex.random_latent(s) * 0.5 for s in seeds]
    images, members = views.seed_grid(ex, latents, seeds, None, {})
    assert images.shape == (3, 28, 28, 3) and members == [None] * 3
    np.testing.assert_array_equal(images[1], views.render_view(ex, latents[1], None, 12, {}).image)


def test_bookmarks_round_trip_and_a_bad_file_names_itself(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.toml").write_text("")
    assert bookmarks_path(run / "checkpoints" / "last.safetensors") == run / "bookmarks.json"
    assert bookmarks_path(tmp_path / "loose.safetensors") == tmp_path / "loose.bookmarks.json"
    marks = with_bookmark([], Bookmark("a", 1, (0.5, -1.0), 3, 0.7, {"steps": 20.0}))
    marks = with_bookmark(marks, Bookmark("b", 2))
    marks = with_bookmark(marks, Bookmark("a", 9))  # same name: replaced in place
    path = save_bookmarks(run / "bookmarks.json", marks)
    assert [(b.name, b.seed) for b in load_bookmarks(path)] == [("a", 9), ("b", 2)]
    assert load_bookmarks(tmp_path / "missing.json") == []
    path.write_text("{not json")
    with pytest.raises(StudioError, match="bookmarks.json"):
        load_bookmarks(path)


def test_projection_to_two_dimensions():
    rng = np.random.default_rng(0)
    flat = rng.normal(size=(200, 2)).astype(np.float32)
    coords, method = project_2d(flat)
    np.testing.assert_array_equal(coords, flat)
    assert method == "latent means"
    wide = np.concatenate([flat * [5, 3], rng.normal(size=(200, 6)) * 0.01], axis=1)
    coords, method = project_2d(wide)
    assert coords.shape == (200, 2) and "PCA" in method and "100%" in method


def test_nearest_training_image_of_a_training_image_is_itself(cheap_evaluator):
    from studio.core.data import load_dataset

    ex = explorer("gan-mlp", width=8)
    train = load_dataset(DataConfig(), "train")
    image = to_uint8(train.images[17:18].float() / 255)[0]
    found = views.nearest(ex, image, k=3)
    assert found.indices[0] == 17 and found.distances[0] == pytest.approx(0.0, abs=1e-4)
    assert found.searched == len(train) and np.isfinite(found.typical) and found.typical > 0
    assert found.images.shape == (3, 28, 28, 3)


def test_upscaling_passes_and_bicubic(tmp_path):
    from studio.core.train.checkpoint import save_checkpoint

    assert views.passes_for(2, 2) == 1 and views.passes_for(2, 4) == 2 and views.passes_for(4, 4) == 1
    with pytest.raises(StudioError, match="x4 model cannot upscale x2"):
        views.passes_for(4, 2)
    cfg = preset("espcn-x2").with_overrides(model={"width": 8})
    save_checkpoint(tmp_path / "sr.safetensors", build_model(cfg, (1, 28, 28), None), cfg, 0, None, "mnist-5k")
    ex = explorer("gan-mlp", width=8)
    sr, bicubic, note = views.super_resolve(ex, np.zeros((28, 28, 3), np.uint8), 4, tmp_path / "sr.safetensors")
    assert sr.shape == bicubic.shape == (112, 112, 3) and "applied 2 times" in note
