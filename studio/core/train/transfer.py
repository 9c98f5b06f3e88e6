"""Starting a run from another run's weights (``train.init_from``) and freezing parameters.

This is fine-tuning, not resume: every tensor whose name and shape match is copied
from the checkpoint's ``model.*`` weights (the raw, not the EMA, weights: they are the
ones the optimiser moved), the rest keep their fresh initialisation, the optimisers
start empty and the step count starts at 0. A class-dependent layer of another class
count has another shape, so it is re-initialised and said so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from studio.core.config import ConfigError


@dataclass
class InitReport:
    source: Path
    loaded: list[str] = field(default_factory=list)
    skipped: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)  # name, theirs, ours
    reinitialised: list[str] = field(default_factory=list)  # ours, absent from the checkpoint
    unused: list[str] = field(default_factory=list)  # theirs, absent from this model

    def lines(self) -> list[str]:
        out = [f"Started from {self.source}: loaded {len(self.loaded)} tensors"]
        if self.skipped:
            shown = ", ".join(f"{n} {tuple(a)}→{tuple(b)}" for n, a, b in self.skipped[:6])
            out.append(f"skipped {len(self.skipped)} of another shape (re-initialised): {shown}"
                       + (" …" if len(self.skipped) > 6 else ""))
        if self.reinitialised:
            out.append(f"re-initialised {len(self.reinitialised)} not in the checkpoint: "
                       + ", ".join(self.reinitialised[:6]) + (" …" if len(self.reinitialised) > 6 else ""))
        if self.unused:
            out.append(f"ignored {len(self.unused)} of the checkpoint's tensors this model does not have")
        return out

    def frozen_fresh_lines(self, frozen: list[str]) -> list[str]:
        """A warning when frozen tensors were not loaded (another shape, e.g. a class-count
        dependent layer): they would stay at their random initialisation."""
        fresh = {n for n, _, _ in self.skipped} | set(self.reinitialised)
        hit = [n for n in frozen if n in fresh]
        if not hit:
            return []
        return [f"Warning: {len(hit)} frozen tensors were not loaded and stay at their random initialisation: "
                + ", ".join(hit[:6]) + (" …" if len(hit) > 6 else "")]


def init_from_checkpoint(model: nn.Module, target: str | Path) -> InitReport:
    """Copy the matching ``model.*`` tensors of a run or checkpoint into ``model``."""
    from studio.core.train.checkpoint import read_checkpoint_tensors, resolve_checkpoint

    path = resolve_checkpoint(target)
    theirs = {k[6:]: v for k, v in read_checkpoint_tensors(path).items() if k.startswith("model.")}
    report = InitReport(path)
    ours = model.state_dict()
    matched: dict[str, torch.Tensor] = {}
    for name, tensor in ours.items():
        if name not in theirs:
            report.reinitialised.append(name)
        elif tuple(theirs[name].shape) != tuple(tensor.shape):
            report.skipped.append((name, tuple(theirs[name].shape), tuple(tensor.shape)))
        else:
            matched[name] = theirs[name]
            report.loaded.append(name)
    report.unused = [n for n in theirs if n not in ours]
    model.load_state_dict(matched, strict=False)
    return report


def _under(name: str, prefix: str) -> bool:
    """``generator.fc`` covers ``generator.fc.0.weight`` but not ``generator.fc2.weight``."""
    prefix = prefix.rstrip(".")
    return name == prefix or name.startswith(prefix + ".")


def freeze(model: nn.Module, prefixes: tuple[str, ...]) -> list[str]:
    """Turn off the gradients of every parameter whose name starts with one of ``prefixes``.

    Returns the frozen names; a prefix that matches nothing is an error naming it.
    """
    names = [n for n, _ in model.named_parameters()]
    frozen: list[str] = []
    for prefix in prefixes:
        hits = [n for n in names if _under(n, prefix)]
        if not hits:
            tops = sorted({n.split(".")[0] for n in names})
            raise ConfigError(f"train.freeze: no parameter starts with {prefix!r}; the model's parameters start "
                              f"with {', '.join(tops)} (e.g. {names[0] if names else '-'})")
        frozen += [n for n in hits if n not in frozen]
    params = dict(model.named_parameters())
    for name in frozen:
        params[name].requires_grad_(False)
    return frozen
