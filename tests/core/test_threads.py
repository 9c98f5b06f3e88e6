"""The auto thread count: measured, kept while it wins, re-probed as the load changes."""

from __future__ import annotations

from types import SimpleNamespace

from studio.core.train.callbacks import StepInfo
from studio.core.train.threads import ThreadTuner


class Machine:
    """A clock whose step time depends on the thread count and on a CPU hog."""

    def __init__(self) -> None:
        self.now = 0.0
        self.threads = 0
        self.busy = False

    def step_time(self) -> float:
        if self.busy:  # two threads fight for the one free core
            return {2: 0.5, 1: 0.06}[self.threads]
        return {2: 0.03, 1: 0.05}[self.threads]


def run(tuner: ThreadTuner, machine: Machine, steps: int, start: int = 0) -> float:
    """Train ``steps`` steps; returns the time they took."""
    began = machine.now
    for step in range(start + 1, start + steps + 1):
        machine.now += machine.step_time()
        tuner.on_step(None, StepInfo(step, {}, False))
    return machine.now - began


def make(machine: Machine) -> ThreadTuner:
    tuner = ThreadTuner(cores=2, clock=lambda: machine.now, set_threads=lambda n: setattr(machine, "threads", n))
    trainer = SimpleNamespace(config=SimpleNamespace(train=SimpleNamespace(threads=0)),
                              device=SimpleNamespace(type="cpu"), step=0)
    tuner.on_start(trainer)
    return tuner


def test_quiet_machine_keeps_all_cores_at_little_cost():
    machine = Machine()
    tuner = make(machine)
    spent = run(tuner, machine, 5000)
    assert tuner.best == 2
    assert spent <= 1.05 * 5000 * 0.03  # the probes of one thread cost under 5%


def test_busy_machine_backs_off_and_returns_when_it_is_quiet_again():
    machine = Machine()
    tuner = make(machine)
    run(tuner, machine, 200)
    machine.busy = True
    spent = run(tuner, machine, 3000, start=200)
    assert tuner.best == 1
    assert spent <= 1.10 * 3000 * 0.06 + 100 * 0.5  # found within a few windows; few slow probes after
    machine.busy = False
    run(tuner, machine, 20000, start=3200)
    assert tuner.best == 2  # re-probed and won again


def test_a_fixed_thread_count_is_left_alone():
    machine = Machine()
    tuner = ThreadTuner(cores=2, clock=lambda: machine.now, set_threads=lambda n: setattr(machine, "threads", n))
    trainer = SimpleNamespace(config=SimpleNamespace(train=SimpleNamespace(threads=1)),
                              device=SimpleNamespace(type="cpu"), step=0)
    tuner.on_start(trainer)
    assert not tuner.active and machine.threads == 0
