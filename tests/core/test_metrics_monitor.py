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


class Replay:
    """Real images as a model's samples (a perfectly collapsed or a perfect model)."""

    conditional, num_classes = False, None

    def __init__(self, images):
        self.images = images
        self.image_shape = tuple(images.shape[1:])

    def sample(self, n, labels=None, generator=None, **_options):
        idx = torch.randint(len(self.images), (n,), generator=generator)
        return self.images[idx].float() / 255


def test_the_alarm_reads_the_real_floor_and_ignores_off_manifold_blobs(tiny_config, cache_root):
    from studio.core.data import load_dataset
    from studio.core.models import build_model

    config = tiny(tiny_config, "gan")
    monitor = prepare_monitor(config, cache_root=cache_root, n=200)
    held = load_dataset(config.data, "test")
    sevens, everything = Replay(held.images[held.labels == 7]), Replay(held.images)
    assert collapse_warning(monitor(sevens, 1), floor=monitor.floor) is not None  # a real collapse
    assert collapse_warning(monitor(everything, 1), floor=monitor.floor) is None
    with torch.random.fork_rng():
        torch.manual_seed(0)
        blobs = build_model(config, (1, 28, 28), None)  # an untrained generator: what step 0 draws
    early = monitor(blobs, 1)
    assert early.values["precision"] < 0.5 * monitor.floor["precision"]
    assert collapse_warning(early, floor=monitor.floor) is None  # its class histogram means nothing yet


def test_a_tiny_dataset_says_its_figures_are_unreliable():
    from studio.core.metrics.monitor import reliability_caveat

    labels = torch.arange(3).repeat_interleave(40)
    tiny_set = ImageData("faces", torch.zeros(120, 1, 28, 28, dtype=torch.uint8), labels, ["a", "b", "c"])
    caveat = reliability_caveat(0.667, tiny_set)
    assert "66.7% of held-out images" in caveat and "40 training images" in caveat and "rough" in caveat
    big = ImageData("digits", torch.zeros(1000, 1, 28, 28, dtype=torch.uint8), torch.arange(10).repeat(100))
    assert reliability_caveat(0.98, big) == ""
