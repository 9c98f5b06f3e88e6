"""The diffusion family on tiny real models: training steps, samplers, guidance, options, RNG."""

from __future__ import annotations

import math

import pytest
import torch

from studio.core.config import Config, ConfigError, DataConfig, TrainConfig
from studio.core.data import BatchSampler, load_dataset
from studio.core.families import get_family
from studio.core.families.diffusion import DiffusionConfig
from studio.core.models.diffusion import (
    Diffusion,
    DiffusionAlgorithm,
    SamplingCancelled,
    cosine_alpha_bar,
    guide,
    linear_alpha_bar,
)

SHAPE = (1, 28, 28)


def tiny(family: str = "cddpm", **model) -> Config:
    values = {"width": 8, "channel_mult": "1,1,2", "timesteps": 50, "sample_steps": 5, **model}
    return Config(DataConfig(), DiffusionConfig(family, **values), TrainConfig(batch_size=8, lr=1e-3, threads=1))


def build(config: Config) -> Diffusion:
    torch.manual_seed(0)
    family = get_family(config.model.family)
    model = family.model_class()(config.model, SHAPE, 10 if family.conditional else None)
    return model.eval()


@pytest.fixture(scope="module")
def digits():
    return load_dataset(DataConfig(), "train")


@pytest.mark.parametrize("prediction", ["eps", "v"])
@pytest.mark.parametrize("family", ["ddpm", "cddpm"])
def test_algorithm_steps_on_embedded_digits_give_finite_losses(digits, family, prediction):
    config = tiny(family, prediction=prediction)
    model = build(config).train()
    algorithm = get_family(family).algorithm_class()(model, config, torch.Generator().manual_seed(0))
    sampler = BatchSampler(digits, config.train.batch_size, torch.Generator().manual_seed(1))
    before = [p.detach().clone() for p in model.parameters()]
    for _ in range(3):
        losses = algorithm.step(*sampler.next())
    assert set(losses) == {"loss", "loss_low", "loss_mid", "loss_high"}
    assert all(v.ndim == 0 and not v.requires_grad and math.isfinite(float(v)) for v in losses.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_a_noise_band_without_samples_stays_finite():
    config = tiny("ddpm")
    model = build(config).train()
    algorithm = DiffusionAlgorithm(model, config, torch.Generator().manual_seed(0))
    x = torch.zeros(1, *SHAPE)  # one image: two of the three bands are empty every step
    for _ in range(3):
        losses = algorithm.step(x, None)
        assert all(math.isfinite(float(v)) for v in losses.values())


def test_training_draws_only_from_the_given_generator(digits):
    config = tiny("cddpm")
    x, y = BatchSampler(digits, 8, torch.Generator().manual_seed(1)).next()

    def run(global_seed: int) -> list[float]:
        model = build(config).train()
        algorithm = DiffusionAlgorithm(model, config, torch.Generator().manual_seed(5))
        torch.manual_seed(global_seed)  # the global stream must not matter
        return [float(algorithm.step(x, y)["loss"]) for _ in range(2)]

    assert run(1) == run(2)


@pytest.mark.parametrize("schedule", [linear_alpha_bar, cosine_alpha_bar])
@pytest.mark.parametrize("T", [10, 1000])
def test_alpha_bar_is_decreasing_inside_zero_one(schedule, T):
    ab = schedule(T)
    assert ab.shape == (T,)
    assert bool((ab > 0).all() and (ab < 1).all())
    assert bool((ab[1:] < ab[:-1]).all())
    assert float(ab[-1]) < 0.01  # the last step is (nearly) pure noise


def test_ddim_eta_zero_is_deterministic_given_the_noise():
    model = build(tiny("cddpm"))
    z = torch.randn(4, *SHAPE, generator=torch.Generator().manual_seed(3))
    a = model.sample(4, [1, 2, 3, 4], torch.Generator().manual_seed(1), z=z, eta=0.0, steps=4)
    b = model.sample(4, [1, 2, 3, 4], torch.Generator().manual_seed(2), z=z, eta=0.0, steps=4)
    assert torch.equal(a, b)
    assert a.shape == (4, *SHAPE) and float(a.min()) >= 0 and float(a.max()) <= 1
    c = model.sample(4, [1, 2, 3, 4], torch.Generator().manual_seed(2), z=z, eta=1.0, steps=4)
    assert not torch.equal(a, c)  # with eta > 0 the generator's noise enters every step


def test_the_same_generator_seed_gives_the_same_samples_with_noise():
    model = build(tiny("ddpm"))
    a = model.sample(3, None, torch.Generator().manual_seed(7), eta=1.0)
    b = model.sample(3, None, torch.Generator().manual_seed(7), eta=1.0)
    assert torch.equal(a, b)


def test_guidance_formula_identity_points():
    c, u = torch.randn(5), torch.randn(5)
    assert torch.equal(guide(c, u, 0.0), c)
    assert torch.allclose(guide(c, u, -1.0), u)
    assert torch.allclose(guide(c, u, 2.0), 3 * c - 2 * u)


def test_guidance_identity_points_in_the_model():
    model = build(tiny("cddpm"))
    with torch.no_grad():  # random everywhere: at init the zeroed branches hide the label
        for p in model.unet.parameters():
            p.normal_(0, 0.2, generator=torch.Generator().manual_seed(p.numel()))
    x = torch.randn(3, *SHAPE, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 4, 9])
    null = torch.full_like(labels, 10)
    t = torch.full((3,), 30)
    with torch.no_grad():
        cond = model.process.split(model.unet(x, t, labels), x, t)
        uncond = model.process.split(model.unet(x, t, null), x, t)
        for w, expected in ((0.0, cond), (-1.0, uncond)):
            got = model.predict(x, 30, labels, w)
            assert all(torch.allclose(g, e, atol=1e-5) for g, e in zip(got, expected, strict=True))
        # Any other w runs both halves in one batch; it is the eq. 6 mixture of the two outputs.
        mixed = model.predict(x, 30, labels, 2.0)
        raw = guide(model.unet(x, t, labels), model.unet(x, t, null), 2.0)
        assert torch.allclose(mixed[1], model.process.split(raw, x, t)[1], atol=1e-4)
    assert not torch.allclose(cond[1], uncond[1])


def test_full_steps_with_eta_one_is_ancestral_ddpm():
    """DDIM with every step and eta = 1 reproduces Ho et al.'s posterior q(x_{t-1} | x_t, x0)."""
    from studio.core.models.diffusion import ddim_step

    ab = cosine_alpha_bar(50)
    t = 20
    a_t, a_s = float(ab[t]), float(ab[t - 1])
    beta = 1 - a_t / a_s
    x0, eps = torch.rand(1, *SHAPE) * 2 - 1, torch.randn(1, *SHAPE)
    x_t = math.sqrt(a_t) * x0 + math.sqrt(1 - a_t) * eps
    mean = math.sqrt(a_s) * beta / (1 - a_t) * x0 + math.sqrt(1 - beta) * (1 - a_s) / (1 - a_t) * x_t  # eq. 7
    var = (1 - a_s) / (1 - a_t) * beta
    g = torch.Generator().manual_seed(0)
    got = ddim_step(x0, eps, a_t, a_s, 1.0, g)
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(got, mean + math.sqrt(var) * noise, atol=1e-5)


def test_options_unknown_or_out_of_range_are_value_errors():
    model = build(tiny("cddpm"))
    with pytest.raises(ValueError, match="no sampling option"):
        model.sample(2, temperature=1.0)
    for steps in (0, 51, 2.5):
        with pytest.raises(ValueError, match="steps"):
            model.sample(2, steps=steps)
    with pytest.raises(ValueError, match="eta"):
        model.sample(2, eta=1.5)
    with pytest.raises(ValueError, match="no sampling option 'guidance'"):
        build(tiny("ddpm")).sample(2, guidance=1.0)
    assert set(model.capabilities().sample_options) == {"steps", "eta", "guidance"}


def test_sampling_stops_promptly_when_asked():
    model = build(tiny("cddpm", timesteps=1000, sample_steps=1000))
    calls = []

    def should_stop() -> bool:
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(SamplingCancelled):
        model.sample(4, should_stop=should_stop)
    assert len(calls) == 4  # polled once per step, stopped at the first True
    polls = iter(range(1000))
    path = list(model.denoising_path(3, torch.Generator().manual_seed(0), should_stop=lambda: next(polls) >= 2))
    assert len(path) == 2


def test_denoising_path_yields_each_step_and_ends_at_the_sample():
    model = build(tiny("cddpm"))
    z = torch.randn(1, *SHAPE, generator=torch.Generator().manual_seed(4))
    path = list(model.denoising_path(7, z=z, steps=5))
    assert [s.index for s in path] == list(range(5)) and path[0].t == 49 and path[-1].t == 0
    assert all(s.x_t.shape == s.x0.shape == (1, *SHAPE) for s in path)
    assert torch.allclose(path[0].x_t, z.add(1).div(2).clamp(0, 1))
    sample = model.sample(1, 7, z=z, steps=5)
    assert torch.allclose(path[-1].x0, sample, atol=1e-6)


def test_sampling_leaves_the_global_rng_alone():
    model = build(tiny("cddpm"))
    state = torch.get_rng_state()
    model.sample(3, None, torch.Generator().manual_seed(0), eta=1.0)
    list(model.denoising_path(2, torch.Generator().manual_seed(0), eta=0.5))
    assert torch.equal(state, torch.get_rng_state())


def test_capabilities_and_config_checks():
    model = build(tiny("cddpm"))
    caps = model.capabilities()
    assert caps.latent_shape == SHAPE and caps.num_classes == 10 and not caps.has_likelihood
    assert caps.sample_options["steps"].default == 5 and caps.sample_options["steps"].hi == 50
    with pytest.raises(ConfigError, match="channel_mult"):
        tiny("ddpm", channel_mult="1,2").validate()
    with pytest.raises(ConfigError, match="sample_steps"):
        tiny("ddpm", sample_steps=60).validate()
    assert get_family("cddpm").preview_options["steps"] < 50


def test_presets_are_valid_and_keep_an_ema():
    from studio.core.presets import preset

    for name in ("ddpm", "cddpm"):
        config = preset(name).validate()
        assert config.model.family == name and config.train.ema > 0
    assert preset("cddpm").model.label_dropout > 0
