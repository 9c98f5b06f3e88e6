"""VAEs: the pytorch/examples MLP (784-400-20) and a small conv VAE, optionally conditional.

The decoder outputs logits; a Bernoulli likelihood (BCE) scores pixels in [0, 1].
A conditional VAE gives the one-hot label to both the encoder and the decoder.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from studio.core.families.vae import VAEConfig
from studio.core.models.base import GenerativeModel
from studio.core.train.algorithm import Algorithm, make_optimizer


class MLPEncoder(nn.Module):
    def __init__(self, in_dim: int, hidden: int, latent_dim: int):
        super().__init__()
        self.fc = nn.Linear(in_dim, hidden)
        self.mu = nn.Linear(hidden, latent_dim)
        self.logvar = nn.Linear(hidden, latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = F.relu(self.fc(x.flatten(1)))
        return self.mu(h), self.logvar(h)


class MLPDecoder(nn.Module):
    def __init__(self, latent_dim: int, hidden: int, image_shape: tuple[int, int, int]):
        super().__init__()
        self.image_shape = image_shape
        c, h, w = image_shape
        self.net = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, c * h * w))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, *self.image_shape)


class ConvEncoder(nn.Module):
    def __init__(self, in_ch: int, image_shape: tuple[int, int, int], width: int, latent_dim: int):
        super().__init__()
        _, h, w = image_shape
        self.net = nn.Sequential(
            nn.Conv2d(in_ch, width, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.ReLU(),
            nn.Flatten(), nn.Linear(2 * width * (h // 4) * (w // 4), 256), nn.ReLU(),
        )
        self.mu = nn.Linear(256, latent_dim)
        self.logvar = nn.Linear(256, latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.net(x)
        return self.mu(h), self.logvar(h)


class ConvDecoder(nn.Module):
    def __init__(self, latent_dim: int, image_shape: tuple[int, int, int], width: int):
        super().__init__()
        c, h, w = image_shape
        self.base = (2 * width, h // 4, w // 4)
        self.fc = nn.Sequential(nn.Linear(latent_dim, 256), nn.ReLU(), nn.Linear(256, 2 * width * (h // 4) * (w // 4)), nn.ReLU())
        self.net = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(width, c, 4, 2, 1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.fc(z).view(-1, *self.base))


class VAE(GenerativeModel):
    """Capabilities: a latent z of ``latent_dim``, encodes images, a likelihood bound (ELBO)."""

    can_encode = True
    has_likelihood = True
    likelihood_is_bound = True

    def __init__(self, cfg: VAEConfig, image_shape: tuple[int, int, int], num_classes: int | None):
        super().__init__(image_shape, num_classes)
        self.family = cfg.family
        self.latent_dim = cfg.latent_dim
        self.latent_shape = (cfg.latent_dim,)
        c, h, w = image_shape
        k = num_classes or 0
        if cfg.arch == "mlp":
            hidden = 400 * cfg.width // 64  # width 64 gives the examples' 400 units
            self.encoder = MLPEncoder(c * h * w + k, hidden, cfg.latent_dim)
            self.decoder = MLPDecoder(cfg.latent_dim + k, hidden, image_shape)
        else:
            self.encoder = ConvEncoder(c + k, image_shape, cfg.width, cfg.latent_dim)
            self.decoder = ConvDecoder(cfg.latent_dim + k, image_shape, cfg.width)
        self.conv = cfg.arch != "mlp"

    def encode(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Images in [-1, 1] -> (mu, logvar) of q(z | x[, y])."""
        if self.conditional:
            onehot = F.one_hot(labels, self.num_classes).to(x.dtype)
            if self.conv:
                x = torch.cat([x, onehot[:, :, None, None].expand(-1, -1, *x.shape[2:])], dim=1)
            else:
                x = torch.cat([x.flatten(1), onehot], dim=1)
        return self.encoder(x)

    def decode_logits(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if self.conditional:
            z = torch.cat([z, F.one_hot(labels, self.num_classes).to(z.dtype)], dim=1)
        return self.decoder(z)

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return torch.sigmoid(self.decode_logits(z, labels)) * 2 - 1

    def sampling_module(self) -> nn.Module:
        return self.decoder

    def onnx_module(self):
        """For ONNX export: the decoder, (z[, labels]) -> image in [0, 1] (the Bernoulli means)."""
        from studio.core.onnx_export import Images01, latent_graph

        return latent_graph(self, Images01(self, self.conditional, "decode"), "decoder",
                            "; the pixels are the decoder's Bernoulli means (sigmoid of its logits)")

    @torch.no_grad()
    def nll_nats(self, images01: torch.Tensor, labels: torch.Tensor | None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Per-image negative ELBO in nats: E_q[-log p(x|z)] + KL(q(z|x) || N(0, I)), with
        one reparameterised z per image (Kingma & Welling 2014, eq. 10), KL weight 1."""
        x = images01.to(self.device)
        y = labels.to(self.device) if labels is not None and self.conditional else None
        recon, kl = vae_terms(self, x * 2 - 1, y, generator, reduce=False)
        return (recon + kl).cpu().double()  # on the CPU first: MPS has no float64

    @torch.no_grad()
    def reconstruct(self, images01: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Images in [0, 1] -> (reconstructions in [0, 1], latent means)."""
        mu, _ = self.encode(images01.to(self.device) * 2 - 1, None if labels is None else labels.to(self.device))
        return self.decode(mu, labels if labels is None else labels.to(self.device)).add(1).div(2), mu


def vae_terms(model: VAE, x: torch.Tensor, y: torch.Tensor | None, generator: torch.Generator | None,
              reduce: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Reconstruction NLL (Bernoulli on grey levels) and KL(q(z|x) || N(0, I)), in nats:
    per image, or their batch means when ``reduce``."""
    mu, logvar = model.encode(x, y)
    eps = torch.randn(mu.shape, generator=generator, device=generator.device if generator else mu.device)
    z = mu + eps.to(mu.device) * (0.5 * logvar).exp()
    logits = model.decode_logits(z, y)
    recon = F.binary_cross_entropy_with_logits(logits, (x + 1) / 2, reduction="none").flatten(1).sum(1)
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)
    return (recon.mean(), kl.mean()) if reduce else (recon, kl)


class ELBOTerms(nn.Module):
    """``vae_terms`` as one module call, so DistributedDataParallel can wrap it."""

    def __init__(self, vae: VAE, generator: torch.Generator):
        super().__init__()
        self.vae = vae
        self.rng = generator

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        return vae_terms(self.vae, x, y, self.rng)


class VAEAlgorithm(Algorithm):
    """Negative ELBO with a Bernoulli decoder: BCE(recon) + beta * KL, per image, in nats."""

    supports_loss_scaling = True

    def __init__(self, model: VAE, config, generator: torch.Generator):
        self.model = model
        self.rng = generator
        self.beta = config.model.beta
        self.optimizers = {"vae": make_optimizer(model.parameters(), config, config.train.lr)}
        self.terms: nn.Module = ELBOTerms(model, generator)

    def distribute(self, wrap) -> None:
        self.terms = wrap(self.terms)

    def step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        recon, kl = self.terms(x, y)
        loss = recon + self.beta * kl
        opt = self.optimizers["vae"]
        opt.zero_grad(set_to_none=True)
        self.backward(loss)
        self.step_optimizer(opt)
        return {"loss": loss.detach(), "recon": recon.detach(), "kl": kl.detach()}
