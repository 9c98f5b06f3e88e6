"""Run controls while paused (save now, one step), the learning rate changed mid-run, the
wall-clock field of metrics.jsonl, and sample grids added by wall time within a budget."""

import json

import pytest

from studio.core.train import events as ev
from studio.core.train.checkpoint import load_checkpoint
from studio.core.train.runinfo import read_curves, summarize
from studio.core.train.trainer import Trainer


def test_paused_run_saves_on_request_steps_once_and_takes_a_new_learning_rate(tmp_path, tiny_config):
    cfg = tiny_config("gan-mlp", steps=10_000, log_every=1, sample_every=10_000, checkpoint_every=10_000)
    trainer = Trainer(cfg, tmp_path / "run")
    seen, saved_while_paused = [], None
    for event in trainer.steps():
        seen.append(event)
        if isinstance(event, ev.Step) and event.step == 3:
            trainer.pause()
        elif isinstance(event, ev.Paused):
            trainer.request_checkpoint()
        elif isinstance(event, ev.Checkpoint) and saved_while_paused is None:
            saved_while_paused = load_checkpoint(tmp_path / "run").step
            trainer.step_once()
        elif isinstance(event, ev.Step) and event.step == 4:
            trainer.set_lr(1e-3)
        elif isinstance(event, ev.LearningRate):
            trainer.stop()
    kinds = [type(e).__name__ for e in seen]
    after_pause = kinds[kinds.index("Paused"):]
    assert after_pause == ["Paused", "Checkpoint", "Step", "LearningRate", "Resumed", "Checkpoint", "Finished"]
    assert saved_while_paused == 3  # written while paused, not at the resume
    assert seen[kinds.index("LearningRate")] == ev.LearningRate(4, 1e-3, cfg.train.lr)
    assert seen[-1] == ev.Finished(4, stopped=True)  # exactly one step while paused
    lrs = {name: opt.param_groups[0]["lr"] for name, opt in trainer.algorithm.optimizers.items()}
    ratio = cfg.model.lr_d / cfg.train.lr
    assert lrs["generator"] == pytest.approx(1e-3) and lrs["discriminator"] == pytest.approx(1e-3 * ratio)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    change = [r for r in records if r["kind"] == "lr"]
    assert len(change) == 1 and change[0]["step"] == 4 and change[0]["lr"] == 1e-3
    assert "learning rate changed" in change[0]["note"]
    assert all(isinstance(r["time"], float) for r in records)  # the time axis of Compare runs
    assert read_curves(tmp_path / "run").lr_changes == [(4, 1e-3)]


def test_a_changed_learning_rate_survives_a_resume(tmp_path, tiny_config):
    cfg = tiny_config("vae", steps=4, checkpoint_every=100)
    trainer = Trainer(cfg, tmp_path / "run")
    for event in trainer.steps():
        if isinstance(event, ev.Step) and event.step == 2:
            trainer.set_lr(5e-4)
    resumed = Trainer.from_run(tmp_path / "run")
    resumed.config = resumed.config.with_overrides(train={"steps": 6})
    list(resumed.steps())
    assert resumed.lr == 5e-4
    assert [g["lr"] for o in resumed.algorithm.optimizers.values() for g in o.param_groups] == [pytest.approx(5e-4)]
    summary = summarize(tmp_path / "run")
    assert summary.saved_step == 6 and summary.family == "vae" and not summary.resumable


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def grid_steps(trainer, clock, step_s, grid_s=0.0):
    """Train, advancing the fake clock ``step_s`` per step and ``grid_s`` per grid drawn."""
    grids = trainer.callback("grids")
    grids.clock = clock
    draw = grids.grid

    def slow_grid(t):
        clock.now += grid_s
        return draw(t)

    grids.grid = slow_grid
    steps = []
    for event in trainer.steps():
        if isinstance(event, ev.Step):
            clock.now += step_s
        elif isinstance(event, ev.Samples):
            steps.append(event.step)
    return steps


def test_grids_by_wall_time_add_to_the_step_cadence(tmp_path, tiny_config):
    cfg = tiny_config("vae", steps=20, log_every=1, sample_every=10, checkpoint_every=100)
    off = Trainer(cfg, tmp_path / "off")
    assert grid_steps(off, FakeClock(), step_s=3.0) == [10, 20]  # every_s = 0: the step cadence only
    on = Trainer(cfg, tmp_path / "on")
    on.callback("grids").every_s = 10.0
    # 3 s a step: a grid by time every 4 steps, and the step cadence's grids at 10 and 20.
    assert grid_steps(on, FakeClock(), step_s=3.0) == [4, 8, 10, 14, 18, 20]


def test_grids_by_wall_time_stay_within_their_budget(tmp_path, tiny_config):
    cfg = tiny_config("vae", steps=40, log_every=1, sample_every=1000, checkpoint_every=1000)
    trainer = Trainer(cfg, tmp_path / "run")
    trainer.callback("grids").every_s = 1.0
    clock = FakeClock()
    steps = grid_steps(trainer, clock, step_s=1.0, grid_s=2.0)  # a grid costs two steps' time
    extra = steps[:-1]  # the last is the final step's
    assert extra, "a grid by time came"
    assert 2.0 * len(extra) <= 0.10 * clock.now + 2.0  # within 10% of the time (one grid of slack)
