"""Gated PixelCNN: likelihood, training steps, causality, and the samplers' exactness."""

from __future__ import annotations

import math

import pytest
import torch

from studio.core.config import Config, DataConfig, TrainConfig
from studio.core.data import load_dataset
from studio.core.families import get_family
from studio.core.families.pixelcnn import PixelCNNConfig
from studio.core.models.pixelcnn import (
    PixelCNN,
    PixelCNNAlgorithm,
    SamplingCancelled,
    naive_sample,
)
from studio.core.presets import preset

SHAPE = (1, 14, 14)


def tiny(conditional: bool = False, shape=SHAPE, dtype=torch.float32, **fields) -> PixelCNN:
    """A model small enough that a naive raster pass takes well under a second."""
    values = {"channels": 8, "layers": 2, "kernel": 3, "first_kernel": 7, **fields}
    cfg = PixelCNNConfig("cpixelcnn" if conditional else "pixelcnn", **values)
    torch.manual_seed(0)  # the weights only; sampling never reads the global RNG
    return PixelCNN(cfg, shape, 10 if conditional else None).to(dtype)


def gen(seed: int = 7) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def digits():
    data = load_dataset(DataConfig(), "test")
    return data.images[:32].float().div(255), data.labels[:32]


def test_families_and_presets_are_registered():
    for name, conditional in (("pixelcnn", False), ("cpixelcnn", True)):
        family = get_family(name)
        assert family.conditional is conditional
        assert "nll" in family.loss_labels and "bits" in family.loss_labels["nll"]
        config = preset(name).validate()
        model = family.model_class()(config.model, (1, 28, 28), 10 if conditional else None)
        assert isinstance(model, PixelCNN) and model.conditional is conditional


def test_capabilities():
    model = tiny()
    caps = model.capabilities()
    assert caps.latent_shape is None and caps.latent_size == 0
    assert caps.has_likelihood and not caps.likelihood_is_bound and not caps.can_encode
    assert model.can_cancel and model.can_complete
    assert set(caps.sample_options) == {"temperature"}
    assert set(tiny(True).capabilities().sample_options) == {"temperature", "guidance"}
    assert set(tiny(True, label_dropout=0.0).capabilities().sample_options) == {"temperature"}
    with pytest.raises(TypeError):
        tiny().sample(1, z=torch.zeros(1, 4))


def test_training_steps_lower_the_nll(digits):
    x01, y = digits
    model = tiny(True, shape=(1, 28, 28))
    config = Config(DataConfig(), model_cfg(True), TrainConfig(batch_size=16, lr=5e-3, beta1=0.9))
    algo = PixelCNNAlgorithm(model, config, gen())
    x = x01[:16] * 2 - 1
    losses = [float(algo.step(x, y[:16])["nll"]) for _ in range(12)]
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < losses[0] - 1.0  # bits/dim: from ~8 (uniform) down fast on one batch


def model_cfg(conditional: bool) -> PixelCNNConfig:
    return PixelCNNConfig("cpixelcnn" if conditional else "pixelcnn", 8, 2, 3, 7)


def test_logged_nll_is_the_likelihood_in_bits_per_dim(digits):
    x01, y = digits
    model = tiny(True, shape=(1, 28, 28))
    nats = model.nll_nats(x01[:8], y[:8])
    section = PixelCNNConfig("cpixelcnn", 8, 2, 3, 7, label_dropout=0.0)  # every label seen
    config = Config(DataConfig(), section, TrainConfig(batch_size=8, lr=1e-3))
    logged = PixelCNNAlgorithm(model, config, gen()).step(x01[:8] * 2 - 1, y[:8])["nll"]  # before its update
    assert float(logged) == pytest.approx(float(nats.mean()) / (784 * math.log(2)), rel=1e-5)


@pytest.mark.parametrize("level_basis", [32, 0])
def test_nll_nats_shape_and_untrained_bits_per_dim_near_8(digits, level_basis):
    x01, _ = digits
    torch.manual_seed(0)
    model = PixelCNN(PixelCNNConfig(level_basis=level_basis), (1, 28, 28), None)  # preset size, untrained
    nats = model.nll_nats(x01[:6], None)
    assert nats.shape == (6,) and nats.dtype == torch.float64 and nats.device.type == "cpu"
    assert torch.isfinite(nats).all()
    bpd = nats / (784 * math.log(2))
    assert ((bpd - 8).abs() < 0.1).all(), bpd  # about uniform over 256 levels


def test_nll_of_a_conditional_model_needs_labels(digits):
    with pytest.raises(ValueError, match="labels"):
        tiny(True).nll_nats(digits[0][:2, :, :14, :14], None)


@pytest.mark.parametrize("pixel", [(6, 6), (0, 9), (5, 0), (13, 13), (2, 1)])
def test_no_blind_spot_output_depends_exactly_on_earlier_pixels(pixel):
    """d logits(i, j) / d x is non-zero for every earlier pixel in the receptive field (rows
    above within R, |column offset| <= R; row i, the R pixels to the left) and zero for (i, j),
    everything after it and everything beyond R."""
    model = tiny(dtype=torch.float64, first_kernel=3, layers=3, dilation=1)
    r = model.receptive_field
    assert r == 1 + 3
    i, j = pixel
    x = (torch.rand(2, *SHAPE, generator=gen(), dtype=torch.float64) * 2 - 1).requires_grad_(True)
    weights = torch.randn(2, 256, 1, generator=gen(1), dtype=torch.float64)
    (model(x)[..., i, j] * weights).sum().backward()
    touched = (x.grad[0, 0] != 0)
    rows = torch.arange(SHAPE[1])[:, None]
    cols = torch.arange(SHAPE[2])[None, :]
    above = (rows < i) & (rows >= i - r) & ((cols - j).abs() <= r)
    left = (rows == i) & (cols < j) & (cols >= j - r)
    assert torch.equal(touched, above | left)


@pytest.mark.parametrize("pixel", [(6, 6), (13, 2), (3, 12)])
def test_dilated_layers_stay_causal(pixel):
    """With dilations 1, 2, 4 the view has holes, but never reaches (i, j), anything after it
    or beyond the receptive field, and always sees the pixel to the left and the one above."""
    model = tiny(dtype=torch.float64, first_kernel=3, layers=3, dilation=4)
    r = model.receptive_field
    assert r == 1 + 1 + 2 + 4
    i, j = pixel
    x = (torch.rand(1, *SHAPE, generator=gen(), dtype=torch.float64) * 2 - 1).requires_grad_(True)
    (model(x)[..., i, j] * torch.randn(1, 256, 1, generator=gen(1), dtype=torch.float64)).sum().backward()
    touched = x.grad[0, 0] != 0
    rows = torch.arange(SHAPE[1])[:, None]
    cols = torch.arange(SHAPE[2])[None, :]
    allowed = ((rows < i) & (rows >= i - r) & ((cols - j).abs() <= r)) | ((rows == i) & (cols < j) & (cols >= j - r))
    assert not (touched & ~allowed).any()
    assert (j == 0 or touched[i, j - 1]) and (i == 0 or touched[i - 1, j])


@pytest.mark.parametrize("conditional", [False, True])
def test_fast_sampler_equals_the_naive_one(conditional):
    model = tiny(conditional)
    labels = torch.tensor([0, 3, 7]) if conditional else None
    for temperature, guidance in ((1.0, 0.0), (0.6, 2.0), (1.3, 5.0)):
        options = {"temperature": temperature, **({"guidance": guidance} if conditional else {})}
        fast = model.sample(3, labels, generator=gen(11), **options)
        slow = naive_sample(model, 3, labels, generator=gen(11), **options)
        assert fast.shape == (3, *SHAPE)
        assert torch.equal(fast, slow)
        assert fast.min() >= 0 and fast.max() <= 1
        assert torch.equal(fast * 255, (fast * 255).round())  # 8-bit levels
    assert not torch.equal(model.sample(3, labels, generator=gen(12)), fast)


def test_completion_never_changes_a_known_pixel(digits):
    x01, y = digits
    model = tiny(True, shape=(1, 28, 28))
    known = torch.zeros(28, 28, dtype=torch.bool)
    known[:14] = True  # the top half
    known[20:, :5] = True  # and a patch below the unknown pixels
    out = model.complete(x01[:4], known, y[:4], generator=gen(), temperature=0.8)
    assert out.shape == (4, 1, 28, 28)
    assert torch.equal(out[..., known], x01[:4][..., known])
    assert not torch.equal(out[..., ~known], x01[:4][..., ~known])
    # Per-image masks: each image keeps its own known pixels.
    masks = torch.rand(4, 1, 28, 28, generator=gen(3)) < 0.5
    out = model.complete(x01[:4], masks, y[:4], generator=gen())
    assert torch.equal(out[masks], x01[:4][masks])


def test_completion_of_nothing_is_sampling_and_of_everything_is_the_input(digits):
    x01, y = digits
    model = tiny(True)
    x = x01[:3, :, :14, :14]
    none = torch.zeros(SHAPE[1:], dtype=torch.bool)
    assert torch.equal(model.complete(x, none, y[:3], gen(5)), model.sample(3, y[:3], gen(5)))
    assert torch.equal(model.complete(x, ~none, y[:3], gen(5)), x)


def test_temperature_is_validated(digits):
    model = tiny()
    for bad in (0.0, 0.01, 2.5, -1.0, "hot"):
        with pytest.raises(ValueError, match="temperature"):
            model.sample(1, generator=gen(), temperature=bad)
        with pytest.raises(ValueError, match="temperature"):
            model.complete(digits[0][:1, :, :14, :14], torch.ones(14, 14, dtype=torch.bool), None, gen(), bad)
    with pytest.raises(ValueError, match="no sampling option"):
        model.sample(1, generator=gen(), steps=10)
    with pytest.raises(ValueError, match="no sampling option"):
        model.sample(1, generator=gen(), guidance=1.0)  # unconditional: nothing to guide towards
    assert model.sample(1, generator=gen(), temperature=2).shape == (1, *SHAPE)
    for bad in (-0.5, 11.0):
        with pytest.raises(ValueError, match="guidance"):
            tiny(True).sample(1, generator=gen(), guidance=bad)


def test_iter_sample_steps_through_the_raster_with_probabilities():
    model = tiny()
    steps = list(model.iter_sample(n=2, generator=gen(4), temperature=0.9))
    assert len(steps) == SHAPE[1] * SHAPE[2]
    first, middle, last = steps[0], steps[100], steps[-1]
    assert (first.row, first.col, last.row, last.col) == (0, 0, 13, 13) and last.done and not middle.done
    assert torch.isnan(middle.probs[..., 8:, :]).all() and torch.isnan(middle.probs[..., 7, 3:]).all()
    assert (middle.probs[..., :7, :] > 0).all() and (middle.probs[..., :7, :] <= 1).all()
    assert (middle.images[..., 8:, :] == 0).all()
    assert torch.equal(last.images, model.sample(2, generator=gen(4), temperature=0.9))
    rows = list(model.iter_sample(n=2, generator=gen(4), by="row"))
    assert [s.row for s in rows] == list(range(14)) and all(s.col == 13 for s in rows)


def test_samplers_stop_promptly_when_asked(digits):
    model = tiny()
    calls = 0

    def stop_at_ten() -> bool:
        nonlocal calls
        calls += 1
        return calls >= 10

    runs = [
        lambda: model.sample(2, generator=gen(), should_stop=stop_at_ten),
        lambda: naive_sample(model, 2, generator=gen(), should_stop=stop_at_ten),
        lambda: model.complete(digits[0][:2, :, :14, :14], torch.zeros(14, 14, dtype=torch.bool), None, gen(),
                               should_stop=stop_at_ten),
        lambda: list(model.iter_sample(n=2, generator=gen(), should_stop=stop_at_ten)),
    ]
    for run in runs:
        calls = 0
        with pytest.raises(SamplingCancelled):
            run()
        assert calls == 10  # asked once per pixel and nothing after the first True


def test_sampling_leaves_the_global_rng_alone(digits):
    x01, y = digits
    model = tiny(True)
    before = torch.get_rng_state()
    a = model.sample(2, None, gen(9))
    naive_sample(model, 2, None, gen(9))
    model.complete(x01[:2, :, :14, :14], torch.zeros(14, 14, dtype=torch.bool), y[:2], gen(9))
    model.nll_nats(x01[:2, :, :14, :14], y[:2])
    model.sample(1)  # no generator: fresh entropy, still not the global RNG
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(model.sample(2, None, gen(9)), a)


def test_cosine_schedule_follows_the_optimiser_across_a_resume(digits):
    x01, _ = digits
    x = x01[:4, :, :14, :14] * 2 - 1
    config = Config(DataConfig(), PixelCNNConfig("pixelcnn", 8, 2, 3, 7), TrainConfig(steps=10, lr=1e-3))
    algo = PixelCNNAlgorithm(tiny(), config, gen())
    assert algo.lr_at(0) == pytest.approx(1e-3) and algo.lr_at(10) == pytest.approx(5e-5)
    assert algo.lr_at(100) == pytest.approx(5e-5)  # held past the end
    lrs = [algo.lr_at(t) for t in range(11)]
    assert lrs == sorted(lrs, reverse=True)
    for _ in range(4):
        algo.step(x, None)
    assert algo.optimizers["pixelcnn"].param_groups[0]["lr"] == pytest.approx(algo.lr_at(3))
    resumed = PixelCNNAlgorithm(tiny(), config, gen())
    resumed.optimizers["pixelcnn"].load_state_dict(algo.optimizers["pixelcnn"].state_dict())
    resumed.step(x, None)
    assert resumed.optimizers["pixelcnn"].param_groups[0]["lr"] == pytest.approx(algo.lr_at(4))
    constant = config.with_overrides(model={"lr_schedule": "constant"})
    flat = PixelCNNAlgorithm(tiny(), constant, gen())
    flat.step(x, None)
    assert flat.optimizers["pixelcnn"].param_groups[0]["lr"] == 1e-3


def test_label_dropout_hides_a_share_of_the_labels_behind_the_null_class():
    model = tiny(True, label_dropout=0.25)
    assert model.null_label == 10 and model.embed.num_embeddings == 11
    config = Config(DataConfig(), PixelCNNConfig("cpixelcnn", 8, 2, 3, 7, label_dropout=0.25), TrainConfig())
    algo = PixelCNNAlgorithm(model, config, gen())
    y = torch.arange(4000) % 10
    dropped = algo._drop_labels(y)
    share = float((dropped == 10).double().mean())
    assert 0.22 < share < 0.28
    assert torch.equal(dropped[dropped != 10], y[dropped != 10])
    assert torch.equal(PixelCNNAlgorithm(model, config, gen())._drop_labels(y), dropped)  # the generator's only
    none = PixelCNNAlgorithm(tiny(True, label_dropout=0.0), config.with_overrides(model={"label_dropout": 0.0}), gen())
    assert torch.equal(none._drop_labels(y), y)


def test_a_run_logs_held_out_bits_per_dim_beside_the_training_nll(tmp_path, tiny_config):
    """What the Train tab plots as train vs held-out NLL: a few Metrics records of nll_bpd
    (exact likelihood); a GAN or VAE run gets none by default (a search asks for them)."""
    import json

    from studio.core.train import events as ev
    from studio.core.train.trainer import Trainer

    config = preset("pixelcnn").with_overrides(
        model={"channels": 8, "layers": 2}, train={"steps": 6, "batch_size": 8, "log_every": 2, "sample_every": 100,
                                                   "checkpoint_every": 100, "threads": 1})
    events = list(Trainer(config, tmp_path / "pixel").steps())
    held = [e for e in events if isinstance(e, ev.Metrics) and "nll_bpd" in e.values]
    assert [e.step for e in held] == [1, 2, 3, 4, 5, 6]  # DEFAULT_CHECKS (13) over the run: each step here
    assert 1.0 < held[-1].values["nll_bpd"] < 8.5  # bits/dim on 8-bit levels
    rows = [json.loads(line) for line in (tmp_path / "pixel" / "metrics.jsonl").read_text().splitlines()]
    assert sum(1 for r in rows if "nll_bpd" in r.get("values", {})) == 6
    for name in ("cgan", "vae"):
        events = list(Trainer(tiny_config(name, steps=4), tmp_path / name).steps())
        assert not [e for e in events if isinstance(e, ev.Metrics)], name
