"""The ETA over a window of wall time: one slow chunk never makes it jump."""

from __future__ import annotations

import pytest

from studio.ui.eta import EtaEstimate


def feed(eta: EtaEstimate, start: float, step: int, seconds: float, per_step: float) -> tuple[float, int]:
    """Chunks of 10 steps for ``seconds`` at ``per_step`` seconds a step; the ETA after each."""
    t = start
    while t < start + seconds:
        t += 10 * per_step
        step += 10
        eta.add(t, step)
    return t, step


def test_a_steady_rate_gives_the_plain_remaining_time():
    eta = EtaEstimate()
    t, step = feed(eta, 0.0, 0, 60, 0.05)
    assert eta.steps_per_second() == pytest.approx(20)
    assert eta.remaining_s(step + 200) == pytest.approx(10)


def test_one_slow_chunk_moves_the_eta_by_little():
    """A 5 s sample grid among 50 ms steps: the last chunk's rate would say 100x slower."""
    eta = EtaEstimate()
    t, step = feed(eta, 0.0, 0, 60, 0.05)
    before = eta.remaining_s(10_000)
    eta.add(t + 5.0, step + 10)  # ten steps and a grid
    after = eta.remaining_s(10_000)
    assert 1.0 < after / before < 1.25


def test_a_lasting_slow_down_shows_within_the_window_and_never_jumps_20x():
    """Another program takes a core: 20x slower for good. Each update changes the ETA by
    under 2x, and after one window the ETA is the new rate's."""
    eta = EtaEstimate(window_s=30)
    t, step = feed(eta, 0.0, 0, 60, 0.05)
    etas = [eta.remaining_s(100_000)]
    while t < 60 + 45:
        t += 10 * 1.0  # 1 s a step now
        step += 10
        eta.add(t, step)
        etas.append(eta.remaining_s(100_000))
    assert max(b / a for a, b in zip(etas, etas[1:], strict=False)) < 2
    assert eta.steps_per_second() == pytest.approx(1.0, rel=0.05)


def test_reset_forgets_the_rate():
    eta = EtaEstimate()
    feed(eta, 0.0, 0, 10, 0.05)
    eta.reset()
    assert eta.remaining_s(100) is None
    eta.add(100.0, 500)
    assert eta.remaining_s(1000) is None  # one sample: no rate yet


def test_the_train_tab_names_each_curve_and_draws_held_out_bits_per_dim_beside_the_nll(qtbot):
    import numpy as np

    from studio.core.train import events as ev
    from studio.ui.tabs.train import TrainTab

    tab = TrainTab(tasks=None)
    qtbot.addWidget(tab)
    from studio.core.families import get_family

    tab.begin(100, 8, [], "pixelcnn", get_family("pixelcnn").loss_labels)
    caption = tab.loss_plot.caption.text()
    assert "<b>nll</b>: negative log-likelihood" in caption and "<b>held-out nll</b>" in caption
    tab.loss_plot.append(np.array([10, 20]), {"nll": np.array([2.0, 1.8])})
    tab.on_metrics(ev.Metrics(20, {"nll_bpd": 1.9, "nll_nats": 1032.0}))
    tab.on_metrics(ev.Metrics(40, {"fid": 3.0}))  # not a held-out likelihood: the metrics panel's
    tab.loss_plot.refresh()
    assert set(tab.loss_plot.series) == {"nll", "held-out nll"}
    held = tab.loss_plot.series["held-out nll"]
    assert list(held.x) == [20] and list(held.y) == [1.9]
