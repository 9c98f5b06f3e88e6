"""Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN
Decoders"), unconditional or class-conditional, with exact likelihood and fast sampling.

The model factorises an image over its pixels in raster order (eq. 1):

    p(x) = prod_i p(x_i | x_1, ..., x_{i-1}).

Architecture, as in the paper's Fig. 2 and the UvA deep-learning tutorial's variant:

- Two stacks. The *vertical* stack at (i, j) sees only rows above i (all columns within
  its reach); the *horizontal* stack sees the pixels to the left in row i plus the
  vertical stack's features at (i, j). Together they cover every earlier pixel, so the
  plain masked PixelCNN's blind spot is gone.
- The first layer is a masked 7x7 convolution (``first_kernel``): a 7x7 kernel whose
  centre row and rows below are masked is the same as a 3x7 kernel over the three rows
  above, and the horizontal one a 1x3 kernel over the three pixels to the left. The
  masks are built into the kernel shapes and the padding ("shifted convolutions"), so
  no weight is multiplied by zero.
- Then ``layers`` gated layers (eq. 2): y = tanh(W_f * x) ⊙ σ(W_g * x), with a 1x1
  link from the vertical to the horizontal stack and a residual connection on the
  horizontal stack. They cycle through dilations 1, 2, 4 (``dilation``), as the UvA
  tutorial's do: a view of 20 rows up instead of 11 at the same cost.
- Class conditioning (eq. 4): y = tanh(W_f * x + V_f^T h) ⊙ σ(W_g * x + V_g^T h), h the
  label: a learned embedding gives every gate of every layer its own bias per class.
  A learned bias per pixel position on both stacks' first features (eq. 5's spatial
  conditioning with a constant map) tells the model where in the image it draws.
- Class guidance (``guidance`` sampling option, models trained with ``label_dropout``):
  classifier-free guidance (Ho & Salimans 2022) applied to every pixel's conditional,
  log p_w(x_i | x_<i, y) = (1 + w) log p(x_i | x_<i, y) - w log p(x_i | x_<i) + const,
  the unconditional model being the learned "no label" class. After a short run it
  lifts the share of samples a classifier reads as the asked digit from 35% to 62%.

Output choice: a 256-way categorical (softmax) per pixel and channel, trained by
cross-entropy, as in the PixelRNN paper's section 5.3 and the UvA tutorial (whose
gated PixelCNN reaches 0.81 bits/dim on 8-bit MNIST). It needs no assumption about the
shape of a grey level's distribution (MNIST's is mostly exactly 0, with a bright tail
at 250-254) and gives the heat map its exact per-value probabilities. A discretized
logistic mixture (PixelCNN++) was tried on the same stacks: 1.22 bits/dim against the
categorical's 1.19 after the same 500 steps. The categorical's output weights are
built on a smooth basis over the levels (``LevelHead``), so a grey level's evidence
also teaches its neighbours (1.17 against 1.19 after 500 steps), with a free part
that keeps the full categorical. With several channels (RGB), the channels of one
pixel are independent given the earlier pixels: still an exact likelihood and exact
sampling, only without PixelCNN's within-pixel R -> G -> B order.

Symbols: an image in [0, 1] is the 8-bit grey levels round(255 x); the network sees
them as 2 * level / 255 - 1 in [-1, 1], as the trainer's batches are.

Samplers (all exact ancestral sampling in raster order, all from the given
torch.Generator only; uniforms for every pixel are drawn up front and each pixel's
level is the inverse CDF of its (guided, tempered) softmax at its uniform, so two
samplers given the same seed agree pixel for pixel):

- ``naive_sample``: one full forward pass per pixel (H*W passes): the reference.
- ``PixelCNN.sample`` / ``complete`` / ``iter_sample`` (the run itself:
  ``pixelcnn_raster.Raster``): for row i the vertical stack runs
  only on the rows its receptive field needs (``receptive_field`` + 1 rows), and for
  pixel (i, j) the horizontal stack only on the columns j - receptive_field .. j.
- ``should_stop``: every long sampler polls it once per pixel and raises
  ``SamplingCancelled`` when it returns True.

The network has no dropout or batch norm, so train and eval mode compute the same.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from studio.core.errors import SamplingCancelled  # noqa: F401 - its samplers raise it (pixelcnn_raster); imported from here
from studio.core.families.pixelcnn import PixelCNNConfig
from studio.core.models.base import GenerativeModel, SampleOption
from studio.core.models.pixelcnn_raster import (
    LEVELS,
    Raster,
    SampleProgress,
    StopFn,
    from_symbols,
    to_symbols,
)
from studio.core.train.algorithm import Algorithm, make_optimizer

GUIDANCE = SampleOption(2.0, 0.0, 10.0, "Guidance",
                        "class guidance w: logits (1 + w)·conditional − w·unconditional; 0 = the model itself")
TEMPERATURE = SampleOption(1.0, 0.05, 2.0, "Temperature",
                           "divides the logits: below 1 sharper, steadier strokes; above 1 noisier")


class GatedLayer(nn.Module):
    """One gated layer of both stacks (eq. 2, Fig. 2), with optional class biases (eq. 4)."""

    def __init__(self, channels: int, kernel: int, dilation: int = 1):
        super().__init__()
        p = kernel // 2
        self.reach = p * dilation  # pixels up / left / right one layer adds to the view
        # rows i-r..i (every dilation-th), cols j-r..j+r; and row i, cols j-r..j
        self.v_conv = nn.Conv2d(channels, 2 * channels, (p + 1, kernel), dilation=dilation)
        self.h_conv = nn.Conv2d(channels, 2 * channels, (1, p + 1), dilation=dilation)
        self.v_to_h = nn.Conv2d(2 * channels, 2 * channels, 1)
        self.h_out = nn.Conv2d(channels, channels, 1)

    def vertical(self, v: torch.Tensor, bias: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, C, R, W) vertical features -> (next ones, their 1x1 link into the horizontal stack)."""
        r = self.reach
        f = self.v_conv(F.pad(v, (r, r, r, 0)))
        link = self.v_to_h(f)
        return _gate(f if bias is None else f + bias), link

    def horizontal(self, h: torch.Tensor, link: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        """(N, C, R, Wc) horizontal features + the vertical link -> next ones (residual)."""
        f = self.h_conv(F.pad(h, (self.reach, 0, 0, 0))) + link
        return h + self.h_out(_gate(f if bias is None else f + bias))


class LevelHead(nn.Module):
    """The 1x1 output layer: features -> logits of the 256 grey levels of each channel.

    Its weight is ``basis @ coef + free``: ``basis`` holds smooth bumps over the levels (plus
    the two end levels, where MNIST piles up), so what one observed level teaches spreads to
    its neighbours, and ``free`` (starting at zero) keeps the full 256-way categorical's
    flexibility. With ``bumps = 0`` it is the plain 1x1 convolution.
    """

    def __init__(self, channels: int, c_in: int, bumps: int):
        super().__init__()
        self.c_in = c_in
        # Start near uniform guessing (8 bits/dim), not at a random, confidently wrong
        # distribution; small rather than zero weights so gradients reach the stacks at once.
        scale = 0.01 / channels**0.5
        self.bias = nn.Parameter(torch.zeros(LEVELS * c_in))
        if bumps:
            self.register_buffer("basis", level_basis(bumps), persistent=False)
            self.coef = nn.Parameter(torch.randn(c_in, bumps + 2, channels) * scale)
            self.free = nn.Parameter(torch.zeros(LEVELS * c_in, channels))
        else:
            self.basis = self.coef = None
            self.free = nn.Parameter(torch.randn(LEVELS * c_in, channels) * scale)

    def weight(self) -> torch.Tensor:
        if self.coef is None:
            return self.free
        smooth = torch.einsum("lm,cmk->lck", self.basis.to(self.coef.dtype), self.coef)
        return smooth.reshape(LEVELS * self.c_in, -1) + self.free  # row = level * C + channel

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        w = self.weight()
        return F.conv2d(h, w[:, :, None, None], self.bias)


def level_basis(bumps: int) -> torch.Tensor:
    """(256, bumps + 2): Gaussian bumps evenly spaced over the levels, one spacing wide, and
    indicators of level 0 and level 255."""
    levels = torch.arange(LEVELS, dtype=torch.float64)[:, None]
    spacing = (LEVELS - 1) / max(bumps - 1, 1)
    centres = torch.arange(bumps, dtype=torch.float64)[None, :] * spacing
    bumps_ = torch.exp(-0.5 * ((levels - centres) / spacing) ** 2)
    ends = torch.zeros(LEVELS, 2, dtype=torch.float64)
    ends[0, 0] = ends[-1, 1] = 1
    return torch.cat([bumps_, ends], dim=1).float()


def dilations(layers: int, largest: int) -> list[int]:
    """Each gated layer's dilation: 1, 2, 4, ... up to ``largest``, repeated (1: none)."""
    cycle = [2**k for k in range(largest.bit_length()) if 2**k <= largest]
    return [cycle[i % len(cycle)] for i in range(layers)]


def _gate(f: torch.Tensor) -> torch.Tensor:
    """tanh(a) ⊙ σ(b) over the two halves of the channels (eq. 2)."""
    a, b = f.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


class PixelCNN(GenerativeModel):
    """Capabilities: no latent, an exact likelihood, a ``temperature`` sampling option,
    cancellable sampling, completion of partial images and pixel-by-pixel drawing."""

    has_likelihood = True
    likelihood_is_bound = False
    can_cancel = True
    can_complete = True
    sample_options = {"temperature": TEMPERATURE}

    def __init__(self, cfg: PixelCNNConfig, image_shape: tuple[int, int, int], num_classes: int | None):
        super().__init__(image_shape, num_classes)
        self.family = cfg.family
        c_in = image_shape[0]
        ch, k1 = cfg.channels, cfg.first_kernel
        self.p1 = p1 = k1 // 2
        self.channels = ch
        # The masked k1 x k1 first layer as its unmasked part: rows above / pixels to the left.
        self.v_in = nn.Conv2d(c_in, ch, (p1, k1))
        self.h_in = nn.Conv2d(c_in, ch, (1, p1))
        self.layers = nn.ModuleList(GatedLayer(ch, cfg.kernel, d) for d in dilations(cfg.layers, cfg.dilation))
        # Where a pixel is (digits are centred): a learned bias per position on both stacks'
        # first features, as in eq. 5's spatial conditioning. It does not depend on x, so
        # the stacks stay causal.
        h, w = image_shape[1:]
        self.position = nn.Parameter(torch.zeros(2, ch, h, w)) if cfg.position_bias else None
        self.out = LevelHead(ch, c_in, cfg.level_basis)
        # eq. 4: per class, a bias for the vertical and the horizontal gate of every layer.
        # With label dropout, one more row: the learned "no label" class guidance contrasts with.
        self.null_label = num_classes if num_classes and cfg.label_dropout > 0 else None
        rows = (num_classes or 0) + (self.null_label is not None)
        self.embed = nn.Embedding(rows, cfg.layers * 4 * ch) if num_classes else None
        if self.null_label is not None:
            self.sample_options = {"temperature": TEMPERATURE, "guidance": GUIDANCE}
        if self.embed is not None:
            nn.init.normal_(self.embed.weight, std=0.1)
        # Rows above (and pixels to the left) that output (i, j) depends on.
        self.receptive_field = p1 + sum(layer.reach for layer in self.layers)

    # -- the network -----------------------------------------------------------------------
    def class_biases(self, labels: torch.Tensor | None) -> list[tuple[torch.Tensor | None, torch.Tensor | None]]:
        """Per layer, the (vertical, horizontal) gate biases of the labels, (N, 2C, 1, 1) each."""
        if self.embed is None:
            return [(None, None)] * len(self.layers)
        e = self.embed(labels)[:, :, None, None].chunk(2 * len(self.layers), dim=1)
        return [(e[2 * i], e[2 * i + 1]) for i in range(len(self.layers))]

    def vertical_stack(self, x: torch.Tensor, biases: list, row: int = 0) -> list[torch.Tensor]:
        """Rows row.. of x in [-1, 1] -> each layer's vertical link for those rows. Row r's come
        from rows < r only: the input is shifted down by one row (its last row is unused)."""
        p1 = self.p1
        v = self.v_in(F.pad(x[:, :, :-1], (p1, p1, p1, 0)))
        if self.position is not None:
            v = v + self.position[0, :, row : row + v.shape[2]]
        links = []
        for layer, (bias, _) in zip(self.layers, biases, strict=True):
            v, link = layer.vertical(v, bias)
            links.append(link)
        return links

    def horizontal_stack(self, x: torch.Tensor, links: list[torch.Tensor], biases: list,
                         row: int = 0, col: int = 0) -> torch.Tensor:
        """A block of x from (row, col) (and the links for it) -> logits (N, 256, C, R, Wc);
        column c's come from columns < c of its row: the input is shifted right by one (its
        last column unused)."""
        h = self.h_in(F.pad(x[..., :-1], (self.p1, 0, 0, 0)))
        if self.position is not None:
            h = h + self.position[1, :, row : row + h.shape[2], col : col + h.shape[3]]
        for layer, link, (_, bias) in zip(self.layers, links, biases, strict=True):
            h = layer.horizontal(h, link, bias)
        logits = self.out(F.elu(h))
        n, _, r, w = logits.shape
        return logits.view(n, LEVELS, self.image_shape[0], r, w)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images (N, C, H, W) in [-1, 1] -> logits (N, 256, C, H, W) of each grey level."""
        biases = self.class_biases(labels)
        return self.horizontal_stack(x, self.vertical_stack(x, biases), biases)

    # -- likelihood --------------------------------------------------------------------------
    @torch.no_grad()
    def nll_nats(self, images01: torch.Tensor, labels: torch.Tensor | None,
                 generator: torch.Generator | None = None, batch_size: int = 100) -> torch.Tensor:
        """Exact -log p(x) in nats per image, (N,) float64 on the CPU, of the 8-bit grey
        levels round(255 x). bits/dim = nats / (C·H·W·ln 2). ``generator`` is unused."""
        out = []
        for start in range(0, images01.shape[0], batch_size):
            symbols = to_symbols(images01[start : start + batch_size].to(self.device))
            y = self._labels(labels, start, batch_size)
            logits = self(from_symbols(symbols, self.dtype), y)
            nll = F.cross_entropy(logits.float(), symbols, reduction="none")
            out.append(nll.flatten(1).cpu().double().sum(1))  # float64 on the CPU: MPS has none
        return torch.cat(out) if out else torch.zeros(0, dtype=torch.float64)

    def _labels(self, labels: torch.Tensor | None, start: int, size: int) -> torch.Tensor | None:
        if not self.conditional:
            return None
        if labels is None:
            raise ValueError("a class-conditional PixelCNN needs the images' labels for their likelihood")
        return labels[start : start + size].to(self.device, torch.long)

    @property
    def dtype(self) -> torch.dtype:
        return self.out.bias.dtype

    def onnx_module(self):
        """For ONNX export: the logits network (x[, labels]) -> the logits of each 8-bit level;
        the raster-order sampler is written into ``usage``."""
        from studio.core.onnx_export import OnnxGraph

        shape, k = tuple(self.image_shape), self.num_classes
        c, h, w = shape

        def make_inputs(n: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
            x = from_symbols(torch.randint(0, LEVELS, (n, *shape), generator=generator))
            return (x, torch.randint(0, k, (n,), generator=generator)) if k else (x,)

        names = ("x", "labels") if k else ("x",)
        usage = (f"logits = network(x{', labels' if k else ''}): (N, 256, {c}, {h}, {w}), for each pixel and channel "
                 "the unnormalised log-probabilities of its 256 grey levels given the pixels before it in raster "
                 f"order; x: (N, {c}, {h}, {w}) in [-1, 1] as level / 127.5 − 1"
                 + (f"; labels int64 (N,) classes 0..{k - 1}" if k else "")
                 + ". Sampling: x = −1 everywhere; for each pixel (i, j) in raster order run the network, draw each "
                 "channel's level from softmax(logits[:, :, :, i, j] / temperature) and write level / 127.5 − 1 into "
                 f"x[:, :, i, j] ({h * w} passes); the image is the levels / 255")
        return OnnxGraph(self, make_inputs, names, ("logits",), f"logits network ({', '.join(names)}) -> logits", usage)

    # -- sampling ----------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | int | None = None, generator: torch.Generator | None = None,
               *, z: torch.Tensor | None = None, should_stop: StopFn | None = None, **options: Any) -> torch.Tensor:
        """n images in [0, 1] by ancestral sampling (the base protocol, plus ``should_stop``)."""
        if z is not None:
            raise TypeError("the PixelCNN has no latent space: sample it without z")
        options = self.check_options(options)
        return self.complete(None, None, self.labels_for(n, labels), generator, n=n,
                             should_stop=should_stop, **options)

    @torch.no_grad()
    def complete(self, images01: torch.Tensor | None, known_mask: torch.Tensor | None,
                 labels: torch.Tensor | int | None = None, generator: torch.Generator | None = None,
                 temperature: float = 1.0, *, guidance: float | None = None, n: int | None = None,
                 should_stop: StopFn | None = None) -> torch.Tensor:
        """Fill the unknown pixels of images01 (N, C, H, W in [0, 1]) in raster order given
        the known ones; ``known_mask`` (bool, broadcast to the images: (H, W), (N, 1, H, W)...)
        marks the known pixels, which come back unchanged (as 8-bit levels / 255)."""
        *_, last = self.iter_sample(images01, known_mask, labels, generator, temperature, guidance=guidance,
                                    n=n, by="image", should_stop=should_stop)
        return last.images

    @torch.no_grad()
    def iter_sample(self, images01: torch.Tensor | None = None, known_mask: torch.Tensor | None = None,
                    labels: torch.Tensor | int | None = None, generator: torch.Generator | None = None,
                    temperature: float = 1.0, *, guidance: float | None = None, n: int | None = None,
                    by: str = "pixel", should_stop: StopFn | None = None,
                    naive: bool = False) -> Iterator[SampleProgress]:
        """Sample (or, with images and a mask, complete) step by step for the explorer:
        yields a SampleProgress after every pixel (``by="pixel"``), every row ("row") or
        once at the end ("image"). ``guidance`` (models trained with label dropout): see
        GUIDANCE; None = its default. ``naive``: full forward passes (the reference sampler)."""
        options = {"temperature": temperature} if guidance is None else {"temperature": temperature,
                                                                         "guidance": guidance}
        run = Raster(self, images01, known_mask, labels, generator, self.check_options(options), n, naive)
        yield from run.steps(by, should_stop)


def naive_sample(model: PixelCNN, n: int, labels: torch.Tensor | int | None = None,
                 generator: torch.Generator | None = None, temperature: float = 1.0,
                 should_stop: StopFn | None = None, guidance: float | None = None) -> torch.Tensor:
    """The reference sampler: a full forward pass per pixel (H*W of them). Same seed, same
    images as ``model.sample``; tests and the sampling benchmark compare the two."""
    *_, last = model.iter_sample(None, None, model.labels_for(n, labels), generator, temperature,
                                 guidance=guidance, n=n, by="image", should_stop=should_stop, naive=True)
    return last.images


class PixelCNNAlgorithm(Algorithm):
    """Maximum likelihood: cross-entropy of each grey level under its 256-way softmax.

    Logs ``nll``, the batch's negative log-likelihood in bits per dimension. With
    ``model.lr_schedule = "cosine"`` the learning rate follows a cosine from train.lr down
    to ``FINAL_LR`` of it at train.steps. The schedule's position starts from the optimiser's
    own step count, so a run resumed from a checkpoint continues it where it was (read once,
    at the first step, so a GPU is not synchronised every step).
    """

    FINAL_LR = 0.05
    supports_loss_scaling = True  # fp16: backward() and step_optimizer() below

    def __init__(self, model: PixelCNN, config, generator: torch.Generator):
        self.model = model
        self.rng = generator  # label dropout's only source of randomness
        self.label_dropout = config.model.label_dropout if model.null_label is not None else 0.0
        self.base_lr = config.train.lr
        self.total_steps = config.train.steps
        self.cosine = config.model.lr_schedule == "cosine"
        self.done: int | None = None  # optimiser steps taken; read from its state once
        self.optimizers = {"pixelcnn": make_optimizer(model.parameters(), config, config.train.lr)}
        self.net: nn.Module = model  # the logits network (a DDP wrapper when distributed)

    def distribute(self, wrap) -> None:
        self.net = wrap(self.model)

    def step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        opt = self.optimizers["pixelcnn"]
        if self.cosine:
            if self.done is None:  # first step: after a resume has loaded the optimiser's state
                self.done = optimizer_steps(opt)
            self._set_lr(opt, self.lr_at(self.done))
            self.done += 1
        symbols = x.add(1).mul((LEVELS - 1) / 2).round().long()
        y = self._drop_labels(y) if self.model.conditional else None
        nats = F.cross_entropy(self.net(x, y), symbols)  # per dim
        opt.zero_grad(set_to_none=True)
        self.backward(nats)
        self.step_optimizer(opt)
        return {"nll": nats.detach() / math.log(2)}

    def _drop_labels(self, y: torch.Tensor) -> torch.Tensor:
        """Hide a share of the labels behind the "no label" class, which guidance needs."""
        if not self.label_dropout:
            return y
        drop = torch.rand(y.shape, generator=self.rng, device=self.rng.device) < self.label_dropout
        return torch.where(drop.to(y.device), torch.full_like(y, self.model.null_label), y)

    def lr_at(self, done: int) -> float:
        """Cosine decay (Loshchilov & Hutter 2017) from base_lr to FINAL_LR * base_lr."""
        progress = min(done / max(self.total_steps, 1), 1.0)
        scale = self.FINAL_LR + (1 - self.FINAL_LR) * 0.5 * (1 + math.cos(math.pi * progress))
        return self.base_lr * scale

    @staticmethod
    def _set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
        for group in opt.param_groups:
            group["lr"] = lr


def optimizer_steps(opt: torch.optim.Optimizer) -> int:
    """How many steps an Adam optimiser has taken (its per-parameter ``step`` state; 0 when new)."""
    for group in opt.param_groups:
        for p in group["params"]:
            step = opt.state.get(p, {}).get("step")
            if step is not None:
                return int(step)
    return 0
