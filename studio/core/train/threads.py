"""``train.threads = 0`` (auto): pick the CPU thread count by measuring, and keep measuring.

On a quiet 2-core laptop two OpenMP threads train fastest; with a browser or an IDE busy
on one core, the same two threads fight for the free one and a run was measured 4-20x
slower than with one thread. No setting is right for both, and the load changes during a
run, so ``ThreadTuner`` (a callback, active only when ``train.threads`` is 0 on the CPU)
treats the choice as a measurement:

- it times steps (the median of a window, so a sample grid or a checkpoint does not
  count) at each candidate thread count, starting with all cores; a window is WINDOW
  steps or WINDOW_S seconds, whichever ends first (at least MIN_WINDOW steps), so a
  setting that makes each step take a second is not kept for twenty of them;
- it keeps the fastest (a probe must beat it by 10%, so noise does not flip the choice)
  and probes the others again later; a probe that is clearly slower after a few steps
  (or one step three times slower) ends at once, and each losing probe doubles the wait
  before the next one (up to ``MAX_WAIT_S``), so a bad candidate costs a few slow steps an
  interval, not a whole window.

Thread counts change how a CPU sums its floats, so an auto run is not reproducible bit
for bit across runs; a fixed ``train.threads`` is.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from studio.core.train import events as ev
from studio.core.train.callbacks import Callback, StepInfo

if TYPE_CHECKING:
    from studio.core.train.trainer import Trainer

WINDOW = 20  # steps timed per candidate ...
WINDOW_S = 3.0  # ... or this many seconds of them
MIN_WINDOW = 3  # a median of fewer steps is not a measurement
EARLY = 2  # steps after which a clearly slower probe gives up
GIVE_UP = 1.15  # "clearly slower": a probe this much slower than the best's median ends (it must win by WIN_BY)
BUSIER = 1.5  # the best's own steps this much slower than before: the load changed, probe again (the
# drift of a quiet VM stays under it; a CPU hog makes two threads 3-10x slower)
GLARING = 3.0  # one probe step this much slower than the best's median ends the probe at once
WIN_BY = 0.9  # a probe replaces the best only when this much faster: on a quiet 2-core VM one
# thread is only 1.2-1.4x slower than two and step times drift by 30% within a minute, so a
# probe timed in a fast spell must not take over from a best timed in a slow one
FIRST_WAIT_S = 20.0  # before the first re-probe of a loser
MAX_WAIT_S = 300.0


def candidates(cores: int) -> list[int]:
    """All cores first, then fewer: a core left for the window or another program."""
    return sorted({cores, max(1, cores - 1), 1}, reverse=True)


class ThreadTuner(Callback):
    name = "threads"

    def __init__(self, cores: int | None = None, clock: Callable[[], float] = time.perf_counter,
                 set_threads: Callable[[int], None] | None = None):
        self.cores = cores or os.cpu_count() or 1
        self.options = candidates(self.cores)
        self.clock = clock
        self._set = set_threads or _torch_set_threads
        self.medians: dict[int, float] = {}  # seconds per step, last measured
        self.wait_s = dict.fromkeys(self.options, FIRST_WAIT_S)
        self.next_probe = dict.fromkeys(self.options, 0.0)
        self.current = self.options[0]
        self.best = self.options[0]
        self._times: list[float] = []
        self._last: float | None = None
        self.active = False
        self.changes: list[tuple[int, int]] = []  # (step, threads), for the record

    def on_start(self, trainer: Trainer) -> Iterable[ev.Event]:
        self.active = trainer.config.train.threads == 0 and trainer.device.type == "cpu" and len(self.options) > 1
        if self.active:
            self._use(self.current, trainer.step)
        return ()

    def on_event(self, trainer: Trainer, event: ev.Event) -> None:
        if isinstance(event, (ev.Paused, ev.Resumed)):
            self._last = None  # a pause is not a slow step

    def on_step(self, trainer: Trainer, info: StepInfo) -> Iterable[ev.Event]:
        if not self.active:
            return ()
        now = self.clock()
        if self._last is not None:
            self._times.append(now - self._last)
        self._last = now
        self._judge(info.step, now)
        return ()

    def _judge(self, step: int, now: float) -> None:
        n = len(self._times)
        probing = self.current != self.best
        if probing and n and self.best in self.medians:
            early = statistics.median(self._times)
            best = self.medians[self.best]
            if (n >= EARLY and early > GIVE_UP * best) or self._times[-1] > GLARING * best:
                self.medians[self.current] = early
                self._lose(self.current, now)
                return self._switch(self.best, step)
        if n < WINDOW and (n < MIN_WINDOW or sum(self._times) < WINDOW_S):
            return None
        median = statistics.median(self._times)
        if self.current == self.best and median > BUSIER * self.medians.get(self.best, float("inf")):
            for t in self.options:  # the machine got busier: every other choice is worth a new look
                self.next_probe[t], self.wait_s[t] = now, FIRST_WAIT_S
        self.medians[self.current] = median
        if self.current != self.best and self.medians[self.current] < WIN_BY * self.medians.get(self.best, float("inf")):
            self._lose(self.best, now)
            self.best = self.current
        elif self.current != self.best:
            self._lose(self.current, now)
        unmeasured = [t for t in self.options if t not in self.medians]
        due = [t for t in self.options if t != self.best and now >= self.next_probe[t]]
        return self._switch((unmeasured or due or [self.best])[0], step)

    def _lose(self, threads: int, now: float) -> None:
        self.next_probe[threads] = now + self.wait_s[threads]
        self.wait_s[threads] = min(MAX_WAIT_S, 2 * self.wait_s[threads])

    def _switch(self, threads: int, step: int) -> None:
        self._times = []
        self._last = None
        if threads != self.current:
            self._use(threads, step)

    def _use(self, threads: int, step: int) -> None:
        self.current = threads
        self._set(threads)
        self.changes.append((step, threads))

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("best") in self.options:
            self.best = self.current = int(state["best"])


def _torch_set_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)
