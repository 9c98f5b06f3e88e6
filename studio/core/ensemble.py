"""Ensembles of trained models: a TOML file that opens wherever a checkpoint opens.

An ensemble file lists member checkpoints (or run directories), their weights and a mode::

    format = "latent-studio-ensemble"
    version = 1
    mode = "mixture"
    [[members]]
    path = "/abs/runs/cgan-a/checkpoints/last.safetensors"  # relative: to this file's folder
    weight = 1.0
    raw = false  # true: the raw weights instead of the checkpoint's EMA

Modes:

- ``mixture``: each image comes from one member, drawn with probability w_m, so the
  ensemble samples p(x) = Σ_m w_m p_m(x). Every image is as sharp as its member's, and
  the set gains the members' diversity (recall, coverage). ``sample_with_members`` says
  which member drew each image.
- ``pixel-average``: every member renders the same latent (and the same noise) and the
  images are averaged pixel by pixel, the averaging "ensemble" of classifiers applied to
  images. Meaningful only when the members share a latent space (checkpoints of one run,
  or its EMA and raw weights); members from different seeds map one z to different
  digits and their average is a blur.
- ``weight-average``: the members' weights are averaged into one model (stochastic weight
  averaging, Izmailov et al. 2018, eq. 2 with weights w_m, over one run's checkpoints);
  the result is a plain model of the members' family with all its capabilities.

Members must agree on image shape and class count; a mismatch names both files.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w
import torch
from torch import nn

from studio.core.errors import CheckpointError
from studio.core.fileio import atomic_write_text
from studio.core.models.base import GenerativeModel, seeded

FORMAT = "latent-studio-ensemble"
VERSION = 1
MODES = ("mixture", "pixel-average", "weight-average")
RAW_SUFFIX = "@raw"  # on the command line: a member's raw (not EMA) weights


@dataclass(frozen=True)
class Member:
    path: Path  # a checkpoint file or a run directory
    weight: float = 1.0
    raw: bool = False

    @property
    def label(self) -> str:
        return str(self.path) + (RAW_SUFFIX if self.raw else "")


def parse_member(text: str, weight: float = 1.0) -> Member:
    """``RUN_OR_CKPT`` or ``RUN_OR_CKPT@raw`` (the raw weights, not the EMA)."""
    raw = text.endswith(RAW_SUFFIX)
    return Member(Path(text.removesuffix(RAW_SUFFIX)), weight, raw)


def is_ensemble_file(path: Path) -> bool:
    return path.suffix.lower() == ".toml" and path.is_file()


# -- the model ---------------------------------------------------------------------------
class Ensemble(GenerativeModel):
    """A mixture or a pixel average of loaded members (a weight average is a plain model).

    Capabilities: the members' image shape and classes; their latent shape when they all
    share one (a mixture then maps each z through the member drawn for it); a likelihood
    for a mixture whose members have one (-log Σ_m w_m p_m(x), a bound when any member's is).
    """

    def __init__(self, members: Sequence[GenerativeModel], weights: Sequence[float], mode: str,
                 names: Sequence[str] = ()):
        first = members[0]
        super().__init__(first.image_shape, first.num_classes)
        if mode not in ("mixture", "pixel-average"):
            raise ValueError(f"an Ensemble is a mixture or a pixel-average, got {mode!r}")
        self.members = nn.ModuleList(members)
        self.weights = normalised(weights)
        self.mode = mode
        self.names = tuple(names) or tuple(f"member {i}" for i in range(len(members)))
        self.family = f"{mode} of {len(members)} {'/'.join(dict.fromkeys(m.family for m in members))}"
        shapes = {m.latent_shape for m in members}
        self.latent_shape = first.latent_shape if len(shapes) == 1 else None
        if mode == "pixel-average" and self.latent_shape is None:
            raise ValueError("a pixel average needs members that share one latent space; "
                             f"these have latents {sorted(map(str, shapes))}")
        common = set.intersection(*(set(m.sample_options) for m in members))
        self.sample_options = {k: v for k, v in first.sample_options.items() if k in common}
        mixture = mode == "mixture"
        self.has_likelihood = mixture and all(m.has_likelihood for m in members)
        self.likelihood_is_bound = self.has_likelihood and any(m.likelihood_is_bound for m in members)

    @property
    def device(self) -> torch.device:
        return self.members[0].device

    def sampling_module(self) -> nn.Module:
        # GANSpace directions come from one member's layer; they are the ensemble's own
        # only when the members share a latent space (a pixel average).
        return self.members[0].sampling_module() if self.mode == "pixel-average" else self

    def choose(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n member indices drawn by weight with ``generator`` (CPU or its device), on the CPU."""
        w = self.weights.to(generator.device)
        return torch.multinomial(w, n, replacement=True, generator=generator).cpu()

    @torch.no_grad()
    def sample_with_members(
        self,
        n: int,
        labels: torch.Tensor | int | None = None,
        generator: torch.Generator | None = None,
        *,
        z: torch.Tensor | None = None,
        members: torch.Tensor | Sequence[int] | None = None,
        **options: Any,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(n images in [0, 1], the member index of each) for a mixture; a pixel average's
        images come from every member (indices None). ``members``: force the assignment."""
        options = self.check_options(options)
        labels = self.labels_for(n, labels)
        generator = seeded(None) if generator is None else generator
        if z is not None and self.latent_shape is None:
            raise ValueError("these members have different latent spaces: an ensemble of them takes no z")
        if self.mode == "pixel-average":
            return self._average(n, labels, generator, z, options), None
        idx = self.choose(n, generator) if members is None else torch.as_tensor(members, dtype=torch.long).cpu()
        if idx.shape != (n,) or (n and not 0 <= int(idx.min()) <= int(idx.max()) < len(self.members)):
            raise ValueError(f"members must be {n} indices in 0..{len(self.members) - 1}")
        out = torch.zeros(n, *self.image_shape, device=self.device)
        for m, member in enumerate(self.members):
            sel = (idx == m).nonzero().squeeze(1)
            if len(sel):
                part_labels = None if labels is None else labels[sel.to(labels.device)]
                part_z = None if z is None else z[sel.to(z.device)]
                out[sel.to(out.device)] = member.sample(len(sel), part_labels, generator, z=part_z, **options).to(out.device)
        return out, idx

    def _average(self, n: int, labels, generator: torch.Generator, z, options) -> torch.Tensor:
        """Σ_m w_m x_m with one z and the same noise stream for every member."""
        z = self.sample_latent(n, generator) if z is None else z.to(self.device)
        state = generator.get_state()
        total = torch.zeros(n, *self.image_shape, device=self.device)
        for w, member in zip(self.weights.tolist(), self.members, strict=True):
            g = torch.Generator(generator.device)
            g.set_state(state)
            total += w * member.sample(n, labels, g, z=z, **options).to(total.device)
        generator.set_state(g.get_state())
        return total

    def _sample(self, n, labels, generator, z, options) -> torch.Tensor:
        images, _ = self.sample_with_members(n, labels, generator, z=z, **options)
        return images * 2 - 1  # sample() maps [-1, 1] back to [0, 1]

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if self.mode != "pixel-average":
            raise TypeError("a mixture has no single decoder: each image's member is drawn (sample_with_members)")
        return sum(w * m.decode(z, labels) for w, m in zip(self.weights.tolist(), self.members, strict=True))

    def nll_nats(self, images01: torch.Tensor, labels: torch.Tensor | None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """-log Σ_m w_m p_m(x); with ELBOs, -log Σ_m w_m e^{ELBO_m} still bounds -log p(x)."""
        if not self.has_likelihood:
            raise TypeError(f"the {self.family} has no likelihood")
        per_member = torch.stack([m.nll_nats(images01, labels, generator) for m in self.members])  # (M, N)
        log_w = self.weights.double().log()[:, None]
        return -torch.logsumexp(log_w - per_member, dim=0)


def normalised(weights: Sequence[float]) -> torch.Tensor:
    w = torch.as_tensor([float(v) for v in weights], dtype=torch.float64)
    if not len(w) or not torch.isfinite(w).all() or bool((w < 0).any()) or float(w.sum()) <= 0:
        raise ValueError(f"ensemble weights must be non-negative numbers with a positive sum, got {list(weights)}")
    return w / w.sum()


# -- files -----------------------------------------------------------------------------------
def write_ensemble(path: Path, members: Sequence[Member], mode: str = "mixture") -> Any:
    """Check the members open together (loading them), then write the file; the loaded ensemble."""
    path = Path(path)
    members = [Member(m.path.resolve(), m.weight, m.raw) for m in members]
    text = tomli_w.dumps({"format": FORMAT, "version": VERSION, "mode": mode, "members": [
        {"path": str(m.path), "weight": m.weight, "raw": m.raw} for m in members]})
    loaded = build_ensemble(members, mode, source=path)
    atomic_write_text(path, text)
    return loaded


def read_ensemble(path: Path) -> tuple[list[Member], str]:
    """(members, mode) of an ensemble file; CheckpointError names the file and the problem."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CheckpointError(f"{path}: cannot read the ensemble file ({exc})") from None
    if raw.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a Latent Studio ensemble (format must be {FORMAT!r})")
    if raw.get("version") != VERSION:
        raise CheckpointError(f"{path}: ensemble version {raw.get('version')!r} is not supported (expected {VERSION})")
    mode = raw.get("mode", "mixture")
    if mode not in MODES:
        raise CheckpointError(f"{path}: mode must be one of {', '.join(MODES)}, got {mode!r}")
    entries = raw.get("members")
    if not isinstance(entries, list) or not entries:
        raise CheckpointError(f"{path}: an ensemble needs a [[members]] list")
    members = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise CheckpointError(f"{path}: member {i} needs a path")
        weight, raw_weights = entry.get("weight", 1.0), entry.get("raw", False)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not isinstance(raw_weights, bool):
            raise CheckpointError(f"{path}: member {i}: weight must be a number and raw true or false")
        member_path = Path(entry["path"]).expanduser()
        members.append(Member(member_path if member_path.is_absolute() else path.parent / member_path,
                              float(weight), raw_weights))
    return members, mode


def load_ensemble(path: str | Path, device: str | torch.device = "cpu"):
    """An ensemble file as a LoadedModel (studio.core.train.checkpoint), like a checkpoint."""
    path = Path(path)
    members, mode = read_ensemble(path)
    return build_ensemble(members, mode, source=path, device=device)


def build_ensemble(members: Sequence[Member], mode: str, source: Path, device: str | torch.device = "cpu"):
    from studio.core.train.checkpoint import LoadedModel

    if mode not in MODES:
        raise CheckpointError(f"{source}: mode must be one of {', '.join(MODES)}, got {mode!r}")
    if not members:
        raise CheckpointError(f"{source}: an ensemble needs at least one member")
    loaded = [_load_member(m, device) for m in members]
    _check_compatible(loaded, mode)
    weights = [m.weight for m in members]
    try:
        normalised(weights)
        if mode == "weight-average":
            model = average_weights([x.model for x in loaded], weights)
        else:
            model = Ensemble([x.model for x in loaded], weights, mode, [m.label for m in members])
    except ValueError as exc:
        raise CheckpointError(f"{source}: {exc}") from None
    first = loaded[0]
    return LoadedModel(model.to(device).eval(), first.config, max(x.step for x in loaded), source,
                       first.class_names, first.dataset, {})


def _load_member(member: Member, device):
    from studio.core.train.checkpoint import load_checkpoint

    loaded = load_checkpoint(member.path, device)
    if member.raw:  # load_checkpoint put the EMA over the sampling module; put the raw weights back
        loaded.model.load_state_dict({k[6:]: v for k, v in loaded.tensors.items() if k.startswith("model.")})
    loaded.tensors = {}  # not needed: keep one copy of the weights
    return loaded


def _check_compatible(loaded: Sequence[Any], mode: str) -> None:
    first = loaded[0]
    for other in loaded[1:]:
        a, b = first.model, other.model
        if tuple(a.image_shape) != tuple(b.image_shape):
            raise CheckpointError(f"ensemble members disagree on the image shape: {first.path} makes "
                                  f"{tuple(a.image_shape)} images, {other.path} {tuple(b.image_shape)}")
        if a.num_classes != b.num_classes:
            raise CheckpointError(f"ensemble members disagree on the classes: {first.path} has "
                                  f"{a.num_classes or 'no'} classes, {other.path} {b.num_classes or 'no'}")
        if mode == "weight-average" and first.config.model != other.config.model:
            raise CheckpointError(f"a weight average needs one architecture: {first.path} is "
                                  f"{_describe(first.config.model)}, {other.path} {_describe(other.config.model)}")
        if mode == "pixel-average" and a.latent_shape != b.latent_shape:
            raise CheckpointError(f"a pixel average needs one latent space: {first.path} has latent "
                                  f"{a.latent_shape}, {other.path} {b.latent_shape}")
    if any(getattr(x.model, "is_upscaler", False) for x in loaded):
        raise CheckpointError(f"{next(x.path for x in loaded if x.model.is_upscaler)}: an upscaler cannot be "
                              "an ensemble member")


def _describe(section: Any) -> str:
    from dataclasses import asdict

    return ", ".join(f"{k}={v}" for k, v in asdict(section).items())


def average_weights(models: Sequence[nn.Module], weights: Sequence[float]) -> nn.Module:
    """The first model with every floating tensor replaced by Σ_m w_m θ_m (SWA, Izmailov et al.
    2018, eq. 2, weighted); integer buffers (batch-norm step counts) keep the first's."""
    w = normalised(weights).tolist()
    states = [m.state_dict() for m in models]
    averaged = {}
    for key, tensor in states[0].items():
        if tensor.is_floating_point():
            averaged[key] = sum(wi * s[key].double() for wi, s in zip(w, states, strict=True)).to(tensor.dtype)
        else:
            averaged[key] = tensor
    model = models[0]
    model.load_state_dict(averaged)
    return model

