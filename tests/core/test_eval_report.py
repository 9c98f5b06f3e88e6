"""`latent-studio eval` and evaluate_checkpoint on tiny runs, with the real-data floor."""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys

import pytest

from studio.core.errors import CheckpointError
from studio.core.metrics.evaluator import (
    CACHE_ENV,
)
from studio.core.metrics.report import evaluate_checkpoint, format_table, run_eval
from studio.core.presets import preset
from studio.core.train.trainer import Trainer


@pytest.fixture(scope="module")
def cache(cheap_evaluator):
    """$LATENT_STUDIO_CACHE with a few-step mnist-5k evaluator under the real recipe's key."""
    return cheap_evaluator


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runs")
    out = {}
    for name in ("cgan", "vae"):
        config = preset(name).with_overrides(
            model={"width": 8},
            train={"steps": 2, "batch_size": 16, "sample_every": 100, "checkpoint_every": 100, "threads": 1},
        )
        list(Trainer(config, tmp / name).steps())
        out[name] = tmp / name
    return out


@pytest.fixture
def env_cache(cache, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(cache))
    return cache


def test_eval_prints_the_model_beside_the_real_floor(runs, env_cache, tmp_path):
    out = io.StringIO()
    assert run_eval(str(runs["cgan"]), n=600, json_path=str(tmp_path / "m.json"), out=out) == 0
    text = out.getvalue()
    for label in ("FID (evaluator features)", "KID", "Precision (k=3)", "Recall (k=3)", "Class coverage",
                  "Class KL", "Conditional accuracy", "two-sample", "model n=600", "model n=500",
                  "real floor n=500"):
        assert label in text, label
    report = json.loads((tmp_path / "m.json").read_text())
    assert report["step"] == 2 and report["family"] == "cgan"
    assert report["floor"]["values"]["coverage"] == 10 and report["model"]["n"] == 600
    assert report["model_matched"]["n"] == 500 and len(report["model"]["class_histogram"]) == 10
    assert report["floor"]["values"]["cond_acc"] == pytest.approx(report["evaluator"]["accuracy"])


def test_vae_eval_reports_the_negative_elbo(runs, env_cache):
    report = evaluate_checkpoint(runs["vae"], n=100)
    values = report.model.values
    assert values["nelbo_nats"] > 0
    assert values["nelbo_bpd"] == pytest.approx(values["nelbo_nats"] / (784 * math.log(2)))
    assert report.model_matched is None and report.floor.n == 100  # n below the held-out size
    assert "cond_acc" not in values
    table = format_table(report)
    assert "Negative ELBO, held-out (bits/dim)" in table and "Conditional accuracy" not in table


def test_eval_of_a_missing_run_names_it(tmp_path, env_cache):
    with pytest.raises(CheckpointError, match="nowhere"):
        run_eval(str(tmp_path / "nowhere"), n=100)


def test_cli_eval(runs, cache, tmp_path):
    env = {**os.environ, CACHE_ENV: str(cache)}
    result = subprocess.run(
        [sys.executable, "-m", "studio.cli", "eval", str(runs["cgan"]), "--n", "200", "--json", str(tmp_path / "e.json")],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "real floor n=200" in result.stdout and json.loads((tmp_path / "e.json").read_text())["model"]["n"] == 200
