"""The training child process (studio.core.train.child): how it starts and how it ends."""

from __future__ import annotations

import os

import pytest

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


def test_a_child_given_a_nice_value_trains_at_that_lower_cpu_priority(tmp_path, tiny_config):
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


def _steps(n: int, start: int = 1) -> list[ev.Step]:
    return [ev.Step(i, {"loss": 1.0 / i}, 100.0) for i in range(start, start + n)]


def test_steps_go_up_in_batches_and_before_the_next_other_event():
    from studio.core.train.child import _forward

    sent: list = []
    stream = [*_steps(5), ev.Paused(5), *_steps(2, start=6), ev.Finished(7, False)]
    _forward(iter(stream), sent.append)
    # A quick stream: one list for the first five steps, sent before the pause; then the rest.
    assert sent[0] == stream[:5] and sent[1] == stream[5]
    assert sent[2] == stream[6:8] and sent[3] == stream[8]
    flat = [e for m in sent for e in (m if isinstance(m, list) else [m])]
    assert flat == stream  # nothing lost, nothing reordered


def test_slow_steps_go_up_one_by_one_and_an_error_still_sends_the_steps_before_it():
    import time

    from studio.core.train.child import STEP_BATCH_S, _forward

    def slow():
        for step in _steps(3):
            time.sleep(STEP_BATCH_S * 1.2)
            yield step
        yield from _steps(2, start=4)  # quick ones, then the trainer fails
        raise RuntimeError("boom")

    sent: list = []
    with pytest.raises(RuntimeError):
        _forward(slow(), sent.append)
    assert [[e.step for e in m] for m in sent] == [[1], [2], [3], [4, 5]]


def test_a_quick_run_s_steps_reach_the_parent_in_few_messages_all_in_order(tmp_path, tiny_config):
    # One message per step woke the window's reader thread at every step (40 a second with
    # the default preset), each wake-up taking a core from a training thread.
    steps = 200
    config = tiny_config("cgan-mlp", steps=steps, log_every=1, sample_every=10_000, checkpoint_every=10_000)
    child = ChildTraining(TrainJob(config, runs_root=str(tmp_path)))
    groups = []
    while not child.done:
        got = [e.step for e in child.poll(0.5) if isinstance(e, ev.Step)]
        if got:
            groups.append(got)
    assert child.join(30)
    assert [s for g in groups for s in g] == list(range(1, steps + 1))
    # Tiny steps take a few ms, so each 0.1 s batch holds many; one message per step
    # would give a group per step.
    assert len(groups) <= steps // 4, [len(g) for g in groups]
