"""ONNX export: the network a deployment needs, in eval mode, checked with onnxruntime.

What is exported follows the model, never its family name:

- a model that offers ``onnx_module() -> OnnxGraph`` exports what it returns: the
  network (GAN, VAE: the generator / decoder ``(z[, labels]) -> image``; a diffusion
  model its denoiser ``(x_t, t[, labels]) -> eps`` with the sampler written into the
  metadata; a PixelCNN its logits network; an upscaler ``image -> image``);
- a latent model without the hook whose ``decode`` is one network pass (it declares no
  ``sample_options``, which would mean a multi-step sampler) exports ``decode`` as
  ``(z[, labels]) -> image`` in [0, 1];
- anything else is refused, naming the missing hook.

Exporter: ``torch.onnx.export(..., dynamo=True)``, PyTorch's current exporter (torch.export
then onnxscript; the TorchScript exporter is deprecated). It exports every family here, so
there is no fallback. The batch dimension (dim 0 of every input and output) is dynamic,
and so are any axes the graph names in ``dynamic_axes`` (an upscaler's height and width).

Check: onnxruntime (CPU) runs the exported file on random inputs at several batch sizes
and compares with torch; the largest absolute difference, relative to the largest torch
output magnitude when that exceeds 1, must stay under ``TOLERANCE`` or the export fails
and nothing is written.

Metadata (the ONNX model's metadata_props): ``format``, ``config`` (the run's TOML),
``image_shape`` ("C,H,W"), ``family``, ``step``, ``num_classes``, ``class_names`` (JSON),
``inputs``/``outputs`` (names), ``usage`` (how to use the network), plus the graph's own
(e.g. a diffusion model's noise schedule).

Optional: ``pip install 'latent-studio[onnx]'`` (onnx, onnxruntime, onnxscript).
"""

from __future__ import annotations

import json
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from studio.core.errors import StudioError

INSTALL_HINT = "pip install 'latent-studio[onnx]'"
FORMAT = "latent-studio-onnx"
TOLERANCE = 1e-4  # max |onnxruntime - torch| / max(1, max |torch|)
CHECK_BATCHES = (1, 3, 7)  # the example for the export has batch 2: these prove the batch is dynamic
EXPORTER = "torch.onnx.export(dynamo=True)"


class OnnxMismatch(StudioError):
    """onnxruntime's outputs differ from torch's by more than the tolerance."""


@dataclass
class OnnxGraph:
    """What a model's ``onnx_module()`` returns: the network to export and how to feed it.

    ``module``: an nn.Module (put in eval mode by the exporter) taking the inputs in order.
    ``make_inputs(n, generator)``: random inputs of batch n on the CPU, as a tuple (the
    export's example and the check's inputs; floats ~ N(0, 1), indices in their range).
    ``dynamic_axes``: extra dynamic axes by input/output name, e.g. {"image": {2: "height"}};
    dim 0 ("batch") of every input and output is always dynamic.
    ``usage``: what the network computes and how to sample with it, for a person.
    ``metadata``: extra metadata_props (plain strings).
    """

    module: nn.Module
    make_inputs: Callable[[int, torch.Generator], tuple[torch.Tensor, ...]]
    input_names: tuple[str, ...]
    output_names: tuple[str, ...] = ("image",)
    what: str = ""  # one line, e.g. "generator (z, labels) -> image"
    usage: str = ""
    dynamic_axes: dict[str, dict[int, str]] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class ExportReport:
    path: Path
    family: str
    what: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    opset: int
    max_abs_diff: float
    tolerance: float  # the absolute tolerance applied (TOLERANCE scaled by the outputs' magnitude)
    batches: tuple[int, ...]
    size_bytes: int
    seconds: float
    exporter: str = EXPORTER
    metadata: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        batches = ", ".join(map(str, self.batches))
        return [
            f"{self.family}: {self.what}",
            f"max |onnxruntime - torch| = {self.max_abs_diff:.3g} over batches {batches} "
            f"(tolerance {self.tolerance:.3g})",
            f"Wrote {self.path} ({self.size_bytes / 1024:,.0f} KiB, opset {self.opset}, {self.exporter})",
        ]


def require_onnx() -> tuple[Any, Any]:
    """(onnx, onnxruntime); StudioError naming the extra when any of the three is missing."""
    missing = []
    modules = {}
    for name in ("onnx", "onnxruntime", "onnxscript"):
        try:
            modules[name] = __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise StudioError(f"ONNX export needs the onnx extra ({', '.join(missing)} missing): {INSTALL_HINT}")
    return modules["onnx"], modules["onnxruntime"]


# -- what to export ---------------------------------------------------------------------------
class Images01(nn.Module):
    """``owner.<method>(z[, labels])``'s images in [-1, 1] as [0, 1] (``owner`` is registered,
    so its weights are the graph's; those the method does not use are left out)."""

    def __init__(self, owner: nn.Module, conditional: bool, method: str = "forward"):
        super().__init__()
        self.owner = owner
        self.conditional = conditional
        self.method = method

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return getattr(self.owner, self.method)(z, labels if self.conditional else None).add(1).div(2)


def latent_graph(model: Any, net: nn.Module, what: str, extra_usage: str = "") -> OnnxGraph:
    """The graph of a one-pass latent model: ``net(z[, labels])`` -> image in [0, 1]."""
    latent, k = tuple(model.latent_shape), model.num_classes

    def make_inputs(n: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        z = torch.randn(n, *latent, generator=generator)
        return (z, torch.randint(k, (n,), generator=generator)) if k else (z,)

    names = ("z", "labels") if k else ("z",)
    usage = (f"image = network(z{', labels' if k else ''}): (N, {', '.join(map(str, model.image_shape))}) in [0, 1]; "
             f"z ~ N(0, I) of shape (N, {', '.join(map(str, latent))})"
             + (f"; labels: int64 (N,) class indices 0..{k - 1}" if k else "") + extra_usage)
    return OnnxGraph(net, make_inputs, names, ("image",), f"{what} ({', '.join(names)}) -> image", usage)


def graph_for(model: Any) -> OnnxGraph:
    """The model's own ``onnx_module()``, else its one-pass ``decode`` (see the module doc)."""
    hook = getattr(model, "onnx_module", None)
    if callable(hook):
        return hook()
    if model.latent_shape is not None and not model.sample_options:
        return latent_graph(model, Images01(model, model.conditional, "decode"), "decode")
    raise StudioError(f"the {model.family} model cannot be exported to ONNX yet: it offers no onnx_module() "
                      "(see studio/core/models/base.py) and is not a one-pass latent decoder")


# -- export and check ---------------------------------------------------------------------------
def export_onnx(checkpoint: str | Path, out_path: str | Path, *, batches: tuple[int, ...] = CHECK_BATCHES,
                seed: int = 0) -> ExportReport:
    """Export a run's (or checkpoint's) deployable network to ``out_path`` and check it with
    onnxruntime. StudioError for a missing extra, a bad checkpoint, a model without an export,
    or a mismatch (then nothing is written)."""
    onnx, ort = require_onnx()
    from studio.core.fileio import atomic_write_bytes
    from studio.core.train.checkpoint import load_checkpoint

    started = time.perf_counter()
    out_path = Path(out_path)
    loaded = load_checkpoint(checkpoint, device="cpu")
    model = loaded.model.eval()
    graph = graph_for(model)
    module = graph.module.eval()
    generator = torch.Generator().manual_seed(seed)
    example = graph.make_inputs(2, generator)
    batch = torch.export.Dim("batch", min=1)
    dims: dict[str, dict[int, Any]] = {name: {0: batch} for name in graph.input_names}
    for name, axes in graph.dynamic_axes.items():
        if name in dims:
            dims[name].update({axis: torch.export.Dim(label, min=1) for axis, label in axes.items()})
    with tempfile.TemporaryDirectory(prefix="latent-studio-onnx-") as tmp:
        raw = Path(tmp) / "model.onnx"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the exporter's advice about axis names and the like
                torch.onnx.export(module, example, str(raw), dynamo=True, input_names=list(graph.input_names),
                                  output_names=list(graph.output_names),
                                  dynamic_shapes=tuple(dims[name] for name in graph.input_names),
                                  external_data=False, verbose=False)
        except Exception as exc:  # noqa: BLE001 - any exporter failure is reported as one line
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise StudioError(f"{loaded.path}: the ONNX exporter failed on the {model.family} model "
                              f"({type(exc).__name__}: {first[:300]})") from None
        proto = onnx.load(str(raw))
    metadata = _metadata(loaded, graph)
    onnx.helper.set_model_props(proto, metadata)
    proto.doc_string = graph.usage
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    diff, tolerance = _check(ort, data, module, graph, batches, generator)
    if diff > tolerance:
        raise OnnxMismatch(f"{loaded.path}: onnxruntime differs from torch by {diff:.3g} (tolerance {tolerance:.3g}); "
                           f"nothing was written to {out_path}")
    atomic_write_bytes(out_path, data)
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)
    return ExportReport(out_path, model.family, graph.what, graph.input_names, graph.output_names, opset, diff,
                        tolerance, tuple(batches), len(data), time.perf_counter() - started, metadata=metadata)


def _metadata(loaded: Any, graph: OnnxGraph) -> dict[str, str]:
    model = loaded.model
    meta = {
        "format": FORMAT,
        "config": loaded.config.to_toml(),
        "image_shape": ",".join(map(str, model.image_shape)),
        "family": model.family,
        "step": str(loaded.step),
        "num_classes": str(model.num_classes or 0),
        "class_names": json.dumps(loaded.class_names),
        "dataset": loaded.dataset,
        "inputs": ",".join(graph.input_names),
        "outputs": ",".join(graph.output_names),
        "usage": graph.usage,
        "exporter": EXPORTER,
    }
    meta.update({k: str(v) for k, v in graph.metadata.items()})
    return meta


@torch.no_grad()
def _check(ort: Any, data: bytes, module: nn.Module, graph: OnnxGraph, batches: tuple[int, ...],
           generator: torch.Generator) -> tuple[float, float]:
    """(largest |onnxruntime - torch| over every output and batch, the absolute tolerance)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, torch.get_num_threads())
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    device = next((p.device for p in module.parameters()), torch.device("cpu"))
    worst, scale = 0.0, 1.0
    for n in batches:
        inputs = graph.make_inputs(n, generator)
        expected = module(*(x.to(device) for x in inputs))
        expected = expected if isinstance(expected, (tuple, list)) else (expected,)
        got = session.run(list(graph.output_names), {k: x.cpu().numpy() for k, x in zip(graph.input_names, inputs, strict=True)})
        for want, have in zip(expected, got, strict=True):
            want = want.detach().float().cpu()
            if tuple(have.shape) != tuple(want.shape):
                raise OnnxMismatch(f"onnxruntime gave shape {tuple(have.shape)} for batch {n}, torch {tuple(want.shape)}")
            worst = max(worst, float((torch.from_numpy(have).float() - want).abs().max()))
            scale = max(scale, float(want.abs().max()))
    return worst, TOLERANCE * scale
