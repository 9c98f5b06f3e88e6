"""Likelihood metrics on held-out images: negative ELBO for VAEs, in nats and bits/dim.

The VAE's likelihood is Bernoulli over grey levels in [0, 1] (BCE with logits), the same
term it trains on, with the KL weight at 1 (the true bound, whatever model.beta was).
Grey levels are not binary, so these bits/dim are comparable between runs of the
studio, not with published figures on binarised or discrete 8-bit MNIST.

Any model that declares ``has_likelihood`` joins through its ``nll_nats``; exact
likelihoods (PixelCNN) report ``nll_*``, bounds (``likelihood_is_bound``) ``nelbo_*``.
"""

from __future__ import annotations

import math

from studio.core.data.dataset import ImageData


def supports_likelihood(model: object) -> bool:
    return bool(getattr(model, "has_likelihood", False))


def likelihood_metrics(model, data: ImageData, batch_size: int = 500, seed: int = 0) -> dict[str, float]:
    """{"nelbo_nats", "nelbo_bpd"} for a bound, {"nll_nats", "nll_bpd"} for an exact
    likelihood, averaged over ``data``; {} for a model without one."""
    if not supports_likelihood(model) or not len(data):
        return {}
    from studio.core.models.base import seeded

    was_training = model.training
    model.eval()
    try:
        total = 0.0
        for i, start in enumerate(range(0, len(data), batch_size)):
            x = data.images[start : start + batch_size].float().div(255)
            y = None if data.labels is None else data.labels[start : start + batch_size]
            total += float(model.nll_nats(x, y, seeded(seed + i)).sum())
    finally:
        model.train(was_training)
    nats = total / len(data)
    dims = math.prod(data.image_shape)
    prefix = "nelbo" if model.likelihood_is_bound else "nll"
    return {f"{prefix}_nats": nats, f"{prefix}_bpd": nats / (dims * math.log(2))}
