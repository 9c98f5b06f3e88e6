"""Training in a child process: the same Trainer the CLI runs, driven over two pipes.

The window never trains in its own process: a crash of a native library, an
out-of-memory kill or a ``kill -9`` of the child ends the training, not the window,
and the training's threads do not compete with painting for the GIL. The child is
started with the ``spawn`` method (a fresh interpreter: forking a process that holds Qt
and torch threads is unsafe) and runs ``Trainer.steps()``; every event goes up the
events pipe, and commands (pause, resume, one step, stop, save now, a
new learning rate) come down the commands pipe to a listener thread that calls the
trainer's thread-safe methods. Step events go up in batches (a list of them, at most one
every ``STEP_BATCH_S``): at 40 steps a second, one message per step woke the window's
reader thread 40 times a second, and each wake-up takes a core from a training thread.

The pipes carry our own events and commands between our own processes (pickled by
multiprocessing); nothing a user hands us travels through them.

``ChildTraining`` is the parent's handle; it is Qt-free, so the window's worker thread
and a test can both drive it.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.live_keys import LIVE_N, MONITOR_BUDGET
from studio.core.train import events as ev

DONE = "done"  # the child's last message: its loop is over


@dataclass(frozen=True)
class TrainJob:
    """What the child trains: a new run of ``config``, or the run at ``run_dir`` resumed."""

    config: Any | None  # studio.core.config.Config; None when resuming
    run_dir: str | None = None
    runs_root: str = "runs"
    resume: bool = False
    steps: int | None = None  # a new total step count when resuming
    live_metrics: bool = False
    monitor_n: int = LIVE_N
    budget: float | None = MONITOR_BUDGET
    grid_seconds: float = 0.0  # > 0: a sample grid at least this often (SampleGrids.every_s)
    nice: int = 0  # > 0: the child runs at this lower CPU priority (where the OS has one)

    def build(self):
        """The Trainer (in the child). Raises the user's errors of a bad run directory."""
        from studio.core.train.trainer import Trainer

        callbacks = []
        if self.live_metrics:
            from studio.core.train.live_metrics import LiveMetrics

            callbacks.append(LiveMetrics(n=self.monitor_n, budget=self.budget))
        if self.resume:
            trainer = Trainer.from_run(self.run_dir, runs_root=self.runs_root, callbacks=callbacks)
            if self.steps is not None:
                trainer.config = trainer.config.with_overrides(train={"steps": self.steps})
        else:
            trainer = Trainer(self.config, self.run_dir, runs_root=self.runs_root, callbacks=callbacks)
        grids = trainer.callback("grids")
        if grids is not None:
            grids.every_s = self.grid_seconds
        return trainer


STEP_BATCH_S = 0.1  # Step events are sent up together, at most one message this often
LISTEN_POLL_S = 0.1  # how often the command listener looks whether the loop has ended


def _listen(trainer, commands, over: threading.Event) -> None:
    """Turn the parent's commands into the trainer's thread-safe calls, until the pipe
    closes or ``over`` is set (the loop has ended: ``child_main`` joins this thread).

    It polls instead of blocking in ``recv``, so it is joined before the interpreter
    exits: a daemon thread still running then (woken by the parent closing the pipe after
    ``DONE``) is ended by ``pthread_exit`` in the middle of finalisation, and the child
    died of SIGABRT ("terminate called without an active exception") after every run.
    """
    while not over.is_set():
        try:
            if not commands.poll(LISTEN_POLL_S):
                continue
            command, arg = commands.recv()
        except (EOFError, OSError):
            if not over.is_set():
                trainer.stop(save=True)  # the parent is gone: save and end
            return
        if command == "pause":
            trainer.pause()
        elif command == "resume":
            trainer.resume()
        elif command == "save":
            trainer.request_checkpoint()
        elif command == "step":
            trainer.step_once()
        elif command == "lr":
            trainer.set_lr(float(arg))
        elif command == "stop":
            trainer.stop(save=bool(arg))


def _forward(stream, send) -> None:
    """Send every event of ``stream`` with ``send``; consecutive Step events as one list,
    sent when STEP_BATCH_S has passed since the last message or before any other event
    (so the order is kept, and a pause or a checkpoint shows the steps before it)."""
    batch: list[ev.Step] = []
    sent = time.perf_counter()
    try:
        for event in stream:
            if isinstance(event, ev.Step):
                batch.append(event)
                if time.perf_counter() - sent < STEP_BATCH_S:
                    continue
            if batch:
                send(batch)
                batch = []
            if not isinstance(event, ev.Step):
                send(event)
            sent = time.perf_counter()
    finally:
        if batch:  # the steps done before an error or the end
            with contextlib.suppress(OSError):
                send(batch)


def child_main(job: TrainJob, events, commands) -> None:
    """The child process: build the trainer, run it, send every event, then DONE."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal is the parent's to handle
    if job.nice > 0 and hasattr(os, "nice"):
        os.nice(job.nice)
    from studio.core.errors import USER_ERRORS
    from studio.core.train.trainer import apply_threads

    over = threading.Event()
    listener: threading.Thread | None = None
    try:
        try:
            trainer = job.build()
        except USER_ERRORS as exc:
            events.send(ev.Failed(0, str(exc)))
            return
        apply_threads(trainer.config.train.threads)
        listener = threading.Thread(target=_listen, args=(trainer, commands, over), name="commands", daemon=True)
        listener.start()
        _forward(trainer.steps(), events.send)
    except Exception as exc:  # noqa: BLE001 - report anything, the parent must not hang
        with contextlib.suppress(OSError):
            events.send(ev.Failed(0, f"{type(exc).__name__}: {exc}"))
    finally:
        over.set()
        with contextlib.suppress(OSError):
            events.send(DONE)
        events.close()
        if listener is not None:
            listener.join(5 * LISTEN_POLL_S + 1)  # it sees ``over`` within one poll


def describe_exit(code: int | None) -> str:
    if code is None:
        return "is still running"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (out of memory, or killed)" if -code == signal.SIGKILL else ""
        return f"was killed by {name}{hint}"
    return f"exited with status {code}"


class ChildTraining:
    """The parent's side: start a TrainJob in a child process, send commands, read events.

    The process starts with ``start()``, or with the first ``steps()``/``poll()``: the
    window constructs this on its main thread and iterates it on its worker thread, so
    the spawn (pickling the job, launching an interpreter) happens off the main thread.
    Commands sent before the start wait in the pipe and reach the child's listener.
    """

    def __init__(self, job: TrainJob):
        self.job = job
        ctx = mp.get_context("spawn")
        self._events, self._child_events = ctx.Pipe(duplex=False)
        self._child_commands, self._commands = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=child_main, args=(job, self._child_events, self._child_commands),
                                   name="latent-studio-train", daemon=True)
        self._started = False
        self._start_lock = threading.Lock()
        self.done = False
        self.last_step = 0
        self.run_dir: Path | None = None

    def start(self) -> None:
        """Start the child process (once; later calls do nothing)."""
        with self._start_lock:
            if self._started:
                return
            self._started = True
            self.process.start()
            self._child_events.close()  # ours are the other ends: EOF arrives when the child is gone
            self._child_commands.close()

    # -- commands ----------------------------------------------------------------------
    def _send(self, command: str, arg: Any = None) -> None:
        if not self.done:
            with contextlib.suppress(OSError, BrokenPipeError):
                self._commands.send((command, arg))

    def pause(self) -> None:
        self._send("pause")

    def resume(self) -> None:
        self._send("resume")

    def request_checkpoint(self) -> None:
        self._send("save")

    def step_once(self) -> None:
        self._send("step")

    def set_lr(self, lr: float) -> None:
        self._send("lr", float(lr))

    def stop(self, save: bool = True) -> None:
        self._send("stop", save)

    @property
    def has_live_metrics(self) -> bool:
        return self.job.live_metrics

    # -- events ------------------------------------------------------------------------
    def steps(self):
        """The child's events as they arrive, like ``Trainer.steps()``, until it ends."""
        while not self.done:
            yield from self.poll(0.1)

    def poll(self, timeout: float = 0.05) -> list[Any]:
        """The events that arrived within ``timeout``; after the child's end, a Failed
        event when it died without finishing, and then ``done`` is True."""
        self.start()
        out: list[Any] = []
        deadline = time.monotonic() + timeout
        while not self.done:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                if not self._events.poll(remaining if not out else 0):
                    break
                message = self._events.recv()
            except (EOFError, OSError):
                out += self._died()
                break
            if message == DONE:
                self._finish()
                break
            batch = message if isinstance(message, list) else [message]
            self._track(batch[-1])
            out += batch
        return out

    def _track(self, event: Any) -> None:
        if isinstance(event, ev.Started):
            self.run_dir = Path(event.run_dir)
        step = getattr(event, "step", None)
        if isinstance(step, int):
            self.last_step = step

    def _died(self) -> list[Any]:
        self.process.join(timeout=5)
        self._finish()
        where = f"; the run at {self.run_dir} can continue from its last checkpoint" if self.run_dir else ""
        return [ev.Failed(self.last_step, f"The training process {describe_exit(self.process.exitcode)} "
                                          f"at step {self.last_step}{where}.")]

    def _finish(self) -> None:
        self.done = True
        with contextlib.suppress(OSError):
            self._commands.close()

    def join(self, timeout: float) -> bool:
        """Wait for the child to end; kill it past ``timeout``. True when it ended by itself
        (or never started)."""
        with self._start_lock:
            if not self._started:
                return True
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
            return False
        return True
