"""Sample-based metrics over evaluator features and class predictions. Pure functions.

Features are float tensors (N, D); "real" is the reference set (the training split),
"fake" the set under test (generated images, or held-out real images for the floor).
"""

from __future__ import annotations

import math

import torch

from studio.core.live_keys import (
    COVERAGE_FRACTION,  # a class counts as covered at >= 20% of its data share
)


def _f64(x: torch.Tensor) -> torch.Tensor:
    return x.detach().cpu().to(torch.float64)


# --------------------------------------------------------------------------- Fréchet


def gaussian_stats(feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and (unbiased) covariance of features (N, D), float64."""
    x = _f64(feats)
    if len(x) < 2:
        raise ValueError("Fréchet distance needs at least 2 samples per set")
    return x.mean(0), torch.cov(x.T).reshape(x.shape[1], x.shape[1])


def _sqrt_psd(a: torch.Tensor) -> torch.Tensor:
    vals, vecs = torch.linalg.eigh((a + a.T) / 2)
    return (vecs * vals.clamp(min=0).sqrt()) @ vecs.T


def frechet_from_stats(mu1: torch.Tensor, s1: torch.Tensor, mu2: torch.Tensor, s2: torch.Tensor) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^1/2).

    Tr((S1 S2)^1/2) equals Tr((R S2 R)^1/2) with R = S1^1/2; R S2 R is symmetric PSD,
    so an eigendecomposition replaces scipy's sqrtm and is stable for singular S1, S2.
    """
    r = _sqrt_psd(s1)
    m = r @ s2 @ r
    tr_sqrt = torch.linalg.eigvalsh((m + m.T) / 2).clamp(min=0).sqrt().sum()
    d = float((mu1 - mu2).square().sum() + torch.trace(s1) + torch.trace(s2) - 2 * tr_sqrt)
    return max(d, 0.0)


def frechet_distance(real: torch.Tensor, fake: torch.Tensor) -> float:
    return frechet_from_stats(*gaussian_stats(real), *gaussian_stats(fake))


# --------------------------------------------------------------------------- KID


def kernel_inception_distance(real: torch.Tensor, fake: torch.Tensor, chunk: int = 2048) -> float:
    """Unbiased MMD^2 with the cubic polynomial kernel (x.y/d + 1)^3 (Bińkowski et al. 2018).

    Computed over all pairs in chunks rather than over random subsets: exact and cheaper.
    """
    x, y = _f64(real), _f64(fake)
    m, n = len(x), len(y)
    if m < 2 or n < 2:
        raise ValueError("KID needs at least 2 samples per set")
    d = x.shape[1]

    def ksum(a: torch.Tensor, b: torch.Tensor) -> float:
        total = 0.0
        for i in range(0, len(a), chunk):
            total += float(((a[i : i + chunk] @ b.T) / d + 1).pow(3).sum())
        return total

    def kdiag(a: torch.Tensor) -> float:
        return float(((a * a).sum(1) / d + 1).pow(3).sum())

    kxx = (ksum(x, x) - kdiag(x)) / (m * (m - 1))
    kyy = (ksum(y, y) - kdiag(y)) / (n * (n - 1))
    kxy = ksum(x, y) / (m * n)
    return kxx + kyy - 2 * kxy


# --------------------------------------------------------------------------- precision / recall


def kth_nn_radius(x: torch.Tensor, k: int, chunk: int = 1024) -> torch.Tensor:
    """Distance from each point to its k-th nearest neighbour in the same set (self excluded)."""
    out = []
    for i in range(0, len(x), chunk):
        d = torch.cdist(x[i : i + chunk], x)
        # k + 1 smallest includes the point itself at distance 0.
        out.append(d.topk(k + 1, dim=1, largest=False).values[:, k])
    return torch.cat(out)


def _inside(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """For each point: is it inside at least one ball (centre, radius)?"""
    out = []
    for i in range(0, len(points), chunk):
        d = torch.cdist(points[i : i + chunk], centres)
        out.append((d <= radii[None, :]).any(dim=1))
    return torch.cat(out)


def precision_recall(
    real: torch.Tensor, fake: torch.Tensor, k: int = 3, real_radii: torch.Tensor | None = None
) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) over k-NN manifolds.

    Precision: share of fake samples inside the real manifold (quality).
    Recall: share of real samples inside the fake manifold (diversity).
    ``real_radii``: the real set's k-NN radii when already known (the live monitor).
    """
    x, y = _f64(real).float(), _f64(fake).float()
    if len(x) <= k or len(y) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} samples per set")
    # A tiny slack so that a point lying exactly on a ball's surface counts as inside
    # despite float rounding in cdist.
    rx = (kth_nn_radius(x, k) if real_radii is None else real_radii.float()) * (1 + 1e-5) + 1e-6
    ry = kth_nn_radius(y, k) * (1 + 1e-5) + 1e-6
    precision = float(_inside(y, x, rx).double().mean())
    recall = float(_inside(x, y, ry).double().mean())
    return precision, recall


# --------------------------------------------------------------------------- classes


def class_histogram(probs: torch.Tensor) -> torch.Tensor:
    """Shares of samples by predicted class (argmax), float64 (K,), summing to 1."""
    k = probs.shape[1]
    counts = torch.bincount(probs.argmax(1).cpu(), minlength=k).double()
    return counts / max(1, len(probs))


def label_histogram(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    counts = torch.bincount(labels.cpu().long(), minlength=num_classes).double()
    return counts / max(1.0, float(counts.sum()))




def class_coverage(hist: torch.Tensor, data_hist: torch.Tensor, fraction: float = COVERAGE_FRACTION) -> int:
    """How many of the dataset's classes get at least ``fraction`` of their data share."""
    present = data_hist > 0
    return int(((hist >= fraction * data_hist) & present).sum())


def class_kl(hist: torch.Tensor, data_hist: torch.Tensor, eps: float = 1e-6) -> float:
    """KL(generated || data) in nats: 0 for matching class shares, log K for a single class."""
    p = _f64(hist).clamp(min=0)
    q = _f64(data_hist).clamp(min=eps)
    p = p / p.sum()
    q = q / q.sum()
    nz = p > 0
    return float((p[nz] * (p[nz] / q[nz]).log()).sum())


def conditional_accuracy(probs: torch.Tensor, asked: torch.Tensor) -> float:
    """Share of samples the evaluator assigns to the class that was asked for."""
    return float((probs.argmax(1).cpu() == asked.cpu()).double().mean())


# --------------------------------------------------------------------------- two-sample test


def classifier_two_sample_test(
    real: torch.Tensor, fake: torch.Tensor, seed: int = 0, steps: int = 200, max_per_set: int = 2000
) -> float:
    """Held-out accuracy of a small MLP told to separate real from fake features.

    0.5: the sets are indistinguishable to it; 1.0: fully separable (Lopez-Paz & Oquab
    2017). Balanced classes (up to ``max_per_set`` each, which bounds the cost), a
    seeded 50/50 split, and its own RNG: the caller's random stream is untouched.
    """
    x, y = _f64(real).float(), _f64(fake).float()
    n = min(len(x), len(y), max_per_set)
    if n < 4:
        raise ValueError("the two-sample test needs at least 4 samples per set")
    gen = torch.Generator().manual_seed(seed)
    x = x[torch.randperm(len(x), generator=gen)[:n]]
    y = y[torch.randperm(len(y), generator=gen)[:n]]
    data = torch.cat([x, y])
    target = torch.cat([torch.zeros(n), torch.ones(n)])
    perm = torch.randperm(2 * n, generator=gen)
    tr, te = perm[:n], perm[n:]  # train on one half, test on the other
    x_tr, y_tr, x_te, y_te = data[tr], target[tr], data[te], target[te]
    mean, std = x_tr.mean(0), x_tr.std(0).clamp(min=1e-6)
    x_tr, x_te = (x_tr - mean) / std, (x_te - mean) / std
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = torch.nn.Sequential(torch.nn.Linear(data.shape[1], 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2, weight_decay=1e-4)
    with torch.enable_grad():
        for _ in range(steps):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x_tr).squeeze(1), y_tr)
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        pred = net(x_te).squeeze(1) > 0
    return float((pred.float() == y_te).double().mean())


def bits_per_dim(nats: float, dims: int) -> float:
    return nats / (dims * math.log(2))
