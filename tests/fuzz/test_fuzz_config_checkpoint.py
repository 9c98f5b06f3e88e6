"""Fuzzing the files a user hands the studio besides data: TOML configs and checkpoints.

- configs: TOML written from random tables over the real section and field names (values
  of every TOML type, huge, NaN, nested), then sometimes damaged as text (cut, a BOM,
  junk, deep nesting, bytes that are not UTF-8), read by ``load_config``;
- checkpoints: a real (tiny) checkpoint whose safetensors header is rewritten (the length
  prefix, tensor dtypes/shapes/offsets, every metadata value: the embedded config, step,
  image shape, class count and names) or whose bytes are cut or flipped, read by
  ``load_checkpoint``; and the run's ``manifest.json``, read by ``resolve_checkpoint``.

The property: the studio works (a config that round-trips through TOML; a model that
samples) or raises one of its own user errors (``USER_ERRORS``) whose text encodes,
within the time and memory bounds of ``fuzzing.works_or_user_error``. A checkpoint
claiming a huge model must be refused before that model is allocated.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import tomli_w
from fuzzing import FUZZ, assert_valid_text, works_or_user_error
from hypothesis import given
from hypothesis import strategies as st

from studio.core.config import Config, DataConfig, TrainConfig, config_from_toml, load_config
from studio.core.errors import USER_ERRORS
from studio.core.families.gan import GANConfig
from studio.core.families.vae import VAEConfig
from studio.core.fields import field_specs
from studio.core.models import build_model
from studio.core.train.checkpoint import checkpoint_bytes, load_checkpoint, resolve_checkpoint

FIELDS = {
    "data": [*field_specs(DataConfig), "augment"],
    "model": ["family", *field_specs(GANConfig), *field_specs(VAEConfig)],
    "train": list(field_specs(TrainConfig)),
}
FAMILIES = ["cgan", "gan", "vae", "cvae", "pixelcnn", "ddpm", "flow", ""]

scalars = (
    st.integers(-(2**63), 2**63 - 1)
    | st.integers(-3, 300)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.booleans()
    | st.text(max_size=12)
    | st.sampled_from(FAMILIES + ["mnist-5k", "/no/such/folder", "adam", "1,2,2", "dcgan", "mlp"])
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)


@st.composite
def config_tables(draw: st.DrawFn) -> dict:
    table: dict = {}
    for section in draw(st.lists(st.sampled_from([*FIELDS, "optim", "augment"]), unique=True, max_size=4)):
        keys = FIELDS.get(section, []) + ["foo"]
        body = {draw(st.sampled_from(keys)): draw(values) for _ in range(draw(st.integers(0, 4)))}
        table[section] = body if draw(st.integers(0, 9)) else draw(values)  # sometimes not a table at all
    if "model" in table and isinstance(table["model"], dict) and draw(st.booleans()):
        table["model"]["family"] = draw(st.sampled_from(FAMILIES))
    return table


@st.composite
def config_files(draw: st.DrawFn) -> bytes:
    text = tomli_w.dumps(draw(config_tables()))
    kind = draw(st.sampled_from(["plain", "plain", "bom", "cut", "junk", "deep", "bytes"]))
    if kind == "bom":
        text = "\ufeff" + text
    elif kind == "cut":
        text = text[: draw(st.integers(0, len(text)))]
    elif kind == "junk":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.text(max_size=8)) + text[at:]
    elif kind == "deep":
        depth = draw(st.integers(10, 3000))
        text += f"\n[extra]\nx = {'[' * depth}{']' * depth}\n"
    elif kind == "bytes":
        return text.encode("utf-8") + draw(st.binary(min_size=1, max_size=8))
    return text.encode("utf-8")


@given(config_files())
@FUZZ
def test_configs_work_or_are_refused_by_name(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.toml"
        path.write_bytes(data)
        result = works_or_user_error(lambda: load_config(path), USER_ERRORS)
    if isinstance(result, Exception):
        assert_valid_text(str(result))
        assert "\n" not in str(result).strip()
        return
    assert isinstance(result, Config)
    assert config_from_toml(result.to_toml()) == result.validate()


# -- checkpoints ---------------------------------------------------------------------------
def _tiny_checkpoint() -> bytes:
    from studio.core.presets import preset

    config = preset("cgan").with_overrides(model={"width": 4, "latent_dim": 4})
    model = build_model(config, (1, 8, 8), 10)
    return checkpoint_bytes(model, config, 3, [str(i) for i in range(10)], "mnist-5k")


BASE = _tiny_checkpoint()


def _warm_up() -> None:
    """What the first load imports lazily happens here, not inside a timed, traced example."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "base.safetensors").write_bytes(BASE)
        load_checkpoint(Path(tmp) / "base.safetensors").model.sample(2)


_warm_up()
BASE_LEN = int.from_bytes(BASE[:8], "little")
BASE_HEADER = json.loads(BASE[8 : 8 + BASE_LEN])
BASE_CONFIG = BASE_HEADER["__metadata__"]["config"]
METADATA_VALUES = {
    "step": st.sampled_from(["3", "-1", "0", "abc", "1e30", "9" * 40, ""]),
    "image_shape": st.sampled_from(["1,8,8", "1,28,28", "1,4096,4096", "3,8,8", "0,0,0", "-1,8,8", "1,8", "8",
                                    "1,8,8,8", "a,b,c", "1000000,8,8"]),
    "num_classes": st.sampled_from(["10", "0", "-3", "1", "1000000000", "x"]),
    "class_names": st.sampled_from(["null", "[]", '["a"]', "{", "1", '{"a": 1}', '["\\ud800"]']),
    "format": st.sampled_from(["latent-studio-checkpoint", "other", ""]),
    "version": st.sampled_from(["1", "2", ""]),
    "dataset": st.text(max_size=8),
    "config": st.sampled_from([
        BASE_CONFIG,
        BASE_CONFIG.replace("width = 4", "width = 1024"),
        BASE_CONFIG.replace("latent_dim = 4", "latent_dim = 1024"),
        BASE_CONFIG.replace('family = "cgan"', 'family = "vae"'),
        BASE_CONFIG.replace('family = "cgan"', 'family = "nope"'),
        "", "not toml [", "x = " + "[" * 2000 + "]" * 2000,
    ]),
}


@st.composite
def checkpoint_files(draw: st.DrawFn) -> bytes:
    header = json.loads(json.dumps(BASE_HEADER))
    payload = BASE[8 + BASE_LEN :]
    kind = draw(st.sampled_from(["metadata", "metadata", "metadata", "tensor", "length", "cut", "flip", "junk"]))
    if kind == "metadata":
        meta = header["__metadata__"]
        for key in draw(st.lists(st.sampled_from(sorted(METADATA_VALUES)), min_size=1, max_size=3, unique=True)):
            if draw(st.integers(0, 9)) == 0:
                meta.pop(key)
            else:
                meta[key] = draw(METADATA_VALUES[key])
    elif kind == "tensor":
        name = draw(st.sampled_from(sorted(k for k in header if k != "__metadata__")))
        entry = header[name]
        field = draw(st.sampled_from(["dtype", "shape", "data_offsets"]))
        if field == "dtype":
            entry["dtype"] = draw(st.sampled_from(["F16", "BF16", "I64", "U8", "BOOL", "F64", "X9", ""]))
        elif field == "shape":
            entry["shape"] = draw(st.lists(st.integers(0, 2**40) | st.integers(0, 5), max_size=4))
        else:
            entry["data_offsets"] = draw(st.lists(st.integers(0, 2**62) | st.integers(0, len(payload)), max_size=3))
    raw = json.dumps(header).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    length = len(raw)
    if kind == "length":
        length = draw(st.integers(0, 2**64 - 1) | st.integers(0, len(raw) + 16))
    data = length.to_bytes(8, "little") + raw + payload
    if kind == "cut":
        data = data[: draw(st.integers(0, len(data)))]
    elif kind == "flip":
        data = bytearray(data)
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
        data = bytes(data)
    elif kind == "junk":
        data = draw(st.binary(max_size=64))
    return data


@given(checkpoint_files())
@FUZZ
def test_checkpoints_open_or_are_refused_by_name(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.safetensors"
        path.write_bytes(data)
        result = works_or_user_error(lambda: load_checkpoint(path), USER_ERRORS)
    if isinstance(result, Exception):
        assert_valid_text(str(result))
        assert str(path) in str(result) or "embedded config" in str(result)
        return
    images = result.model.sample(2)
    assert images.shape[0] == 2 and math.isfinite(float(images.sum()))


manifests = st.one_of(
    st.binary(max_size=64),
    st.dictionaries(st.sampled_from(["format", "version", "step", "weights", "state"]),
                    values | st.sampled_from(["latent-studio-checkpoints", "step-3.safetensors", "step-3.state.pt",
                                              "../../etc/passwd", "last.safetensors"]), max_size=5)
    .map(lambda d: json.dumps(d).encode()),
)


@given(manifests, st.booleans())
@FUZZ
def test_manifests_resolve_or_are_refused_by_name(data: bytes, with_weights: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        (run / "checkpoints").mkdir(parents=True)
        (run / "checkpoints" / "manifest.json").write_bytes(data)
        if with_weights:
            (run / "checkpoints" / "step-3.safetensors").write_bytes(BASE)
        result = works_or_user_error(lambda: resolve_checkpoint(run), USER_ERRORS)
    if isinstance(result, Exception):
        assert_valid_text(str(result))
        return
    assert result.parent == run / "checkpoints" and result.name == "step-3.safetensors"
