"""Likelihood metrics on held-out images: negative ELBO for VAEs, in nats and bits/dim.

The VAE's likelihood is Bernoulli over grey levels in [0, 1] (BCE with logits), the same
term it trains on, with the KL weight at 1 (the true bound, whatever model.beta was).
Grey levels are not binary, so these bits/dim are comparable between runs of the
studio, not with published figures on binarised or discrete 8-bit MNIST.

A future exact-likelihood model (PixelCNN, flows) joins by offering
``nll_nats(images01, labels) -> Tensor (N,)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from studio.core.data.dataset import ImageData


def supports_likelihood(model: object) -> bool:
    return hasattr(model, "nll_nats") or (hasattr(model, "encode") and hasattr(model, "decode_logits"))


@torch.no_grad()
def negative_elbo(model, images01: torch.Tensor, labels: torch.Tensor | None, seed: int = 0) -> torch.Tensor:
    """Per-image negative ELBO in nats: E_q[-log p(x|z)] + KL(q(z|x) || N(0, I)).

    One reparameterised z per image from a seeded generator, so figures repeat exactly.
    """
    device = model.device
    x = images01.to(device)
    y = labels.to(device) if labels is not None and model.conditional else None
    mu, logvar = model.encode(x * 2 - 1, y)
    gen = torch.Generator().manual_seed(seed)
    eps = torch.randn(mu.shape, generator=gen).to(device)
    z = mu + eps * (0.5 * logvar).exp()
    logits = model.decode_logits(z, y)
    rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    kl = -0.5 * (1 + logvar - mu.square() - logvar.exp()).sum(1)
    return (rec + kl).double().cpu()


def likelihood_metrics(model, data: ImageData, batch_size: int = 500, seed: int = 0) -> dict[str, float]:
    """{"nelbo_nats", "nelbo_bpd"} (or {"nll_nats", "nll_bpd"}) averaged over ``data``."""
    if not supports_likelihood(model) or not len(data):
        return {}
    was_training = model.training
    model.eval()
    try:
        exact = hasattr(model, "nll_nats")
        total = 0.0
        for i, start in enumerate(range(0, len(data), batch_size)):
            x = data.images[start : start + batch_size].float().div(255)
            y = None if data.labels is None else data.labels[start : start + batch_size]
            if exact:
                nats = model.nll_nats(x, y).double().cpu()
            else:
                nats = negative_elbo(model, x, y, seed=seed + i)
            total += float(nats.sum())
    finally:
        model.train(was_training)
    nats = total / len(data)
    dims = math.prod(data.image_shape)
    prefix = "nll" if exact else "nelbo"
    return {f"{prefix}_nats": nats, f"{prefix}_bpd": nats / (dims * math.log(2))}
