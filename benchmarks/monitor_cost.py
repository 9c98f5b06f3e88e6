"""What the live monitor costs: its share of training time for each preset.

Trains a preset for a few hundred steps with the monitor on (every ``--every`` steps,
as the GUI runs it) and prints the time spent in monitor calls as a percentage of the
time spent training. The issue's budget is 10%.

    python benchmarks/monitor_cost.py [--presets cgan,gan,vae] [--steps 400] [--every 200]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from studio.core.config import DataConfig
from studio.core.data import load_dataset
from studio.core.metrics.monitor import prepare_monitor
from studio.core.presets import PRESETS
from studio.core.train import events as ev
from studio.core.train.live_metrics import LiveMetrics
from studio.core.train.trainer import Trainer


def measure(name: str, steps: int, every: int) -> tuple[float, float, int]:
    """(training seconds excluding the monitor, monitor seconds, monitor calls)."""
    cfg = PRESETS[name].with_overrides(train={"steps": steps, "sample_every": every, "checkpoint_every": 10_000_000})
    data = load_dataset(DataConfig(dataset=cfg.data.dataset), "train")
    monitor = prepare_monitor(cfg, data)
    live = LiveMetrics(every=every, budget=None, prepare=lambda *_a, **_k: monitor)  # every check runs
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, tmp, data=data, callbacks=[live])
        trainer.prepare()
        started = time.perf_counter()
        for event in trainer.steps():
            if isinstance(event, ev.Failed):
                raise SystemExit(event.message)
        total = time.perf_counter() - started
    return total - monitor.seconds, monitor.seconds, monitor.calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="cgan,gan,vae")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--every", type=int, default=200)
    args = parser.parse_args()
    print(f"{'preset':<10} {'train s':>8} {'monitor s':>10} {'calls':>6} {'per call':>9} {'cost':>7}")
    for name in args.presets.split(","):
        train_s, mon_s, calls = measure(name, args.steps, args.every)
        print(f"{name:<10} {train_s:8.1f} {mon_s:10.2f} {calls:6d} {mon_s / max(calls, 1):8.2f}s "
              f"{100 * mon_s / train_s:6.1f}%", flush=True)


if __name__ == "__main__":
    main()
