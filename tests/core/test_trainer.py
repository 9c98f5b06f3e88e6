"""Real tiny trainings on the embedded digits: events, run directory, resume, failures."""

import json
import threading

import numpy as np
import pytest
import torch

from studio.core.train import events as ev
from studio.core.train.callbacks import Callback
from studio.core.train.checkpoint import load_checkpoint
from studio.core.train.rundir import RunDir
from studio.core.train.trainer import Trainer


def run_all(trainer):
    return list(trainer.steps())


@pytest.mark.parametrize("name", ["cgan", "gan-mlp", "vae", "cvae", "wgan-gp", "vae-mlp"])
def test_each_family_trains_and_writes_its_run_directory(tmp_path, tiny_config, name):
    trainer = Trainer(tiny_config(name), tmp_path / "run")
    events = run_all(trainer)
    kinds = [type(e) for e in events]
    assert kinds[0] is ev.Started and kinds[-1] is ev.Finished and ev.Failed not in kinds
    steps = [e for e in events if isinstance(e, ev.Step)]
    assert [s.step for s in steps] == [2, 4, 6]
    assert all(np.isfinite(v) for s in steps for v in s.losses.values())
    grids = [e for e in events if isinstance(e, ev.Samples)]
    assert grids and grids[-1].grid.dtype == np.uint8 and grids[-1].grid.flags.c_contiguous
    run = RunDir(tmp_path / "run")
    assert run.config_path.exists() and len(run.sample_paths()) == 2
    assert [r["step"] for r in run.read_metrics()] == [2, 4, 6]
    assert (run.checkpoints_dir / "step-4.safetensors").exists()
    loaded = load_checkpoint(run.path)
    assert loaded.step == 6 and loaded.config == trainer.config


def test_conditional_grid_has_one_row_per_class(tmp_path, tiny_config):
    trainer = Trainer(tiny_config("cgan", steps=1), tmp_path / "run")
    grid = [e for e in run_all(trainer) if isinstance(e, ev.Samples)][-1].grid
    # 28 px digits with 2 px padding: 10 rows of classes, 8 columns of fixed noise.
    assert grid.shape == (2 + 10 * 30, 2 + 8 * 30, 3)


def test_same_seed_gives_the_same_losses(tmp_path, tiny_config):
    def losses(path):
        return [e.losses for e in Trainer(tiny_config("cgan"), path).steps() if isinstance(e, ev.Step)]

    assert losses(tmp_path / "a") == losses(tmp_path / "b")


@pytest.mark.parametrize("name", ["cgan", "vae"])
def test_resume_matches_an_uninterrupted_run(tmp_path, tiny_config, name):
    config = tiny_config(name, steps=10, log_every=1, checkpoint_every=100)
    config = config.with_overrides(data={"augment": {"rotate_degrees": 10.0, "translate": 0.1}})
    straight = [e.losses for e in Trainer(config, tmp_path / "straight").steps() if isinstance(e, ev.Step)]

    first = Trainer(config, tmp_path / "split")
    for event in first.steps():
        if isinstance(event, ev.Step) and event.step == 4:
            first.stop()
    assert event == ev.Finished(4, stopped=True)
    resumed = Trainer.from_run(tmp_path / "split")
    rest = [e for e in resumed.steps() if isinstance(e, ev.Step)]
    assert rest[0].step == 5
    assert [e.losses for e in rest] == straight[4:]
    logged = RunDir(tmp_path / "split").read_metrics()
    assert [r["step"] for r in logged] == list(range(1, 11))


def test_nan_loss_fails_the_run_and_keeps_the_last_good_checkpoint(tmp_path, tiny_config):
    class Poison(Callback):  # a real model update gone wrong: a weight becomes NaN
        def on_step(self, trainer, info):
            if info.step == 5:
                with torch.no_grad():
                    next(trainer.model.parameters()).fill_(float("nan"))
            return ()

    config = tiny_config("vae", steps=10, log_every=2, checkpoint_every=4)
    trainer = Trainer(config, tmp_path / "run", callbacks=[Poison()])
    events = run_all(trainer)
    failed = events[-1]
    assert isinstance(failed, ev.Failed)
    assert "loss 'loss' became nan at step 6" in failed.message and "last.safetensors" in failed.message
    loaded = load_checkpoint(tmp_path / "run")
    assert loaded.step == 4
    assert all(torch.isfinite(p).all() for p in loaded.model.parameters())


def test_pause_resume_and_stop_from_another_thread(tmp_path, tiny_config):
    trainer = Trainer(tiny_config("vae", steps=10_000, log_every=1, sample_every=10_000), tmp_path / "run")
    seen = []
    for event in trainer.steps():
        seen.append(event)
        if isinstance(event, ev.Step) and event.step == 3:
            trainer.pause()
        elif isinstance(event, ev.Paused):
            threading.Timer(0.05, trainer.resume).start()
        elif isinstance(event, ev.Resumed):
            trainer.stop()
    kinds = [type(e).__name__ for e in seen]
    assert kinds[-4:] == ["Paused", "Resumed", "Checkpoint", "Finished"]
    assert seen[-1] == ev.Finished(3, stopped=True)
    assert load_checkpoint(tmp_path / "run").step == 3


def test_a_missing_dataset_is_a_failed_event_not_a_crash(tmp_path, tiny_config):
    config = tiny_config("vae").with_overrides(data={"dataset": str(tmp_path / "nowhere")})
    events = run_all(Trainer(config, tmp_path / "run"))
    assert isinstance(events[-1], ev.Failed) and "nowhere" in events[-1].message


def test_metrics_lines_are_json(tmp_path, tiny_config):
    run_all(Trainer(tiny_config("gan-mlp"), tmp_path / "run"))
    for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        assert record["kind"] == "step" and set(record["losses"]) == {"d", "g"}
