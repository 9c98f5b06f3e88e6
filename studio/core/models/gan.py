"""GANs: the classic tutorial MLP and a DCGAN, unconditional or class-conditional.

Conditioning: the generator gets a label embedding concatenated to z; the
discriminator is a projection discriminator (Miyato & Koyama 2018): its logit is
``fc(h) + <embed(y), h>`` over its features h.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm as sn

from studio.core.families.gan import GANConfig
from studio.core.models.base import GenerativeModel
from studio.core.train.algorithm import Algorithm, GradToggle, full_precision, make_optimizer

LABEL_EMBED = 32  # size of the label embedding fed to the generator


class MLPGenerator(nn.Module):
    """z -> 256 -> 512 -> 1024 -> C*H*W at width 64 (the tutorial's G 100-256-512-1024-784)."""

    def __init__(self, latent_dim: int, image_shape: tuple[int, int, int], width: int, num_classes: int | None):
        super().__init__()
        self.image_shape = image_shape
        self.embed = nn.Embedding(num_classes, LABEL_EMBED) if num_classes else None
        c, h, w = image_shape
        dims = [latent_dim + (LABEL_EMBED if num_classes else 0), 4 * width, 8 * width, 16 * width]
        layers: list[nn.Module] = []
        for a, b in zip(dims, dims[1:], strict=False):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers, nn.Linear(dims[-1], c * h * w), nn.Tanh())

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(labels)], dim=1)
        return self.net(z).view(-1, *self.image_shape)


class MLPDiscriminator(nn.Module):
    """C*H*W -> 512 -> 256 -> logit at width 64 (the tutorial's D 784-512-256-1)."""

    def __init__(self, image_shape: tuple[int, int, int], width: int, num_classes: int | None, use_sn: bool):
        super().__init__()
        wrap = sn if use_sn else (lambda m: m)
        c, h, w = image_shape
        self.features = nn.Sequential(
            nn.Flatten(),
            wrap(nn.Linear(c * h * w, 8 * width)), nn.LeakyReLU(0.2),
            wrap(nn.Linear(8 * width, 4 * width)), nn.LeakyReLU(0.2),
        )
        self.fc = wrap(nn.Linear(4 * width, 1))
        self.embed = _projection_embedding(num_classes, 4 * width, wrap)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x)
        return _project(self.fc(h), self.embed, h, labels)


class DCGenerator(nn.Module):
    """z -> (2w, S/4, S/4) -> (w, S/2, S/2) -> (C, S, S); S is 28 or 32 (any multiple of 4)."""

    def __init__(self, latent_dim: int, image_shape: tuple[int, int, int], width: int, num_classes: int | None):
        super().__init__()
        c, h, w = image_shape
        self.base = (2 * width, h // 4, w // 4)
        self.embed = nn.Embedding(num_classes, LABEL_EMBED) if num_classes else None
        in_dim = latent_dim + (LABEL_EMBED if num_classes else 0)
        self.fc = nn.Sequential(nn.Linear(in_dim, 2 * width * (h // 4) * (w // 4)), nn.BatchNorm1d(2 * width * (h // 4) * (w // 4)), nn.ReLU())
        self.net = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.ConvTranspose2d(width, c, 4, 2, 1), nn.Tanh(),
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(labels)], dim=1)
        return self.net(self.fc(z).view(-1, *self.base))


class DCDiscriminator(nn.Module):
    """(C, S, S) -> (w, S/2) -> (2w, S/4) -> 256 features -> logit (+ projection)."""

    def __init__(self, image_shape: tuple[int, int, int], width: int, num_classes: int | None, use_sn: bool, batch_norm: bool):
        super().__init__()
        wrap = sn if use_sn else (lambda m: m)
        c, h, w = image_shape
        norm = nn.BatchNorm2d(2 * width) if batch_norm and not use_sn else nn.Identity()
        self.features = nn.Sequential(
            wrap(nn.Conv2d(c, width, 4, 2, 1)), nn.LeakyReLU(0.2),
            wrap(nn.Conv2d(width, 2 * width, 4, 2, 1)), norm, nn.LeakyReLU(0.2),
            nn.Flatten(),
            wrap(nn.Linear(2 * width * (h // 4) * (w // 4), 256)), nn.LeakyReLU(0.2),
        )
        self.fc = wrap(nn.Linear(256, 1))
        self.embed = _projection_embedding(num_classes, 256, wrap)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x)
        return _project(self.fc(h), self.embed, h, labels)


def _projection_embedding(num_classes: int | None, dim: int, wrap) -> nn.Module | None:
    """Class embedding for the projection term, started small so it cannot swamp the logit."""
    if not num_classes:
        return None
    embed = nn.Embedding(num_classes, dim)
    nn.init.normal_(embed.weight, std=0.02)
    return wrap(embed)


def _project(logit: torch.Tensor, embed: nn.Module | None, h: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    if embed is None:
        return logit.squeeze(1)
    return logit.squeeze(1) + (embed(labels) * h).sum(dim=1)


class GAN(GenerativeModel):
    """Capabilities: a latent z of ``latent_dim``, conditional when built with classes."""

    def __init__(self, cfg: GANConfig, image_shape: tuple[int, int, int], num_classes: int | None):
        super().__init__(image_shape, num_classes)
        self.family = cfg.family
        self.latent_dim = cfg.latent_dim
        self.latent_shape = (cfg.latent_dim,)
        if cfg.arch == "mlp":
            self.generator = MLPGenerator(cfg.latent_dim, image_shape, cfg.width, num_classes)
            self.discriminator = MLPDiscriminator(image_shape, cfg.width, num_classes, cfg.spectral_norm)
        else:
            self.generator = DCGenerator(cfg.latent_dim, image_shape, cfg.width, num_classes)
            self.discriminator = DCDiscriminator(
                image_shape, cfg.width, num_classes, cfg.spectral_norm, batch_norm=cfg.loss != "wgan-gp"
            )

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return self.generator(z, labels)

    def sampling_module(self) -> nn.Module:
        """The part an EMA tracks and a sampler needs."""
        return self.generator

    def onnx_module(self):
        """For ONNX export: the generator, (z[, labels]) -> image in [0, 1]."""
        from studio.core.onnx_export import Images01, latent_graph

        return latent_graph(self, Images01(self.generator, self.conditional), "generator")


class GANAlgorithm(Algorithm):
    """Non-saturating BCE, hinge or WGAN-GP; n_critic discriminator steps per generator step."""

    supports_loss_scaling = True

    def __init__(self, model: GAN, config, generator: torch.Generator):
        m = config.model
        self.G: nn.Module = model.generator
        self.D: nn.Module = model.discriminator  # D's own step (a DDP wrapper when distributed)
        self.D_plain: nn.Module = model.discriminator  # G's step and the penalty: never wrapped
        self.model = model
        self.rng = generator
        self.loss = m.loss
        self.n_critic = m.n_critic
        self.gp_weight = m.gp_weight
        self.optimizers = {
            "generator": make_optimizer(self.G.parameters(), config, config.train.lr),
            "discriminator": make_optimizer(self.D.parameters(), config, m.lr_d),
        }
        self.d_grads = GradToggle(self.D)
        # Real and fake go through D as one batch unless D has batch norm, whose
        # statistics must not mix the two (DCGAN's advice).
        self.joint_d = not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in self.D.modules())

    def distribute(self, wrap) -> None:
        """G and D's own step through DDP. G's step calls D unwrapped: D's gradients are
        switched off there, and DDP would wait for gradients that never come; so does the
        gradient penalty (DDP has no double backward). Their share of D's gradient still
        reaches D's parameters within the D step's one backward, which DDP averages."""
        self.G = wrap(self.model.generator)
        self.D = wrap(self.model.discriminator)

    def _noise(self, n: int, device: torch.device) -> torch.Tensor:
        return torch.randn(n, self.model.latent_dim, device=device, generator=self.rng)

    def step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        opt_g, opt_d = self.optimizers["generator"], self.optimizers["discriminator"]
        fake = self.G(self._noise(x.shape[0], x.device), y)
        for i in range(self.n_critic):
            if i > 0:  # extra critic steps see fresh fakes
                with torch.no_grad():
                    fresh = self.G(self._noise(x.shape[0], x.device), y)
            loss_d, parts = self._d_loss(x, fake.detach() if i == 0 else fresh, y)
            opt_d.zero_grad(set_to_none=True)
            self.backward(loss_d)
            self.step_optimizer(opt_d)
        self.d_grads.set(False)  # G's step needs no gradients for D's weights
        logits = self.D_plain(fake, y)
        loss_g = F.softplus(-logits).mean() if self.loss == "bce" else -logits.mean()
        opt_g.zero_grad(set_to_none=True)
        self.backward(loss_g)
        self.step_optimizer(opt_g)
        self.d_grads.set(True)
        return {"d": loss_d.detach(), "g": loss_g.detach(), **parts}

    def _d_loss(self, real: torch.Tensor, fake: torch.Tensor, y: torch.Tensor | None):
        if self.joint_d:
            labels = None if y is None else torch.cat([y, y])
            real_logits, fake_logits = self.D(torch.cat([real, fake]), labels).chunk(2)
        else:
            real_logits, fake_logits = self.D(real, y), self.D(fake, y)
        if self.loss == "bce":
            loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
        elif self.loss == "hinge":
            loss = F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
        else:
            loss = fake_logits.mean() - real_logits.mean()
            gp = self._gradient_penalty(real, fake, y)
            return loss + self.gp_weight * gp, {"gp": gp.detach()}
        return loss, {}

    def _gradient_penalty(self, real: torch.Tensor, fake: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """WGAN-GP (Gulrajani et al. 2017, eq. 3): (||∇D(x̂)|| - 1)² at random interpolates x̂."""
        eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device, generator=self.rng)
        with full_precision(real.device):  # the double backward in float32 under any autocast
            mixed = (eps * real + (1 - eps) * fake.float()).requires_grad_(True)
            (grad,) = torch.autograd.grad(self.D_plain(mixed, y).sum(), mixed, create_graph=True)
            return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
