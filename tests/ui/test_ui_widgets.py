"""Widget pieces: EMA smoothing, growing series, the run follower, the image view."""

from __future__ import annotations

import json

import numpy as np
import pytest

from studio.ui.run_follower import RunFollower, sample_step
from studio.ui.widgets.image_view import ImageView
from studio.ui.widgets.series import Series, ema


def slow_ema(values, w, start=None):
    out, prev = [], values[0] if start is None else start
    for v in values:
        prev = w * prev + (1 - w) * v
        out.append(prev)
    return np.array(out)


@pytest.mark.parametrize("w", [0.0, 0.5, 0.9, 0.99])
def test_vectorised_ema_matches_the_recurrence(w):
    x = np.random.default_rng(0).normal(size=1000)
    expected = x if w == 0 else slow_ema(x, w)
    np.testing.assert_allclose(ema(x, w, None), expected, rtol=1e-9, atol=1e-9)


def test_series_grows_and_smooths_incrementally():
    s = Series(capacity=4)
    s.weight = 0.8
    x = np.arange(100, dtype=float)
    for lo in range(0, 100, 7):
        s.append(x[lo : lo + 7], np.sin(x[lo : lo + 7]))
    np.testing.assert_allclose(s.smoothed, slow_ema(np.sin(x), 0.8), atol=1e-9)
    s.set_weight(0.0)
    np.testing.assert_allclose(s.smoothed, np.sin(x))
    s.append(np.array([100.0]), np.array([np.nan]))
    assert s.n == 101


def test_run_follower_reads_only_complete_lines(tmp_path):
    metrics = tmp_path / "metrics.jsonl"
    follower = RunFollower(tmp_path)
    assert follower.poll() == ([], [])
    metrics.write_text(json.dumps({"step": 1}) + "\n" + '{"step": 2, "ki')
    records, _ = follower.poll()
    assert [r["step"] for r in records] == [1]
    with metrics.open("a") as handle:
        handle.write('nd": "step"}\n')
    assert [r["step"] for r in follower.poll()[0]] == [2]
    metrics.write_text(json.dumps({"step": 1}) + "\n")  # truncated by a resume: start over
    assert [r["step"] for r in follower.poll()[0]] == [1] and follower.reset_count == 1
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "step-000040.png").write_bytes(b"")
    (tmp_path / "samples" / ".step-000050.png.x.tmp").write_bytes(b"")
    _, samples = follower.poll()
    assert [sample_step(p) for p in samples] == [40] and follower.poll()[1] == []


def test_image_view_zooms_crisply_and_reports_clicks(qtbot):
    view = ImageView("empty")
    qtbot.addWidget(view)
    view.resize(300, 300)
    view.set_image(np.zeros((28, 28, 3), np.uint8))
    rect = view.target_rect()
    assert rect.width() == rect.height() == 280  # a whole-number zoom (10x)
    view.set_clickable(True)
    with qtbot.waitSignal(view.clicked) as blocker:
        from PySide6.QtCore import QPoint, Qt

        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(rect.x() + 70, rect.y() + 70))
    fx, fy = blocker.args
    assert fx == pytest.approx(0.25, abs=0.01) and fy == pytest.approx(0.75, abs=0.01)


def test_an_exception_in_the_worker_becomes_a_failed_signal(qtbot):
    """Whatever escapes the generator is reported, and the controller returns to idle."""
    from types import SimpleNamespace

    from studio.ui.workers import TrainController

    class Exploding:  # not a trainer mock: it checks the worker's own safety net
        config = SimpleNamespace(train=SimpleNamespace(threads=0))

        def steps(self):
            yield from ()
            raise RuntimeError("boom")

        def stop(self):
            pass

    controller = TrainController()
    try:
        with qtbot.waitSignal(controller.failed, timeout=5000) as blocker:
            controller.start(Exploding())
        assert blocker.args == ["RuntimeError: boom"]
        qtbot.waitUntil(lambda: controller.state == "idle", timeout=5000)
        assert not controller.active
    finally:
        assert controller.shutdown()
