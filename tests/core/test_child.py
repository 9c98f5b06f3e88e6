"""The training child process (studio.core.train.child): how it starts and how it ends."""

from __future__ import annotations

from studio.core.train import events as ev
from studio.core.train.child import ChildTraining, TrainJob


def test_the_child_starts_on_first_poll_and_exits_cleanly(tmp_path, tiny_config):
    child = ChildTraining(TrainJob(tiny_config(steps=3), runs_root=str(tmp_path)))
    # Constructing it spawns nothing: the window builds it on its main thread and its
    # worker thread starts it by iterating.
    assert child.process.pid is None
    assert child.join(0.1)  # never started: nothing to wait for
    child.pause()  # a command sent before the start waits in the pipe ...
    child.resume()  # ... and the child's listener reads it
    seen = list(child.steps())
    assert any(isinstance(e, ev.Finished) for e in seen), seen
    assert child.join(30)
    # The command listener is joined before the interpreter exits: a daemon thread still
    # running then died in pthread_exit mid-finalisation ("terminate called without an
    # active exception", SIGABRT after every run).
    assert child.process.exitcode == 0


def test_the_window_s_child_trains_at_a_lower_cpu_priority(tmp_path, tiny_config):
    import os

    import pytest

    if not hasattr(os, "getpriority"):
        pytest.skip("no process priorities on this OS")
    child = ChildTraining(TrainJob(tiny_config(steps=10_000), runs_root=str(tmp_path), nice=3))
    try:
        for event in child.steps():
            if isinstance(event, ev.Started):
                break  # it is training now
        mine = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, child.process.pid) == min(19, mine + 3)
    finally:
        child.stop(save=False)
        list(child.steps())
        assert child.join(30)
