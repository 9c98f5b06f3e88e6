"""The metric functions on cases with known answers."""

from __future__ import annotations

import math

import pytest
import torch

from studio.core.data.dataset import ImageData
from studio.core.metrics import stats
from studio.core.metrics.evaluate import split_heldout, stratified_labels


def gauss(n: int, d: int = 8, shift: float = 0.0, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + shift


def test_identical_sets_have_zero_distance_and_full_precision_recall():
    x = gauss(400)
    assert stats.frechet_distance(x, x) == pytest.approx(0, abs=1e-8)
    assert abs(stats.kernel_inception_distance(x, x)) < 0.1  # unbiased: slightly negative
    assert stats.precision_recall(x, x.clone(), k=3) == (1.0, 1.0)


def test_same_distribution_is_near_zero_and_indistinguishable():
    x, y = gauss(1000, seed=1), gauss(1000, seed=2)
    assert stats.frechet_distance(x, y) < 0.2
    assert abs(stats.kernel_inception_distance(x, y)) < 0.01
    p, r = stats.precision_recall(x, y)
    assert p > 0.8 and r > 0.8  # k=3 balls miss a few points of the same law
    assert stats.classifier_two_sample_test(x, y) == pytest.approx(0.5, abs=0.07)


def test_disjoint_sets_are_far_apart_with_zero_precision_and_recall():
    x, y = gauss(300), gauss(300, shift=20.0, seed=1)
    assert stats.frechet_distance(x, y) == pytest.approx(8 * 400, rel=0.05)  # ||mu||^2 = d * 20^2
    assert stats.kernel_inception_distance(x, y) > 1.0
    assert stats.precision_recall(x, y) == (0.0, 0.0)
    assert stats.classifier_two_sample_test(x, y) == 1.0


def test_frechet_matches_the_closed_form_for_diagonal_gaussians():
    mu1, mu2 = torch.tensor([0.0, 1.0], dtype=torch.float64), torch.tensor([2.0, 0.0], dtype=torch.float64)
    s1, s2 = torch.diag(torch.tensor([1.0, 4.0])).double(), torch.diag(torch.tensor([9.0, 1.0])).double()
    expected = 5.0 + (1 - 3) ** 2 + (2 - 1) ** 2  # ||mu1-mu2||^2 + sum (sqrt a - sqrt b)^2
    assert stats.frechet_from_stats(mu1, s1, mu2, s2) == pytest.approx(expected, abs=1e-9)
    # Singular covariances (a collapsed set) stay finite and non-negative.
    assert stats.frechet_from_stats(mu1, torch.zeros(2, 2).double(), mu1, s2) == pytest.approx(10.0, abs=1e-9)


def test_precision_recall_separates_quality_from_diversity():
    real = gauss(500)
    collapsed = real[:20].repeat(10, 1) + 1e-3 * gauss(200, seed=3)  # good samples, little variety
    p, r = stats.precision_recall(real, collapsed)
    assert p > 0.95 and r < 0.2


def test_collapsed_class_histogram_has_coverage_one():
    data_hist = torch.full((10,), 0.1, dtype=torch.float64)
    probs = torch.zeros(500, 10)
    probs[:, 3] = 1
    hist = stats.class_histogram(probs)
    assert stats.class_coverage(hist, data_hist) == 1
    assert stats.class_kl(hist, data_hist) == pytest.approx(math.log(10))
    uniform = stats.class_histogram(torch.eye(10).repeat(50, 1))
    assert stats.class_coverage(uniform, data_hist) == 10
    assert stats.class_kl(uniform, data_hist) == pytest.approx(0, abs=1e-12)
    # 1% of the samples is under 20% of a 10% share: not covered; 3% is.
    hist = torch.tensor([0.01, 0.03, *[0.96 / 8] * 8], dtype=torch.float64)
    assert stats.class_coverage(hist, data_hist) == 9


def test_conditional_accuracy_counts_the_asked_class():
    probs = torch.eye(4)[torch.tensor([0, 1, 2, 2])]
    assert stats.conditional_accuracy(probs, torch.tensor([0, 1, 2, 3])) == 0.75


def test_bits_per_dim():
    assert stats.bits_per_dim(784 * math.log(2), 784) == pytest.approx(1.0)


def test_stratified_labels_follow_the_shares():
    labels = stratified_labels(1000, torch.tensor([0.5, 0.3, 0.2]))
    assert torch.bincount(labels).tolist() == [500, 300, 200]
    assert len(stratified_labels(7, torch.ones(10))) == 7
    assert not torch.equal(labels, labels.sort().values)  # shuffled, so any prefix is representative


def test_split_heldout_holds_out_ten_percent_when_there_is_no_test_split():
    images = torch.arange(50, dtype=torch.uint8).view(50, 1, 1, 1).expand(50, 1, 4, 4).contiguous()
    data = ImageData("folder", images, torch.arange(50) % 5, list("abcde"))
    fit, held = split_heldout(data, data)  # an image folder: "test" repeats "train"
    assert len(fit) == 45 and len(held) == 5
    assert not set(fit.images[:, 0, 0, 0].tolist()) & set(held.images[:, 0, 0, 0].tolist())
    other = ImageData("t", images[:10], torch.arange(10) % 5, list("abcde"))
    assert split_heldout(data, other) == (data, other)
