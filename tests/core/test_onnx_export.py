"""ONNX export of tiny models: onnxruntime agrees with torch, batches are dynamic, the
metadata carries the config; a missing extra is one line naming it."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from studio.core.config import config_from_toml
from studio.core.errors import StudioError
from studio.core.presets import PRESETS, preset
from studio.core.train.checkpoint import load_checkpoint, save_checkpoint

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from studio.core import onnx_export  # noqa: E402

# Families whose models offer an export (the others join as they gain onnx_module()).
LATENT = ["gan", "cgan", "vae", "cvae", "vae-mlp"]
OTHERS = [name for name in ("ddpm", "cddpm", "pixelcnn", "cpixelcnn", "espcn-x2") if name in PRESETS]
TINY = {"width": 8, "channels": 8, "layers": 2, "res_blocks": 1}


def tiny_checkpoint(path, name, **model):
    """A checkpoint of the preset's model at a tiny size, weights perturbed from the seed
    (some networks start with zeroed output layers: a check against zeros proves nothing)."""
    from studio.core.models import build_model

    base = preset(name)
    fields = set(type(base.model).__dataclass_fields__)
    config = base.with_overrides(model={**{k: v for k, v in TINY.items() if k in fields}, **model})
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(0)
        model = build_model(config, (1, 28, 28), 10)
        for p in model.parameters():
            p.add_(torch.randn(p.shape) * 0.05)
    save_checkpoint(path, model, config, 7, [str(i) for i in range(10)], "mnist-5k")
    return path


@pytest.mark.parametrize("name", LATENT)
def test_latent_models_export_their_decoder_and_round_trip(tmp_path, name):
    ckpt = tiny_checkpoint(tmp_path / "m.safetensors", name)
    report = onnx_export.export_onnx(ckpt, tmp_path / "m.onnx")
    print("\n".join(report.lines()))
    assert report.max_abs_diff <= report.tolerance == onnx_export.TOLERANCE
    loaded = load_checkpoint(ckpt)
    model = loaded.model
    conditional = model.conditional
    assert report.inputs == (("z", "labels") if conditional else ("z",)) and report.outputs == ("image",)
    proto = onnx.load(str(tmp_path / "m.onnx"))
    meta = {p.key: p.value for p in proto.metadata_props}
    assert config_from_toml(meta["config"]) == loaded.config
    assert meta["image_shape"] == "1,28,28" and meta["family"] == model.family and meta["step"] == "7"
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # a named, dynamic batch
    # The file on its own, at a batch it was not exported at, against the model's own sampler.
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    z = torch.randn(4, *model.latent_shape, generator=torch.Generator().manual_seed(5))
    labels = torch.tensor([3, 1, 4, 1])
    feeds = {"z": z.numpy(), **({"labels": labels.numpy()} if conditional else {})}
    (image,) = session.run(None, feeds)
    expected = model.sample(4, labels if conditional else None, z=z).numpy()
    assert image.shape == (4, 1, 28, 28) and np.abs(image - expected).max() < 1e-4


@pytest.mark.parametrize("name", OTHERS)
def test_other_families_export_what_they_offer(tmp_path, name):
    ckpt = tiny_checkpoint(tmp_path / "m.safetensors", name)
    if not hasattr(load_checkpoint(ckpt).model, "onnx_module"):
        with pytest.raises(StudioError, match="offers no onnx_module"):
            onnx_export.export_onnx(ckpt, tmp_path / "m.onnx")
        pytest.skip(f"the {name} model offers no onnx_module() yet")
    report = onnx_export.export_onnx(ckpt, tmp_path / "m.onnx")
    print("\n".join(report.lines()))
    assert report.max_abs_diff <= report.tolerance
    meta = {p.key: p.value for p in onnx.load(str(tmp_path / "m.onnx")).metadata_props}
    assert meta["usage"] and meta["image_shape"] == "1,28,28"


@pytest.mark.skipif("ddpm" not in PRESETS, reason="no diffusion family")
def test_a_v_predicting_diffusion_model_exports_eps(tmp_path):
    ckpt = tiny_checkpoint(tmp_path / "m.safetensors", "ddpm", prediction="v")
    model = load_checkpoint(ckpt).model
    if not hasattr(model, "onnx_module"):
        pytest.skip("the diffusion model offers no onnx_module() yet")
    report = onnx_export.export_onnx(ckpt, tmp_path / "m.onnx")
    assert report.outputs == ("eps",) and report.max_abs_diff <= report.tolerance
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    x_t, t = torch.randn(3, 1, 28, 28), torch.tensor([5, 500, 990])
    (eps,) = session.run(None, {"x_t": x_t.numpy(), "t": t.numpy()})
    with torch.no_grad():
        v = model.unet(x_t, t, None)
    a, s = model.process.coefficients(t, 4)
    # The same x_0 either way: (x_t - √(1-ᾱ) ε) / √ᾱ from the export, √ᾱ x_t - √(1-ᾱ) v from the network.
    assert torch.allclose((x_t - s * torch.from_numpy(eps)) / a, a * x_t - s * v, atol=1e-3)


def test_a_mismatch_fails_and_writes_nothing(tmp_path, monkeypatch):
    ckpt = tiny_checkpoint(tmp_path / "m.safetensors", "cgan")
    monkeypatch.setattr(onnx_export, "TOLERANCE", -1.0)
    with pytest.raises(onnx_export.OnnxMismatch, match="nothing was written"):
        onnx_export.export_onnx(ckpt, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_a_model_without_an_export_is_refused():
    from studio.core.models.base import GenerativeModel, SampleOption

    class Sampler(GenerativeModel):
        family = "toy"
        latent_shape = (4,)
        sample_options = {"steps": SampleOption(10, 1, 100, "Steps", integer=True)}

    with pytest.raises(StudioError, match="the toy model cannot be exported to ONNX yet"):
        onnx_export.graph_for(Sampler((1, 8, 8), None))


def test_without_the_extra_the_error_names_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(StudioError, match=r"\(onnxruntime missing\): pip install 'latent-studio\[onnx\]'"):
        onnx_export.export_onnx(tmp_path / "nothing.safetensors", tmp_path / "m.onnx")


def cli(*args, block=None):
    code = "import sys\n"
    if block:
        code += f"sys.modules[{block!r}] = None\n"
    code += "from studio.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, timeout=300)


def test_cli_export(tmp_path):
    tiny_checkpoint(tmp_path / "run" / "checkpoints" / "last.safetensors", "cvae")
    result = cli("export", tmp_path / "run", "--format", "onnx", "--out", tmp_path / "cvae.onnx")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "cvae: decoder (z, labels) -> image"
    assert lines[1].startswith("max |onnxruntime - torch| = ") and "over batches 1, 3, 7 (tolerance 0.0001)" in lines[1]
    assert lines[2].startswith(f"Wrote {tmp_path / 'cvae.onnx'} (") and (tmp_path / "cvae.onnx").exists()
    for args, block, message in [
        (["--out", tmp_path / "x.txt"], None, "error: --out must end in .onnx"),
        (["--out", tmp_path / "x.onnx"], "onnxruntime",
         "error: ONNX export needs the onnx extra (onnxruntime missing): pip install 'latent-studio[onnx]'"),
    ]:
        result = cli("export", tmp_path / "run", *args, block=block)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith(f"latent-studio export: {message}")
