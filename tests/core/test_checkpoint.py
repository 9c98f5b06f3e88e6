"""Checkpoints round-trip, and every bad file is refused by name without running code."""

import pickle

import pytest
import torch
from safetensors.torch import save_file

from studio.core.errors import CheckpointError
from studio.core.train.checkpoint import load_checkpoint, load_state
from studio.core.train.trainer import Trainer


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    from studio.core.presets import preset

    config = preset("cgan").with_overrides(
        model={"width": 8}, train={"steps": 3, "batch_size": 8, "sample_every": 3, "threads": 1}
    )
    path = tmp_path_factory.mktemp("ckpt") / "run"
    list(Trainer(config, path).steps())
    return path


class Exploit:
    """Unpickling this would create a marker file: it must never happen."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_round_trip_gives_the_same_samples(trained_run):
    a = load_checkpoint(trained_run)
    b = load_checkpoint(trained_run / "checkpoints" / "last.safetensors")
    assert a.class_names == [str(i) for i in range(10)] and a.dataset == "mnist-5k"
    z = torch.randn(4, a.model.latent_dim)
    assert torch.equal(a.model.sample(4, z=z, labels=3), b.model.sample(4, z=z, labels=3))


def test_random_bytes_are_refused_by_name(tmp_path):
    bad = tmp_path / "noise.safetensors"
    bad.write_bytes(torch.randint(0, 256, (4096,), dtype=torch.uint8).numpy().tobytes())
    with pytest.raises(CheckpointError, match="noise.safetensors"):
        load_checkpoint(bad)


def test_truncated_checkpoint_is_refused(tmp_path, trained_run):
    data = (trained_run / "checkpoints" / "last.safetensors").read_bytes()
    bad = tmp_path / "half.safetensors"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="half.safetensors"):
        load_checkpoint(bad)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_pickle_is_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"
    for name in ("evil.safetensors", "evil.pt"):
        (tmp_path / name).write_bytes(pickle.dumps(Exploit(marker)))
    with pytest.raises(CheckpointError, match="evil.safetensors"):
        load_checkpoint(tmp_path / "evil.safetensors")
    with pytest.raises(CheckpointError, match="evil.pt"):
        load_state(tmp_path / "evil.pt")
    assert not marker.exists()


def test_foreign_safetensors_is_refused(tmp_path):
    foreign = tmp_path / "other.safetensors"
    save_file({"weight": torch.zeros(3, 3)}, foreign)
    with pytest.raises(CheckpointError, match="other.safetensors.*not a Latent Studio checkpoint"):
        load_checkpoint(foreign)


def test_weights_from_another_model_are_refused(tmp_path, trained_run):
    from safetensors import safe_open

    source = trained_run / "checkpoints" / "last.safetensors"
    with safe_open(source, "pt") as handle:
        metadata = handle.metadata()
    # Our metadata, but the weights of some other network.
    mixed = tmp_path / "mixed.safetensors"
    save_file({"model.generator.fc.0.weight": torch.zeros(2, 2)}, mixed, metadata=metadata)
    with pytest.raises(CheckpointError, match="mixed.safetensors.*do not match"):
        load_checkpoint(mixed)


def test_missing_target_and_empty_run_dir(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "absent")
    with pytest.raises(CheckpointError, match="no checkpoint yet"):
        load_checkpoint(tmp_path)


def test_metadata_claiming_a_huge_model_is_refused_before_it_is_built(tmp_path, trained_run):
    import json
    import time

    data = (trained_run / "checkpoints" / "last.safetensors").read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    header["__metadata__"]["image_shape"] = "1,4096,4096"  # a DCGAN for it would take terabytes
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    bomb = tmp_path / "bomb.safetensors"
    bomb.write_bytes(len(raw).to_bytes(8, "little") + raw + data[8 + n :])
    started = time.monotonic()
    with pytest.raises(CheckpointError, match="bomb.safetensors: its metadata describes a model of more than"):
        load_checkpoint(bomb)
    assert time.monotonic() - started < 5
