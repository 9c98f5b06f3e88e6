"""Multi-process training: real torchrun launches of two gloo processes on the embedded digits.

The equivalence tolerance: ESPCN's training has no randomness besides the batch order,
which the ranks share, so two processes on half-batches and one on the whole batch
compute the same averaged gradient; they differ only in float32 summation order (two
half-batch means, then an all-reduce, against one mean). Measured: ~1e-7 relative after
20 steps. The test allows 1e-4 relative per step, far above that drift, far below any
real difference (a missing gradient average changes the loss at the second step by
percents). Families that draw noise (GAN, VAE, DDPM) draw it per rank, so their losses
match a single process only in distribution; for them the test checks that every rank's
parameters stay bit-identical, which fails as soon as one gradient is not averaged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from studio.core.config import ConfigError, save_config
from studio.core.data.embedded import load_mnist_5k
from studio.core.data.sampler import BatchSampler
from studio.core.presets import preset
from studio.core.train.distributed import Distributed

HARNESS = Path(__file__).with_name("distributed_harness.py")
TIMEOUT_S = 240


def torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)


def harness(case: str, tmp_path: Path) -> list[dict]:
    done = torchrun(str(HARNESS), case, str(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads((tmp_path / f"result-{rank}.json").read_text()) for rank in (0, 1)]


def losses(run: Path) -> dict[int, dict[str, float]]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["losses"] for r in rows if r.get("kind") == "step"}


# -- in one process --------------------------------------------------------------------------
def test_the_shards_of_a_global_batch_are_what_one_process_draws():
    data = load_mnist_5k("train")
    one = BatchSampler(data, 12, torch.Generator().manual_seed(5))
    shards = [BatchSampler(data, 12, torch.Generator().manual_seed(5), shard=(r, 3)) for r in range(3)]
    for _ in range(3):
        whole, _ = one.next()
        parts = [s.next()[0] for s in shards]
        assert torch.equal(torch.cat(parts), whole)


def test_a_global_batch_that_does_not_divide_among_the_processes_is_refused():
    with pytest.raises(ConfigError, match=r"train.batch_size \(16\).*3 processes"):
        Distributed(0, 3, 0, torch.device("cpu")).per_rank_batch(16)


# -- two real processes --------------------------------------------------------------------------
def test_every_rank_keeps_the_same_parameters_through_each_kind_of_step(tmp_path):
    """Batch-norm D called twice, D frozen for G's step, WGAN-GP's double backward, a frozen
    encoder: DDP must average every gradient (an unwrapped module leaves ranks ~1e-3 apart)."""
    rank0, rank1 = harness("equal", tmp_path)
    for label, result in rank1.items():
        if label == "rank":
            continue
        assert result["finished"], label
        assert result["max_difference"] == 0.0, label
        assert result["losses"] == rank0[label]["losses"], label  # averaged over the ranks: one value


def test_a_failure_on_one_rank_ends_every_rank_with_the_failing_one_named(tmp_path):
    rank0, rank1 = harness("fail", tmp_path)
    assert rank1["failed"] == ["rank 1 could not write (injected)"]
    assert rank0["failed"] == ["process 1 of 2 failed near step 3; its message says why"]
    assert rank0["step"] == rank1["step"] == 3
    assert rank0["saved_step"] == 2  # the checkpoint before the failure is kept


def test_a_stop_asked_of_one_rank_stops_every_rank_at_the_same_step(tmp_path):
    rank0, rank1 = harness("stop", tmp_path)
    assert rank0["finished"] == rank1["finished"] == [[4, True]]
    assert rank0["saved_step"] == 4 and rank1["saved_step"] is None  # only rank 0 writes


def test_two_processes_train_what_one_does_and_the_run_resumes(tmp_path):
    from studio.core.train.checkpoint import load_checkpoint
    from studio.core.train.runinfo import read_curves, summarize

    config = preset("espcn-x2").with_overrides(
        model={"width": 8}, train={"steps": 6, "batch_size": 16, "log_every": 1, "sample_every": 1000,
                                   "checkpoint_every": 4, "threads": 1})
    save_config(config, tmp_path / "config.toml")
    two = torchrun("-m", "studio", "train", "--config", "config.toml", "--out", "two", cwd=tmp_path)
    assert two.returncode == 0, two.stderr[-3000:]
    assert "2 processes" in two.stdout
    one = subprocess.run([sys.executable, "-m", "studio", "train", "--config", "config.toml", "--out", "one"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT_S,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert one.returncode == 0, one.stderr[-3000:]

    a, b = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert sorted(b) == list(range(1, 7))  # rank 0 alone logs: each step once
    for step in a:
        assert b[step]["mse"] == pytest.approx(a[step]["mse"], rel=1e-4), step

    loaded = load_checkpoint(tmp_path / "two" / "checkpoints" / "last.safetensors")
    assert loaded.step == 6
    assert loaded.model(torch.zeros(1, 1, 14, 14)).shape == (1, 1, 28, 28)
    assert summarize(tmp_path / "two").saved_step == 6  # what File → Open run reads
    assert read_curves(tmp_path / "two").steps == list(range(1, 7))

    more = torchrun("-m", "studio", "resume", "two", "--steps", "9", cwd=tmp_path)
    assert more.returncode == 0, more.stderr[-3000:]
    assert sorted(losses(tmp_path / "two")) == list(range(1, 10))
    assert load_checkpoint(tmp_path / "two" / "checkpoints" / "last.safetensors").step == 9
