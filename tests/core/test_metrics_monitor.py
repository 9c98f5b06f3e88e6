"""The live monitor inside a real (tiny) training run, and the collapse warning."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.core.data.dataset import ImageData
from studio.core.metrics.monitor import LIVE_KEYS, LiveMonitor, collapse_warning, prepare_monitor
from studio.core.train import events as ev
from studio.core.train.checkpoint import load_checkpoint
from studio.core.train.live_metrics import LiveMetrics
from studio.core.train.rundir import RunDir
from studio.core.train.trainer import Trainer


@pytest.fixture(scope="module")
def cache_root(cheap_evaluator):
    """The evaluators folder holding a few-step evaluator under the real recipe's key: the
    code paths of a cached evaluator without the minute of training."""
    return cheap_evaluator / "evaluators"


def tiny(tiny_config, name="cgan", **train):
    return tiny_config(name, **{"steps": 4, "sample_every": 100, "checkpoint_every": 100, **train})


def test_monitor_reports_live_metrics_during_training(tmp_path, tiny_config, cache_root):
    config = tiny(tiny_config)
    monitor = prepare_monitor(config, cache_root=cache_root, n=100)
    assert isinstance(monitor, LiveMonitor) and set(monitor.floor) <= set(LIVE_KEYS)
    assert monitor.floor["coverage"] == 10 and monitor.floor["cond_acc"] > 0
    live = LiveMetrics(every=2, budget=None, prepare=lambda *_a, **_k: monitor)
    events = list(Trainer(config, tmp_path / "run", callbacks=[live]).steps())
    metrics = [e for e in events if isinstance(e, ev.Metrics)]
    assert [m.step for m in metrics] == [2, 4] and monitor.calls == 2 and monitor.seconds > 0
    m = metrics[-1]
    assert set(m.values) == set(LIVE_KEYS)  # conditional: cond_acc too
    assert m.class_histogram.shape == (10,) and m.class_histogram.sum() == pytest.approx(1)
    assert all(np.isfinite(v) for v in m.values.values())
    logged = [r for r in RunDir(tmp_path / "run").read_metrics() if r.get("kind") == "metrics"]
    assert [r["step"] for r in logged] == [2, 4] and len(logged[-1]["class_histogram"]) == 10


def test_monitoring_does_not_change_the_training(tmp_path, tiny_config, cache_root):
    config = tiny(tiny_config, "wgan-gp")  # batch-norm generator, no EMA: the monitor samples the live model
    monitor = prepare_monitor(config, cache_root=cache_root, n=50)
    live = LiveMetrics(every=1, budget=None, prepare=lambda *_a, **_k: monitor)
    for path, callbacks in ((tmp_path / "plain", []), (tmp_path / "watched", [live])):
        list(Trainer(config, path, callbacks=callbacks).steps())
    plain, watched = load_checkpoint(tmp_path / "plain").tensors, load_checkpoint(tmp_path / "watched").tensors
    assert plain.keys() == watched.keys()
    for key in plain:
        torch.testing.assert_close(plain[key], watched[key], rtol=0, atol=0)
    assert "cond_acc" not in monitor(load_checkpoint(tmp_path / "watched").model, 4).values


def test_unlabelled_data_gets_no_monitor(tiny_config, cache_root):
    config = tiny(tiny_config, "vae")
    faces = ImageData("faces", torch.zeros(20, 1, 28, 28, dtype=torch.uint8), None)
    assert prepare_monitor(config, faces, cache_root=cache_root) is None


def test_collapse_warning():
    hist = np.zeros(10)
    hist[7] = 1.0
    collapsed = ev.Metrics(5, {"coverage": 1.0, "num_classes": 10.0, "class_kl": 2.3}, hist)
    message = collapse_warning(collapsed, [str(i) for i in range(10)])
    assert message.startswith("Mode collapse") and "1/10" in message and "'7' at 100%" in message
    assert "'0'" in message  # the missing classes are named
    healthy = ev.Metrics(5, {"coverage": 10.0, "num_classes": 10.0, "class_kl": 0.01}, np.full(10, 0.1))
    assert collapse_warning(healthy) is None
    assert "class KL 0.50" in collapse_warning({"coverage": 10.0, "num_classes": 10.0, "class_kl": 0.5})
    assert collapse_warning({"fid_eval": 3.0}) is None  # nothing to judge by
