"""Latent tools (Qt-free): slerp, GANSpace directions, the manifold map, encoding, export."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from studio.core.explore.directions import hidden_layer, latent_directions
from studio.core.explore.encode import center_digit, encode_image
from studio.core.explore.explorer import Explorer
from studio.core.explore.export import save_gif, save_png
from studio.core.explore.images import tile, to_uint8
from studio.core.explore.latent import interpolate, random_latent, slerp
from studio.core.explore.manifold import fraction_to_z, manifold_map, z_to_fraction
from studio.core.models import build_model, seeded
from studio.core.presets import preset


def model(name: str, width: int = 8):
    torch.manual_seed(0)
    cfg = preset(name).with_overrides(model={"width": width})
    return build_model(cfg, (1, 28, 28), 10).eval()


def test_slerp_ends_midpoint_and_norm():
    a, b = np.array([1.0, 0.0], np.float32), np.array([0.0, 2.0], np.float32)
    np.testing.assert_allclose(slerp(a, b, 0.0), a, atol=1e-6)
    np.testing.assert_allclose(slerp(a, b, 1.0), b, atol=1e-6)
    mid = slerp(a, b, 0.5)
    assert np.linalg.norm(mid) == pytest.approx(1.5)  # norm interpolated, not shrunk like lerp
    assert mid[0] == pytest.approx(mid[1] / 1.0, rel=1e-5)  # on the 45 degree ray
    path = interpolate(a, b, 5)
    assert path.shape == (5, 2) and path.dtype == np.float32
    np.testing.assert_allclose(slerp(a, a, 0.3), a, atol=1e-6)  # parallel: no division by zero
    np.testing.assert_allclose(slerp(a, -a, 0.5), [0.0, 0.0], atol=1e-6)


def test_random_latent_is_the_engines_draw_for_that_seed():
    m = model("gan-mlp")
    z = random_latent(m.latent_dim, 42)
    expected = m.sample(1, generator=seeded(42))
    np.testing.assert_array_equal(to_uint8(m.sample(1, z=torch.from_numpy(z[None]))), to_uint8(expected))


@pytest.mark.parametrize("name", ["gan-mlp", "cgan", "vae"])
def test_directions_are_unit_vectors_in_z_and_deterministic(name):
    m = model(name)
    d = latent_directions(m, k=5, n_samples=400)
    assert d.vectors.shape == (5, m.latent_dim)
    np.testing.assert_allclose(np.linalg.norm(d.vectors, axis=1), 1.0, atol=1e-5)
    assert (np.diff(d.explained) <= 1e-6).all() and d.explained.sum() <= 1.0
    again = latent_directions(m, k=5, n_samples=400)
    np.testing.assert_allclose(np.abs(d.vectors), np.abs(again.vectors), atol=1e-5)
    assert hidden_layer(m)[0] == d.layer


def test_first_direction_moves_the_layer_most():
    """Moving z along PC1 changes the hidden layer more than a random direction does."""
    m = model("gan-mlp", width=16)
    d = latent_directions(m, k=3, n_samples=1000)
    _, layer = hidden_layer(m)
    acts = []
    handle = layer.register_forward_hook(lambda _m, _i, out: acts.append(out.flatten(1)))
    z = torch.randn(256, m.latent_dim, generator=torch.Generator().manual_seed(1))
    rand = torch.randn(m.latent_dim, generator=torch.Generator().manual_seed(2))
    rand /= rand.norm()
    with torch.no_grad():
        for direction in (torch.from_numpy(d.vectors[0]), rand):
            m.decode(z, None)
            m.decode(z + direction, None)
    handle.remove()
    pc_change = (acts[1] - acts[0]).norm(dim=1).mean()
    random_change = (acts[3] - acts[2]).norm(dim=1).mean()
    assert pc_change > random_change


def test_manifold_map_layout_and_click_mapping():
    m = model("vae-2d")
    image = manifold_map(m, n=5)
    assert image.shape == (5 * 28, 5 * 28, 3) and image.dtype == np.uint8
    for u in (0.0, 0.1, 0.5, 0.93, 1.0):
        assert z_to_fraction(fraction_to_z(u)) == pytest.approx(u, abs=1e-9)
    assert fraction_to_z(0.5) == pytest.approx(0.0, abs=1e-12)
    # The top-right cell decodes z = (high, high): the same image as decoding it directly.
    zs = [fraction_to_z((j + 0.5) / 5) for j in range(5)]
    direct = to_uint8(m.sample(1, z=torch.tensor([[zs[-1], zs[-1]]])))[0]
    np.testing.assert_array_equal(image[:28, -28:], direct)


def test_center_digit_scales_and_centres_like_mnist():
    drawing = np.zeros((200, 200), np.float32)
    drawing[10:110, 150:170] = 1.0  # a tall bar in the top-right corner
    digit = center_digit(drawing, 28)
    assert digit.shape == (28, 28)
    ys, xs = np.nonzero(digit > 0.1)
    assert ys.max() - ys.min() + 1 <= 21 and ys.max() - ys.min() + 1 >= 17  # fits a 20 px box
    cy, cx = np.average(np.indices(digit.shape), axis=(1, 2), weights=digit)
    assert abs(cy - 13.5) < 1.0 and abs(cx - 13.5) < 1.0
    assert not center_digit(np.zeros((50, 50)), 28).any()


def test_encode_image_returns_reconstruction_and_latent_mean():
    for name in ("vae-2d", "cvae"):
        m = model(name)
        image = np.zeros((1, 28, 28), np.float32)
        image[0, 5:23, 12:16] = 1
        recon, mu = encode_image(m, image, label=1)
        assert recon.shape == (28, 28, 3) and recon.dtype == np.uint8 and mu.shape == (m.latent_dim,)
    with pytest.raises(ValueError, match="no encoder"):
        encode_image(model("gan-mlp"), image)


def test_explorer_render_is_the_engine_sample():
    m = model("cgan")
    ex = Explorer(m, [str(i) for i in range(10)])
    info = ex.info
    assert not info.can_encode and info.axis_dims == 8 and info.directions == 8 and info.conditional
    z = ex.random_latent(5)
    offsets = np.zeros(info.directions, np.float32)
    offsets[2] = 1.5
    moved = info.latent(z, offsets)
    np.testing.assert_allclose(moved - z, 1.5 * info.direction_vectors[2], atol=1e-6)
    expected = to_uint8(m.sample(1, z=torch.from_numpy(moved[None]), labels=4))[0]
    np.testing.assert_array_equal(ex.render(z, offsets, 4), expected)
    assert ex.strip(z, -z, 6, 4).shape == (6, 28, 28, 3)
    vae = Explorer(model("vae-2d"))
    assert vae.info.has_map and vae.info.can_encode and vae.info.directions == 0
    shown, recon, mu = vae.reconstruct(np.pad(np.ones((40, 8)), 20), None)
    assert shown.shape == recon.shape == (28, 28, 3) and mu.shape == (2,)


def test_tile_and_exports(tmp_path):
    frames = np.stack([np.full((4, 3, 3), i * 40, np.uint8) for i in range(5)])
    out = tile(frames, 2, pad=1, fill=7)
    assert out.shape == (3 * 5 + 1, 2 * 4 + 1, 3) and out[0, 0, 0] == 7 and out[1, 1, 0] == 0
    png = save_png(out, tmp_path / "a.png", scale=3)
    with Image.open(png) as img:
        assert img.size == (out.shape[1] * 3, out.shape[0] * 3)
    gif = save_gif(list(frames), tmp_path / "a.gif", scale=2)
    with Image.open(gif) as img:
        assert img.n_frames == 5 and img.size == (6, 8)
    with pytest.raises(ValueError):
        save_gif([], tmp_path / "b.gif")
