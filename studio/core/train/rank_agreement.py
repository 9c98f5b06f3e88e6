"""The trainer's side of a torchrun group: one run directory, and decisions taken together.

A mixin of ``Trainer`` (studio.core.train.trainer), kept apart so that the loop reads as
one process's and this file holds what several need (studio.core.train.distributed
says what the group does): rank 0's run directory shared with the others, the agreement
at every step boundary and while paused, the losses averaged before anything reads
them, and a failure only one rank saw told to the others.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from studio.core.errors import CheckpointError
from studio.core.train import events as ev
from studio.core.train.callbacks import first_non_finite
from studio.core.train.rundir import RunDir

PAUSE_POLL_S = 0.1  # a paused loop looks for "save now", "step" and a new learning rate this often


class RankAgreement:
    """Methods of ``Trainer`` for ``distributed`` runs (``self.dist`` is set)."""

    def _shared_run(self) -> RunDir:
        """Rank 0's run directory on every rank, or rank 0's reason for having none."""
        if self.is_main:
            try:
                run = self._open_run()
            except BaseException:
                self.dist.broadcast(None)
                raise
            self.dist.broadcast(str(run.path))
            return run
        path = self.dist.broadcast(None)
        if path is None:
            raise CheckpointError("process 0 could not open the run directory; its message says why")
        return RunDir(path)

    def _agree_while_paused(self) -> Iterator[ev.Event]:
        """Distributed, paused: the ranks agree every PAUSE_POLL_S (a single step is not
        offered: every rank would have to take it)."""
        time.sleep(PAUSE_POLL_S)
        yield from self._agree()

    def _pause_wanted(self) -> bool:
        return (self._others_paused or not self._running.is_set()) and not self._stop.is_set()

    def _agree(self) -> Iterator[ev.Event]:
        """Distributed: take every rank's stop, pause, "save now" and failure as this rank's."""
        agreed = self.dist.agree(stop=self._stop.is_set(), paused=not self._running.is_set(),
                                 save=self._save_now.is_set(), failed=False)
        if agreed.failed_rank is not None:
            self._failure_shared = True
            yield from self._emit([self.fail(f"process {agreed.failed_rank} of {self.dist.world} failed near step "
                                             f"{self.step}; its message says why")])
            return
        if agreed.stop and not self._stop.is_set():
            self.stop()
        if agreed.save and self.is_main:
            self._save_now.set()
        self._others_paused = agreed.paused and self._running.is_set()

    def _check_shared_losses(self) -> Iterator[ev.Event]:
        """Distributed: average the step's losses over the ranks, and stop every rank at
        once on a NaN or infinity (each sees the same average, so each decides alike)."""
        self.last_losses = self.dist.mean(self.last_losses)
        if bad := first_non_finite({k: float(v) for k, v in self.last_losses.items()}):
            self._failure_shared = True
            yield from self._emit([self.fail_loss(*bad)])

    def _tell_other_ranks(self) -> None:
        """A failure only this rank knows of: the others learn it at their next agreement."""
        if self.dist is None or self._failure_shared:
            return
        self._failure_shared = True
        with contextlib.suppress(Exception):  # the group may be gone already
            self.dist.agree(stop=True, paused=False, save=False, failed=True)
