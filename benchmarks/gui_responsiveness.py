"""Is the studio fluid while it trains, and does the GUI cost training speed?

Trains the default model (the "cgan" preset) in the real main window, offscreen, and
measures the event loop's lag with a 10 ms QTimer: how late each tick fires. Then runs
the engine's Trainer headless (what `latent-studio train` does) on the same config, in
a child process of this script (as the CLI is its own process: heavy torch work on the
GUI process's main thread would also leave OpenMP threads behind that slow the worker),
and prints the GUI's training throughput as a ratio to it. Runs alternate (CLI, GUI, CLI,
GUI, ...) so that drifting load on a shared machine hits both sides alike; the ratio is
given for the medians and for the best run of each side (the least disturbed). The lag
probe is the instrument, not the studio: it ticks in this process during the CLI rounds
too (the window idle, its view timer stopped), unless --no-cli-probe.

Finally, the explorer: milliseconds per rendered frame for the MLP and DCGAN models
(the model call alone, and slider-move to image-shown through the render thread), once
the last round's child has exited and the explorer has loaded the run it trained.

    QT_QPA_PLATFORM=offscreen python benchmarks/gui_responsiveness.py [--steps 150] [--rounds 2] [--precision fp32]

Targets: max lag < 50 ms, p99 lag < 16 ms, throughput ratio >= 0.95, explorer < 16 ms per
frame. The last line states the three training figures against their targets. It also
prints the window's CPU share and how often its threads woke while training (each wake-up
takes a core from one of the child's training threads on a 2-core machine).

Diagnostics (environment variables): ``LAG_TRACE=25`` samples the main thread's Python
stack while a tick is overdue and lists, for the worst lags over 25 ms, what it was doing
and how much of the lag it spent on a CPU (little CPU in a long lag: the main thread was
waiting for a core, i.e. other processes' load); ``LAG_PROFILE=tottime`` prints a cProfile
of the main thread for each GUI round; ``LAG_EVENTS=10`` lists the Qt events whose delivery
took over 10 ms (type, receiver, seconds into the round).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PySide6.QtCore import QElapsedTimer, QEventLoop, QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

TICK_MS = 10
SPIKE_MS = 25  # ticks later than this are listed with the main thread's CPU time in them
TRACE = float(os.environ.get("LAG_TRACE", "0") or 0)  # > 0: report what the main thread did in lags over this (ms)
SLOW_EVENT = float(os.environ.get("LAG_EVENTS", "0") or 0)  # > 0: list events delivered slower than this (ms)


class TimedApplication(QApplication):
    """LAG_EVENTS=MS: times every event's delivery on the main thread (nested ones too)."""

    def __init__(self, argv: list[str]) -> None:
        super().__init__(argv)
        self.t0 = time.perf_counter()
        self.slow: list[tuple[float, float, str, str]] = []  # (s into the round, ms, event, receiver)

    def notify(self, receiver, event) -> bool:
        start = time.perf_counter()
        kind = event.type()  # read before delivery: the event may be gone after it
        try:
            return super().notify(receiver, event)
        finally:
            ms = (time.perf_counter() - start) * 1000
            if ms > SLOW_EVENT:
                self.slow.append((start - self.t0, ms, kind.name, type(receiver).__name__))

    def report(self) -> None:
        print(f"events delivered in over {SLOW_EVENT:.0f} ms: {len(self.slow)}; the slowest:")
        for t, ms, kind, receiver in sorted(self.slow, key=lambda e: -e[1])[:15]:
            print(f"  {ms:6.1f} ms at {t:6.2f} s: {kind} to {receiver}")


class LagTracer:
    """LAG_TRACE=MS: a watchdog thread samples the main thread's Python stack every 2 ms
    while the next tick is overdue, so each lag over MS can be put against what ran."""

    def __init__(self, threshold_ms: float) -> None:
        self.threshold = threshold_ms / 1000
        self.main = threading.get_ident()
        self.beat = time.perf_counter()
        self.t0 = self.beat
        self.cpu = time.thread_time()  # the main thread's CPU time at the last tick
        self.samples: list[tuple[float, str]] = []
        self.spikes: list[tuple[float, float, float, Counter]] = []  # (time into the run, lag ms, CPU ms, stacks)
        threading.Thread(target=self._watch, daemon=True, name="lag-tracer").start()

    def _watch(self) -> None:
        while True:
            time.sleep(0.002)
            now = time.perf_counter()
            if now - self.beat > TICK_MS / 1000 + 0.005:
                # Names only, no frame kept: a frame held past its return keeps its locals
                # (a QPainter, say) alive.
                frame = sys._current_frames().get(self.main)
                names = []
                while frame is not None and len(names) < 6:
                    names.append(f"{Path(frame.f_code.co_filename).name}:{frame.f_lineno} {frame.f_code.co_name}")
                    frame = frame.f_back
                del frame
                if names:
                    self.samples.append((now, " <- ".join(names)))

    def tick(self, lag_ms: float) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        if lag_ms / 1000 > self.threshold:
            window = Counter(text for t, text in self.samples if t >= self.beat)
            self.spikes.append((self.beat - self.t0, lag_ms, (cpu - self.cpu) * 1000, window))
        self.samples = [s for s in self.samples if s[0] >= now]
        self.beat, self.cpu = now, cpu

    def report(self, worst: int = 12) -> None:
        print(f"lag trace: {len(self.spikes)} ticks over {self.threshold * 1000:.0f} ms; the worst:")
        for t, lag, cpu, stacks in sorted(self.spikes, key=lambda s: -s[1])[:worst]:
            print(f"  {lag:6.1f} ms at {t:7.2f} s, main thread on a CPU {cpu:5.1f} ms of it")
            for text, n in stacks.most_common(3):
                print(f"      {n:3d}x {text}")


def bench_config(steps: int, precision: str | None = None):
    from studio.core.presets import DEFAULT_PRESET, PRESETS

    # The default model as it opens in the studio; samples and logs often, as a demo would.
    train = {"steps": steps, "log_every": 1, "sample_every": 25} | ({"precision": precision} if precision else {})
    return PRESETS[DEFAULT_PRESET].with_overrides(train=train)


def steps_per_second(times: list[tuple[float, int]]) -> float:
    """From (time, step) pairs, the rate after the first logged step (start-up excluded)."""
    (t0, s0), (t1, s1) = times[0], times[-1]
    return (s1 - s0) / max(t1 - t0, 1e-9)


def run_cli_process(steps: int, root: Path, precision: str | None, window=None, probe: LagProbe | None = None) -> float:
    """The CLI figure: the headless Trainer in a fresh process, as `latent-studio train` runs.

    With a probe, the same 10 ms lag probe ticks in this process meanwhile (its ~100
    wake-ups a second were otherwise counted against the GUI rounds only); the window's
    own view timer is stopped, so that only the instrument runs beside the CLI.
    """
    command = [sys.executable, __file__, "--cli-child", str(steps), "--root", str(root),
               *(["--precision", precision] if precision else [])]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if probe is not None:
        window.view_timer.stop()
        loop = QEventLoop()
        poll = QTimer()
        poll.timeout.connect(lambda: loop.quit() if child.poll() is not None else None)
        poll.start(250)
        probe.start()
        loop.exec()
        probe.stop()
        poll.stop()
        window.view_timer.start()
    out, err = child.communicate()
    if child.returncode:
        raise SystemExit(f"the CLI side failed:\n{err}")
    return float(out.strip().splitlines()[-1])


def run_cli(cfg, root: Path) -> float:
    from studio.core.train import events as ev
    from studio.core.train.trainer import Trainer

    times = []
    for event in Trainer(cfg, runs_root=root).steps():
        if isinstance(event, ev.Step):
            times.append((time.perf_counter(), event.step))
        elif isinstance(event, ev.Failed):
            raise SystemExit(f"training failed: {event.message}")
    return steps_per_second(times)


class LagProbe:
    """A 10 ms timer; each tick records how late it fired."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.spikes: list[tuple[float, float, float]] = []  # (lag ms, the main thread's CPU ms in it, s into its round)
        self.tracer = LagTracer(TRACE) if TRACE > 0 else None
        self.clock = QElapsedTimer()
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.lags.clear()
        self.spikes.clear()
        self._cpu, self._began = time.thread_time(), time.perf_counter()
        if self.tracer is not None:
            self.tracer.beat = self.tracer.t0 = time.perf_counter()
            self.tracer.cpu = time.thread_time()
            self.tracer.samples.clear()
        self.clock.start()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        elapsed = self.clock.nsecsElapsed() / 1e6
        self.clock.restart()
        self.lags.append(max(0.0, elapsed - TICK_MS))
        cpu = time.thread_time()
        if self.lags[-1] > SPIKE_MS:  # how much of it the main thread ran: little means it waited for a core
            self.spikes.append((self.lags[-1], (cpu - self._cpu) * 1000, time.perf_counter() - self._began))
        self._cpu = cpu
        if self.tracer is not None:
            self.tracer.tick(self.lags[-1])


def run_gui(app: QApplication, window, cfg, probe: LagProbe, busy: list[tuple[float, float]],
            wakeups: Counter) -> float:
    times: list[tuple[float, int]] = []

    def on_steps(chunk) -> None:
        times.append((time.perf_counter(), chunk.step))

    window.training.steps.connect(on_steps)  # one connection per round (no disconnect: see qt_compat)
    window.model_tab.set_config(cfg)
    window.dataset_tab.set_data_config(cfg.data)
    # The user picks the settings, then clicks Train: the repaints the new settings cause
    # happen before the click, so they are not counted as lag while training.
    app.processEvents()
    loop = QEventLoop()
    window.training.stateChanged.connect(lambda state: loop.quit() if state == "idle" else None)
    profile = None
    if os.environ.get("LAG_PROFILE"):  # cProfile of the main thread while it trains
        import cProfile

        profile = cProfile.Profile()
    from studio.ui.painting import thread_wakeups

    cpu, wall, process_cpu = time.thread_time(), time.perf_counter(), time.process_time()
    switches = thread_wakeups()
    if isinstance(app, TimedApplication):
        app.t0 = wall
    probe.start()
    if profile is not None:
        profile.enable()
    if not window.start_training():
        raise SystemExit(f"could not start: {window.errors}")
    loop.exec()  # the real event loop, as in the app
    if profile is not None:
        profile.disable()
        import pstats

        pstats.Stats(profile).sort_stats(os.environ["LAG_PROFILE"]).print_stats(30)
    probe.stop()
    cpu, wall, process_cpu = time.thread_time() - cpu, time.perf_counter() - wall, time.process_time() - process_cpu
    busy.append((cpu / wall, process_cpu / wall))
    for name, n in (thread_wakeups() - switches).items():
        wakeups[name] += n / wall
    times_done = list(times)
    times.clear()  # later rounds' chunks land in a list nobody reads
    if window.errors:
        raise SystemExit(f"training failed: {window.errors}")
    return steps_per_second(times_done)


def settle(window, timeout_s: float = 30.0) -> None:
    """Wait until the last GUI round's child has exited and the explorer has loaded the
    finished run (its render thread loads it with torch): either would share the cores
    with the model calls timed next."""
    deadline = time.monotonic() + timeout_s
    while (window.explore_tab.loading or multiprocessing.active_children()) and time.monotonic() < deadline:
        loop = QEventLoop()
        QTimer.singleShot(50, loop.quit)
        loop.exec()


def explorer_ms(app: QApplication, window, run_dir: Path) -> None:
    from studio.core.explore.explorer import Explorer
    from studio.core.models import build_model
    from studio.core.presets import PRESETS

    settle(window)
    print("explorer, ms per frame (model call alone; p50 / p95):")
    for name in ("gan-mlp", "cgan-mlp", "gan", "cgan"):
        cfg = PRESETS[name]
        ex = Explorer(build_model(cfg, (1, 28, 28), 10))
        z = ex.random_latent(0)
        label = 3 if ex.info.conditional else None
        times = []
        for i in range(60):
            t = time.perf_counter()
            ex.render(z + 0.01 * i, None, label)
            times.append((time.perf_counter() - t) * 1000)
        times = times[10:]
        print(f"  {name:9s} ({cfg.model.arch}, width {cfg.model.width}): "
              f"{np.percentile(times, 50):5.2f} / {np.percentile(times, 95):5.2f} ms")

    tab = window.explore_tab
    shown: list[str] = []
    tab.rendered.connect(shown.append)

    def wait_for(channel: str) -> None:
        # Wait in a real event loop: a Python busy-wait would hold the GIL the renderer needs.
        while channel not in shown:
            loop = QEventLoop()
            tab.rendered.connect(loop.quit)
            QTimer.singleShot(100, loop.quit)
            loop.exec()

    shown.clear()
    window.open_checkpoint(run_dir)
    wait_for("load")
    wait_for("image")
    latencies = []
    for v in range(-250, 251, 10):
        shown.clear()
        t = time.perf_counter()
        tab.axis_sliders.slider(0).setValue(v)
        wait_for("image")
        latencies.append((time.perf_counter() - t) * 1000)
    print(f"  slider move -> image shown in the GUI (trained cgan, DCGAN): "
          f"p50 {np.percentile(latencies, 50):.2f} ms, p95 {np.percentile(latencies, 95):.2f} ms, "
          f"render thread p50 {np.percentile(tab.render_ms[-len(latencies):], 50):.2f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150, help="training steps per run")
    parser.add_argument("--rounds", type=int, default=3, help="CLI+GUI pairs to run")
    parser.add_argument("--precision", help="train.precision of both sides (default: the preset's)")
    parser.add_argument("--no-cli-probe", action="store_true",
                        help="run the CLI side without the lag probe ticking in this process meanwhile")
    parser.add_argument("--child-nice", type=int, help="the window's training child's niceness (default: the studio's)")
    parser.add_argument("--cli-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cli_child:  # the child process of run_cli_process
        # No warm-up run first: the window's training child is a fresh process too, and a
        # process's first run of bf16 steps is ~15% slower than its next (19.1 -> 23.4,
        # 21.7 -> 25.1, 27.1 -> 31.2 steps/s here), which a warm CLI side counted against the GUI.
        print(run_cli(bench_config(args.cli_child, args.precision), args.root / "cli-runs"))
        return 0

    app = QApplication.instance() or (TimedApplication([]) if SLOW_EVENT > 0 else QApplication([]))
    from studio.ui.main_window import MainWindow
    from studio.ui.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = Settings(QSettings(str(root / "settings.ini"), QSettings.Format.IniFormat))
        window = MainWindow(settings=settings, runs_root=root / "gui-runs", show_dialogs=False)
        window.resize(1280, 800)
        window.show()
        window.tabs.setCurrentWidget(window.train_tab)
        # Like for like with the CLI, which computes no live metrics; their own cost is
        # measured by benchmarks/monitor_cost.py.
        window.train_tab.metrics_panel.live.setChecked(False)
        if args.child_nice is not None:
            window.training.child_nice = args.child_nice
        while window.dataset_tab.preview is None:
            app.processEvents()
        cfg = bench_config(args.steps, args.precision)
        import torch

        print(f"config: the {cfg.model.family} preset ({cfg.model.arch}, width {cfg.model.width}, "
              f"batch {cfg.train.batch_size}, precision {cfg.train.precision}), {args.steps} steps per run, torch threads {torch.get_num_threads()}, "
              f"the window's child at nice {window.training.child_nice}, "
              f"{os.cpu_count()} CPUs")
        probe = LagProbe()
        cli_probe = None if args.no_cli_probe else probe
        cli, gui, lags, cli_lags, busy, wakeups, spikes = [], [], [], [], [], Counter(), []
        for _ in range(args.rounds):
            cli.append(run_cli_process(args.steps, root, args.precision, window, cli_probe))
            cli_lags += probe.lags if cli_probe else []
            gui.append(run_gui(app, window, cfg, probe, busy, wakeups))
            lags += probe.lags
            spikes += [(lag, cpu, at, len(gui)) for lag, cpu, at in probe.spikes]
        lag = np.array(lags)
        print(f"event-loop lag while training ({len(lag)} ticks of {TICK_MS} ms): "
              f"p50 {np.percentile(lag, 50):.1f} ms, p99 {np.percentile(lag, 99):.1f} ms, max {lag.max():.1f} ms"
              f"  (target: max < 50 ms)")
        print(f"throughput: GUI {statistics.median(gui):.1f} steps/s, CLI {statistics.median(cli):.1f} steps/s "
              f"(per round: GUI {', '.join(f'{g:.1f}' for g in gui)}; CLI {', '.join(f'{c:.1f}' for c in cli)})")
        ratio, best = statistics.median(gui) / statistics.median(cli), max(gui) / max(cli)
        print(f"ratio GUI/CLI: {ratio:.3f} of the medians, {best:.3f} of the best runs  (target: >= 0.95)"
              + ("; the lag probe ticked beside both sides" if cli_probe else ""))
        if spikes:
            print(f"ticks over {SPIKE_MS} ms late while the GUI trained: {len(spikes)}; the worst (how long the main "
                  f"thread ran in it; the rest it waited for a core): " + "; ".join(
                      f"{lag:.1f} ms, ran {cpu:.1f}, round {r} at {at:.1f} s" for lag, cpu, at, r in sorted(spikes, reverse=True)[:5]))
        if cli_lags:
            print(f"the same probe while the CLI side trained (the window idle): p99 {np.percentile(cli_lags, 99):.1f} ms, "
                  f"max {max(cli_lags):.1f} ms")
        print(f"the window's main thread was on a CPU {statistics.median(b[0] for b in busy):.1%} of the training "
              f"time, its whole process (all threads: the event reader, the renderer) "
              f"{statistics.median(b[1] for b in busy):.1%} (medians of the rounds; 100% = one core)")
        if wakeups:
            print("the window's threads woke (per second of training, mean of the rounds; the 10 ms lag probe is "
                  "~100 of the main thread's): " + ", ".join(f"{name} {n / args.rounds:.0f}"
                                                           for name, n in wakeups.most_common(6)))
        if probe.tracer is not None:
            probe.tracer.report()
        if isinstance(app, TimedApplication):
            app.report()
        explorer_ms(app, window, window.current_run)
        t = time.perf_counter()
        window.close()
        print(f"window closed in {(time.perf_counter() - t) * 1000:.0f} ms")
    p99, worst = np.percentile(lag, 99), lag.max()

    def verdict(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    print(f"result: max lag {worst:.1f} ms (< 50: {verdict(worst < 50)}), p99 {p99:.1f} ms (< 16: {verdict(p99 < 16)}), "
          f"GUI/CLI {ratio:.3f}x of the medians ({verdict(ratio >= 0.95)}), {best:.3f}x of the best runs "
          f"({verdict(best >= 0.95)}; target >= 0.95); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
