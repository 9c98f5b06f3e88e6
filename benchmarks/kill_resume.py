"""Kill a CLI training with SIGKILL at random instants; after every kill, resume it.

    python benchmarks/kill_resume.py [--kills 20] [--checkpoint-every 20] [--seed 0] [--verbose]

The training is `latent-studio train` of a small preset (vae, one loss record per step)
in a subprocess; every later round is `latent-studio resume`. Each round waits until the
process trains, then kills it with SIGKILL: at a random instant within about three
checkpoint intervals, or (every other kill) in the middle of a checkpoint write. The
writer is made to pause between the weights and the resume state
(LATENT_STUDIO_CHECKPOINT_PAUSE), and the kill lands once the new step's weights file
exists but the manifest does not name it yet.

After each kill it records the steps lost (the last step logged minus the committed
checkpoint's step) and checks metrics.jsonl (steps 1, 2, ... each once: a resume must
have cut what it trains again). A round that is refused, or does not train past the
checkpoint, counts as not resumable. A last resume trains to the end. It prints:

    resumable after a kill: 20/20
    worst lost steps: 19 (checkpoint interval 20)
    metrics.jsonl: consistent (steps 1..460, none duplicated or missing)

Target (issue 11): 20/20 resumable, lost steps <= one interval.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PAUSE_ENV = "LATENT_STUDIO_CHECKPOINT_PAUSE"
STARTUP_S = 300.0  # a process that has not trained by then is stuck


def logged_steps(run: Path) -> list[int]:
    path = run / "metrics.jsonl"
    if not path.exists():
        return []
    steps = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # the line a kill cut short
        if record.get("kind") == "step":
            steps.append(record["step"])
    return steps


def committed_step(run: Path) -> int:
    try:
        return int(json.loads((run / "checkpoints" / "manifest.json").read_text())["step"])
    except (OSError, ValueError, KeyError):
        return 0


def writing_checkpoint(run: Path) -> bool:
    """A step's weights exist that the manifest does not commit yet: mid-checkpoint."""
    done = committed_step(run)
    for path in (run / "checkpoints").glob("step-*.safetensors"):
        step = path.name.split("-")[1].split(".")[0]
        if step.isdigit() and int(step) > done:
            return True
    return False


class Training:
    """A CLI process; ``started`` is set once it printed its run directory (set-up done:
    the lock taken, metrics.jsonl cut back to the checkpoint it continues from)."""

    def __init__(self, args: list[str], pause: float):
        env = {**os.environ, PAUSE_ENV: str(pause), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen([sys.executable, "-m", "studio.cli", *args], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.started = threading.Event()
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip())
            if line.startswith("Run directory:"):
                self.started.set()

    def wait_training(self, run: Path, past: int) -> bool:
        """Until it logs a step past ``past`` (True), or ends first (False)."""
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline and self.process.poll() is None:
            if self.started.is_set():
                steps = logged_steps(run)
                if steps and steps[-1] > past:
                    return True
            time.sleep(0.01)
        return False

    def last_line(self) -> str:
        return next((line for line in reversed(self.lines) if line.strip()), "no message")


def kill_at_random(process: subprocess.Popen, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end and process.poll() is None:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)


def kill_mid_checkpoint(process: subprocess.Popen, run: Path, limit_s: float) -> None:
    end = time.monotonic() + limit_s
    while time.monotonic() < end and process.poll() is None and not writing_checkpoint(run):
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)


def consistent(steps: list[int]) -> bool:
    return steps == list(range(1, len(steps) + 1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--checkpoint-every", type=int, default=20)
    parser.add_argument("--pause", type=float, default=0.3, help="seconds the writer sleeps mid-checkpoint")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", action="store_true", help="a line per kill")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    interval = args.checkpoint_every

    with tempfile.TemporaryDirectory(prefix="kill-resume-") as tmp:
        run = Path(tmp) / "run"
        config = Path(tmp) / "small.toml"
        config.write_text(small_config(interval))
        resumable, worst, broken = 0, 0, []
        step_seconds = 0.05
        for kill in range(args.kills):
            first = kill == 0
            command = ["train", "--config", str(config), "--out", str(run)] if first else ["resume", str(run)]
            committed = committed_step(run)
            training = Training(command, args.pause)
            process = training.process
            if not training.wait_training(run, committed):
                process.kill()
                process.wait(timeout=60)
                broken.append(f"kill {kill + 1}: {command[0]} did not train ({training.last_line()})")
                continue
            if not first:
                resumable += 1
            started_at = time.monotonic()
            before = logged_steps(run)[-1]
            if kill % 2:  # in the middle of a checkpoint write
                kind = "mid-checkpoint"
                kill_mid_checkpoint(process, run, limit_s=60 + 4 * interval * step_seconds)
            else:
                kind = "random"
                kill_at_random(process, rng.uniform(0, 3 * interval * step_seconds))
            process.wait(timeout=60)
            steps = logged_steps(run)
            if steps and steps[-1] > before:  # seconds per step while training, for the random instants
                step_seconds = max(0.002, (time.monotonic() - started_at) / (steps[-1] - before))
            lost = (steps[-1] if steps else 0) - committed_step(run)
            worst = max(worst, lost)
            if args.verbose:
                print(f"kill {kill + 1} ({kind}): trained to step {steps[-1] if steps else 0}, "
                      f"committed checkpoint {committed_step(run)}: {lost} steps lost")
            if not consistent(steps):
                broken.append(f"kill {kill + 1}: metrics.jsonl steps {steps[:3]}...{steps[-3:]} are not 1, 2, 3, ...")
        final = committed_step(run) + 2 * interval
        training = Training(["resume", str(run), "--steps", str(final)], 0)
        training.process.wait(timeout=STARTUP_S)
        if training.process.returncode == 0:
            resumable += 1
        else:
            broken.append(f"final resume: exit {training.process.returncode}: {training.last_line()}")
        steps = logged_steps(run)

    print(f"resumable after a kill: {resumable}/{args.kills}")
    print(f"worst lost steps: {worst} (checkpoint interval {interval})")
    state = "consistent" if consistent(steps) and steps and steps[-1] == final else "NOT consistent"
    print(f"metrics.jsonl: {state} (steps 1..{steps[-1] if steps else 0}, none duplicated or missing)"
          if state == "consistent" else f"metrics.jsonl: {state} ({len(steps)} records, last {steps[-1:]})")
    for line in broken:
        print(f"  {line}")
    ok = resumable == args.kills and worst <= interval and state == "consistent" and not broken
    return 0 if ok else 1


def small_config(interval: int) -> str:
    from studio.core.presets import preset

    config = preset("vae").with_overrides(train={
        "steps": 10_000_000, "log_every": 1, "sample_every": 50, "checkpoint_every": interval, "threads": 1})
    return config.to_toml()


if __name__ == "__main__":
    sys.exit(main())
