"""The CLI end to end, in subprocesses, as a person would run it."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from studio.core.config import save_config
from studio.core.presets import preset


def cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "studio.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300
    )


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    config = preset("cgan").with_overrides(
        model={"width": 8}, train={"steps": 4, "batch_size": 8, "sample_every": 2, "log_every": 1, "threads": 1}
    )
    save_config(config, tmp / "tiny.toml")
    result = cli("train", "--config", tmp / "tiny.toml", "--out", tmp / "run", "--seed", 3)
    assert result.returncode == 0, result.stderr
    return tmp / "run", result


def test_train_shows_progress_and_writes_the_run(cgan_run):
    run, result = cgan_run
    assert "Finished at step 4" in result.stdout and "img/s" in result.stderr
    assert (run / "checkpoints" / "last.safetensors").exists()
    assert "seed = 3" in (run / "config.toml").read_text()


def test_sample_npz_holds_uint8_images_and_int64_labels(cgan_run, tmp_path):
    run, _ = cgan_run
    result = cli("sample", run, "--n", 12, "--labels", "all", "--out", tmp_path / "s.npz")
    assert result.returncode == 0, result.stderr
    with np.load(tmp_path / "s.npz") as data:
        assert data["images"].shape == (12, 28, 28) and data["images"].dtype == np.uint8
        assert data["labels"].dtype == np.int64 and list(data["labels"][:11]) == [*range(10), 0]
    result = cli("sample", run, "--n", 5, "--label", 7, "--out", tmp_path / "seven.npz")
    with np.load(tmp_path / "seven.npz") as data:
        assert list(data["labels"]) == [7] * 5


def test_sample_png_is_a_grid(cgan_run, tmp_path):
    run, _ = cgan_run
    assert cli("sample", run, "--n", 9, "--out", tmp_path / "g.png").returncode == 0
    assert Image.open(tmp_path / "g.png").size == (2 + 3 * 30, 2 + 3 * 30)


def test_resume_continues_the_step_count(cgan_run):
    run, _ = cgan_run
    result = cli("resume", run, "--steps", 6)
    assert result.returncode == 0, result.stderr
    assert "Finished at step 6" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--model", "nope"], "unknown preset or model 'nope'"),
        (["train", "--steps", "0"], "train.steps must be between"),
        (["train", "--dataset", "/no/such/folder", "--steps", "1"], "/no/such/folder"),
        (["sample", "/no/such/run", "--out", "x.npz"], "no such checkpoint"),
        (["resume", "/no/such/run"], "not a run directory"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(tmp_path, args, message):
    result = cli(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_corrupt_checkpoint_is_a_user_error(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 100)
    result = cli("sample", bad, "--out", tmp_path / "x.png")
    assert result.returncode == 2 and "bad.safetensors" in result.stderr and "Traceback" not in result.stderr


def test_datasets_lists_the_embedded_set():
    result = cli("datasets")
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("mnist-5k") and "available" in first
