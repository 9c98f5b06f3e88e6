"""What does a small, bursty load cost a training child that uses every core?

The window's threads wake many times a second while a run trains (a redraw, a timer, a
pipe read), each for a moment. On a 2-core machine each wake-up takes a core from one of
the child's two training threads, and the other waits for it at the next barrier, so a
load of a few percent of one core can cost the training more than its share. This trains
the default preset in a child process (the window's ChildTraining, no window) alone and
beside a process that is busy for BUSY ms every PERIOD ms, alternating, and prints the
ratio of the medians for each load.

    python benchmarks/wakeup_cost.py [--rounds 3] [--steps 300] [--loads 5/60 0.1/10]

The last line is the ratio for the last load given.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def busy_loop(busy_ms: float, period_ms: float, stop) -> None:
    """Spin for busy_ms, sleep for the rest of period_ms, until ``stop`` is set."""
    while not stop.is_set():
        start = time.perf_counter()
        while time.perf_counter() - start < busy_ms / 1000:
            pass
        time.sleep(max(0.0, (period_ms - busy_ms) / 1000))


def train_child(steps: int, root: str) -> float:
    """Steps per second of one run in a child process, as the window starts it (at CHILD_NICE)."""
    from studio.core.presets import DEFAULT_PRESET, PRESETS
    from studio.core.train import events as ev
    from studio.core.train.child import ChildTraining, TrainJob
    from studio.ui.workers import CHILD_NICE, GRID_SECONDS

    cfg = PRESETS[DEFAULT_PRESET].with_overrides(train={"steps": steps, "log_every": 1, "sample_every": 25})
    times = []
    for event in ChildTraining(TrainJob(cfg, runs_root=root, nice=CHILD_NICE, grid_seconds=GRID_SECONDS)).steps():
        if isinstance(event, ev.Step):
            times.append((time.perf_counter(), event.step))
        elif isinstance(event, ev.Failed):
            raise SystemExit(f"training failed: {event.message}")
    (t0, s0), (t1, s1) = times[0], times[-1]
    return (s1 - s0) / max(t1 - t0, 1e-9)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--loads", nargs="+", default=["5/60", "0.1/10"], help="BUSY/PERIOD in ms")
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    line = ""
    with tempfile.TemporaryDirectory() as root:
        for load in args.loads:
            busy, period = (float(v) for v in load.split("/"))
            quiet, loaded = [], []
            for _ in range(args.rounds):
                quiet.append(train_child(args.steps, root))
                stop = ctx.Event()
                hog = ctx.Process(target=busy_loop, args=(busy, period, stop), daemon=True)
                hog.start()
                try:
                    loaded.append(train_child(args.steps, root))
                finally:
                    stop.set()
                    hog.join()
            ratio = statistics.median(loaded) / statistics.median(quiet)
            line = (f"load {busy:g} ms every {period:g} ms ({busy / period:.1%} of a core, {1000 / period:.0f} wake-ups/s): "
                    f"training at {ratio:.2f}x of quiet")
            print(f"quiet {', '.join(f'{q:.1f}' for q in quiet)}; loaded {', '.join(f'{q:.1f}' for q in loaded)} steps/s")
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
