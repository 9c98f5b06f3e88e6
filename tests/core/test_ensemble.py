"""Ensembles: mixture frequencies follow the weights, the pixel and weight averages, the
file opens wherever a checkpoint opens (sample, eval, explorer), and mismatches name both files."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from studio.cli import main
from studio.core.ensemble import Ensemble, Member, average_weights, load_ensemble, write_ensemble
from studio.core.errors import CheckpointError
from studio.core.explore.explorer import Explorer
from studio.core.models import seeded
from studio.core.train.checkpoint import load_checkpoint
from studio.core.train.trainer import Trainer


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two tiny cGANs of different seeds (the first keeps step copies) and a tiny GAN."""
    from studio.core.presets import preset

    root = tmp_path_factory.mktemp("ensemble-runs")
    out = {}
    for name, family, seed in (("a", "cgan", 0), ("b", "cgan", 1), ("u", "gan", 0)):
        config = preset(family).with_overrides(model={"width": 8}, train={
            "steps": 4, "batch_size": 16, "log_every": 2, "sample_every": 100, "checkpoint_every": 2,
            "threads": 1, "seed": seed})
        list(Trainer(config, root / name).steps())
        out[name] = root / name
    return out


def test_mixture_member_frequencies_follow_the_weights(runs):
    members = [load_checkpoint(runs[k]).model for k in ("a", "b", "a")]
    weights = [1.0, 2.0, 5.0]
    ensemble = Ensemble(members, weights, "mixture").eval()
    n = 6000
    images, idx = ensemble.sample_with_members(n, None, seeded(123))
    assert images.shape == (n, 1, 28, 28) and idx.shape == (n,)
    counts = torch.bincount(idx, minlength=3).tolist()
    for count, w in zip(counts, weights, strict=True):
        p = w / sum(weights)
        assert abs(count - n * p) < 5 * math.sqrt(n * p * (1 - p)), (counts, weights)  # 5 sigma: cannot flake
    again, idx2 = ensemble.sample_with_members(n, None, seeded(123))
    assert torch.equal(idx, idx2) and torch.equal(images, again)  # the generator decides, not the global RNG


def test_each_mixture_image_is_its_members_own(runs):
    a, b = load_checkpoint(runs["a"]).model, load_checkpoint(runs["b"]).model
    ensemble = Ensemble([a, b], [1, 1], "mixture").eval()
    labels = torch.arange(10)
    forced, idx = ensemble.sample_with_members(10, labels, seeded(5), members=[1] * 10)
    assert idx.tolist() == [1] * 10 and torch.allclose(forced, b.sample(10, labels, seeded(5)))
    z = a.sample_latent(6, seeded(0))
    images, idx = ensemble.sample_with_members(6, torch.arange(6), seeded(1), z=z)
    for i, m in enumerate(idx.tolist()):  # a shared latent goes through the member drawn for it
        own = (a, b)[m].sample(1, torch.tensor([i]), seeded(0), z=z[i : i + 1])
        assert torch.allclose(images[i : i + 1], own, atol=1e-6)


def test_pixel_and_weight_averages(runs):
    a = load_checkpoint(runs["a"]).model
    same = Ensemble([a, load_checkpoint(runs["a"]).model], [1, 3], "pixel-average").eval()
    z = a.sample_latent(8, seeded(0))
    assert torch.allclose(same.sample(8, None, seeded(2), z=z), a.sample(8, None, seeded(2), z=z), atol=1e-6)
    two = Ensemble([a, load_checkpoint(runs["b"]).model], [1, 1], "pixel-average").eval()
    _, idx = two.sample_with_members(4, None, seeded(0))
    assert idx is None  # every member draws every image
    step2 = load_checkpoint(runs["a"] / "checkpoints" / "step-2.safetensors").model
    step4 = load_checkpoint(runs["a"] / "checkpoints" / "step-4.safetensors").model
    expect = {k: 0.25 * v + 0.75 * step4.state_dict()[k] for k, v in step2.state_dict().items() if v.is_floating_point()}
    averaged = average_weights([step2, step4], [1, 3]).state_dict()
    assert all(torch.allclose(averaged[k], v) for k, v in expect.items())


def test_an_ensemble_file_opens_like_a_checkpoint(runs, tmp_path, capsys, cheap_evaluator):
    path = tmp_path / "e.toml"
    assert main(["ensemble", str(runs["a"]), str(runs["b"]), "--weights", "1,3", "--out", str(path)]) == 0
    assert "75.0%" in capsys.readouterr().out
    loaded = load_checkpoint(path)
    assert isinstance(loaded.model, Ensemble) and loaded.model.mode == "mixture"
    assert torch.allclose(loaded.model.weights, torch.tensor([0.25, 0.75], dtype=torch.float64))
    assert main(["sample", str(path), "--n", "12", "--out", str(tmp_path / "s.npz")]) == 0
    saved = np.load(tmp_path / "s.npz")
    assert saved["images"].shape == (12, 28, 28) and set(saved["members"].tolist()) <= {0, 1}
    assert main(["eval", str(path), "--n", "40"]) == 0
    assert "mixture of 2 cgan" in capsys.readouterr().out
    explorer = Explorer.from_checkpoint(path)
    assert explorer.info.members == (str(runs["a"].resolve()), str(runs["b"].resolve()))
    images, members = explorer.render_batch_with_members(np.zeros((3, 64), np.float32), label=2, members=[0, 1, 1])
    assert images.shape == (3, 28, 28, 3) and members.tolist() == [0, 1, 1]
    for mode in ("pixel-average", "weight-average"):
        assert main(["ensemble", f"{runs['a']}/checkpoints/step-2.safetensors", str(runs["a"]), f"{runs['a']}@raw",
                     "--mode", mode, "--out", str(tmp_path / f"{mode}.toml")]) == 0
        assert main(["sample", str(tmp_path / f"{mode}.toml"), "--n", "4", "--out", str(tmp_path / f"{mode}.png")]) == 0


def test_mismatched_members_name_both_files(runs, tmp_path, capsys):
    with pytest.raises(CheckpointError) as info:
        write_ensemble(tmp_path / "bad.toml", [Member(runs["a"]), Member(runs["u"])])
    message = str(info.value)
    assert "classes" in message and "/a/" in message and "/u/" in message
    assert not (tmp_path / "bad.toml").exists()
    assert main(["ensemble", str(runs["a"]), str(runs["u"]), "--out", str(tmp_path / "bad.toml")]) == 2
    assert "disagree on the classes" in capsys.readouterr().err
    (tmp_path / "broken.toml").write_text('format = "latent-studio-ensemble"\nversion = 1\nmode = "median"\n')
    with pytest.raises(CheckpointError, match="broken.toml: mode must be one of"):
        load_ensemble(tmp_path / "broken.toml")
