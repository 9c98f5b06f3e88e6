"""The denoising network of studio.core.models.diffusion: ε_θ(x_t, t[, y]), a small UNet.

As in DDPM (Ho et al. 2020, Appendix B) and improved DDPM (Nichol & Dhariwal 2021):
residual blocks with group normalisation at each resolution, self-attention at the
lowest one, a sinusoidal timestep embedding, and zero-initialised last convolutions so
that every residual branch starts as the identity. The class embedding carries the null
label that classifier-free guidance trains with.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from studio.core.families.diffusion import DiffusionConfig, parse_multipliers


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal embedding of the timestep (Vaswani et al. 2017 §3.5, as DDPM uses it, §4)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


def _groups(channels: int) -> int:
    """Group norm groups: 8 where the channels allow it (small widths cannot have 32)."""
    for g in (8, 4, 2):
        if channels % g == 0:
            return g
    return 1


def _zero(module: nn.Module) -> nn.Module:
    """Zero-initialised, so each residual branch starts as the identity (improved DDPM does this)."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice; the time (and class) embedding scales and shifts the second
    normalisation (Dhariwal & Nichol 2021's adaptive group norm)."""

    def __init__(self, cin: int, cout: int, emb_dim: int, dropout: float):
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(cin), cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * cout)
        self.norm2 = nn.GroupNorm(_groups(cout), cout)
        self.drop = nn.Dropout(dropout)
        self.conv2 = _zero(nn.Conv2d(cout, cout, 3, padding=1))
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.drop(F.silu(h)))
        return self.skip(x) + h


class Attention(nn.Module):
    """Self-attention over the positions of a feature map, one head per 32 channels."""

    def __init__(self, channels: int):
        super().__init__()
        self.heads = next(h for h in range(max(1, channels // 32), 0, -1) if channels % h == 0)
        self.norm = nn.GroupNorm(_groups(channels), channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = _zero(nn.Conv2d(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(n, 3, self.heads, c // self.heads, h * w).transpose(-1, -2).unbind(1)
        out = F.scaled_dot_product_attention(q, k, v)  # (n, heads, hw, c/heads)
        return x + self.proj(out.transpose(-1, -2).reshape(n, c, h, w))


class Level(nn.Module):
    """The blocks of one resolution, each optionally followed by attention."""

    def __init__(self, channels: list[tuple[int, int]], emb_dim: int, dropout: float, attention: bool):
        super().__init__()
        self.blocks = nn.ModuleList(ResBlock(a, b, emb_dim, dropout) for a, b in channels)
        self.attns = nn.ModuleList((Attention(b) if attention else nn.Identity()) for _, b in channels)


class UNet(nn.Module):
    """ε_θ(x_t, t[, y]): three resolutions (28 -> 14 -> 7 for the digits) with skip connections.

    The class embedding has one extra row, index ``num_classes``: the null label that
    classifier-free guidance trains with (label dropout) and asks for unconditional
    predictions with.
    """

    def __init__(self, cfg: DiffusionConfig, in_ch: int, num_classes: int | None):
        super().__init__()
        w, mult, n = cfg.width, parse_multipliers(cfg.channel_mult), cfg.res_blocks
        chans = [w * m for m in mult]
        emb = 4 * w
        self.t_dim = 2 * max(8, w // 2)
        self.null_class = num_classes
        self.time_mlp = nn.Sequential(nn.Linear(self.t_dim, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.class_emb = nn.Embedding(num_classes + 1, emb) if num_classes else None
        self.conv_in = nn.Conv2d(in_ch, w, 3, padding=1)
        last = len(chans) - 1
        self.down, self.downsample, skips, c = nn.ModuleList(), nn.ModuleList(), [w], w
        for i, ch in enumerate(chans):
            pairs = [(c if j == 0 else ch, ch) for j in range(n)]
            self.down.append(Level(pairs, emb, cfg.dropout, cfg.attention and i == last))
            c = ch
            skips += [ch] * n
            if i < last:
                self.downsample.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                skips.append(ch)
        self.mid = Level([(c, c), (c, c)], emb, cfg.dropout, cfg.attention)
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for i, ch in reversed(list(enumerate(chans))):
            pairs = []
            for _ in range(n + 1):
                pairs.append((c + skips.pop(), ch))
                c = ch
            self.up.append(Level(pairs, emb, cfg.dropout, cfg.attention and i == last))
            if i > 0:
                self.upsample.append(nn.Conv2d(ch, ch, 3, padding=1))
        self.norm_out = nn.GroupNorm(_groups(c), c)
        self.conv_out = _zero(nn.Conv2d(c, in_ch, 3, padding=1))

    def embed(self, t: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        e = self.time_mlp(timestep_embedding(t, self.t_dim))
        if self.class_emb is not None:
            if y is None:
                y = torch.full_like(t, self.null_class)
            e = e + self.class_emb(y)
        return e

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        emb = self.embed(t, y)
        h = self.conv_in(x)
        skips = [h]
        for i, level in enumerate(self.down):
            for block, attn in zip(level.blocks, level.attns, strict=True):
                h = attn(block(h, emb))
                skips.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)
                skips.append(h)
        for block, attn in zip(self.mid.blocks, self.mid.attns, strict=True):
            h = attn(block(h, emb))
        for i, level in enumerate(self.up):
            for block, attn in zip(level.blocks, level.attns, strict=True):
                h = attn(block(torch.cat([h, skips.pop()], dim=1), emb))
            if i < len(self.upsample):
                # The convolution before the nearest-neighbour doubling: a quarter of the cost.
                h = F.interpolate(self.upsample[i](h), scale_factor=2.0, mode="nearest")
        return self.conv_out(F.silu(self.norm_out(h)))
