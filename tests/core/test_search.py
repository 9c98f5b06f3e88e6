"""Hyperparameter search: real tiny studies (Optuna, SQLite) whose trials are run directories."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from studio.core.config import ConfigError, load_config, save_config
from studio.core.presets import all_presets, preset
from studio.core.search_space import default_space, load_space, space_from_dict

optuna = pytest.importorskip("optuna")

from studio.core.search import Search, SearchSettings, TrialEnded  # noqa: E402


def tiny_vae(steps: int = 12):
    return preset("vae").with_overrides(
        model={"width": 8, "latent_dim": 8},
        train={"steps": steps, "batch_size": 16, "log_every": 2, "sample_every": steps,
               "checkpoint_every": 1000, "threads": 1})


LR_SPACE = {"train": {"lr": {"lo": 1e-6, "hi": 1e-2, "log": True}}}


def test_a_study_prunes_reloads_resumes_and_writes_a_trainable_best_config(tmp_path):
    base = tiny_vae()
    settings = SearchSettings("tiny", trials=3, objective="nll", report_every=4, runs_root=tmp_path)
    settings.study_dir.mkdir()
    study = optuna.create_study(study_name="tiny", storage=settings.storage_url)
    # Two learning rates that learn, then one that barely moves: the median pruner stops it
    # at its first report (the pruner's warm-up is a fifth of the 12 steps).
    for lr in (2e-3, 5e-3, 1e-6):
        study.enqueue_trial({"train.lr": lr})
    events = []
    result = Search(base, space_from_dict(LR_SPACE, base), settings, on_event=events.append).run()

    reloaded = optuna.load_study(study_name="tiny", storage=f"sqlite:///{tmp_path / 'tiny' / 'study.db'}")
    trials = reloaded.get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE", "PRUNED"]
    assert [sorted(t.intermediate_values) for t in trials] == [[4, 8, 12], [4, 8, 12], [4]]
    assert trials[1].value < trials[0].value < trials[2].intermediate_values[4]
    assert trials[2].user_attrs["message"] == "pruned at step 4"
    assert result.best_number == 1 and reloaded.best_trial.number == 1

    # Each trial is a run directory with its own values; the pruned one stopped at once
    # and kept a checkpoint, so it opens like any run.
    for t in trials:
        run = Path(t.user_attrs["run_dir"])
        assert load_config(run / "config.toml").train.lr == pytest.approx(t.params["train.lr"])
        assert (run / "checkpoints" / "last.safetensors").exists()
    pruned_steps = [r["step"] for r in _records(Path(trials[2].user_attrs["run_dir"])) if r["kind"] == "step"]
    assert max(pruned_steps) <= 5
    ended = [e for e in events if isinstance(e, TrialEnded)]
    assert [e.state for e in ended] == ["COMPLETE", "COMPLETE", "PRUNED"]

    best = load_config(tmp_path / "tiny" / "best.toml")
    assert best.train.lr == pytest.approx(5e-3) and best.train.steps == base.train.steps
    from studio.core.train.trainer import Trainer

    assert type(list(Trainer(best, tmp_path / "best-run").steps())[-1]).__name__ == "Finished"

    # The same study again, asked for one more trial: it continues (trial 3) and replays the past.
    events.clear()
    more = SearchSettings("tiny", trials=4, objective="nll", report_every=4, runs_root=tmp_path, resume=True)
    Search(base, space_from_dict(LR_SPACE, base), more, on_event=events.append).run()
    assert len(optuna.load_study(study_name="tiny", storage=more.storage_url).trials) == 4
    assert [e.past for e in events if isinstance(e, TrialEnded)] == [True, True, True, False]


def test_the_live_fid_is_reported_and_the_evaluator_prepared_once(tmp_path, tiny_config, cheap_evaluator):
    base = tiny_config("cgan-mlp", steps=6)
    space = space_from_dict({"model": {"lr_d": {"lo": 1e-4, "hi": 1e-3, "log": True}}}, base)
    settings = SearchSettings("fid", trials=2, objective="fid", report_every=3, runs_root=tmp_path, live_n=64)
    search = Search(base, space, settings)
    result = search.run()
    study = optuna.load_study(study_name="fid", storage=settings.storage_url)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    for t in study.trials:
        assert sorted(t.intermediate_values) == [3, 6] and math.isfinite(t.value) and t.value > 0
    assert search._monitor is not None and result.best_config.exists()


def test_a_stop_ends_the_running_trial_and_the_session(tmp_path):
    base = tiny_vae(steps=400)
    settings = SearchSettings("stop", trials=3, objective="nll", runs_root=tmp_path)
    holder = {}

    def on_event(event):
        if type(event).__name__ == "TrialProgress" and event.step >= 20:
            holder["search"].stop()

    search = holder["search"] = Search(base, space_from_dict(LR_SPACE, base), settings, on_event=on_event)
    result = search.run()
    trials = optuna.load_study(study_name="stop", storage=settings.storage_url).trials
    assert result.stopped and len(trials) == 1
    assert trials[0].state.name == "FAIL" and trials[0].user_attrs["message"] == "stopped"
    assert max(r["step"] for r in _records(Path(trials[0].user_attrs["run_dir"])) if r["kind"] == "step") < 400


def test_objective_nll_needs_a_model_with_a_likelihood(tiny_config, tmp_path):
    base = tiny_config("cgan")
    with pytest.raises(ConfigError, match="likelihood"):
        Search(base, default_space(base), SearchSettings("x", objective="nll", runs_root=tmp_path))


@pytest.mark.parametrize("study", ["", "a/b", ".."])
def test_a_study_name_is_a_plain_folder_name(tmp_path, study):
    base = tiny_vae()
    with pytest.raises(ConfigError, match="plain folder name"):
        Search(base, default_space(base), SearchSettings(study, objective="nll", runs_root=tmp_path))


@pytest.mark.parametrize("name", sorted(all_presets()))
def test_every_preset_has_a_valid_default_space(name):
    space = default_space(preset(name))
    assert space and "train.lr" in {p.name for p in space}


BAD_SPACES = [
    ('[model.nope]\nlo = 1\nhi = 2\n', "model.nope", "unknown field"),
    ('[train.lr]\nlo = 1e-4\nhi = 2.0\n', "train.lr", "outside the field's range"),
    ('[train.beta1]\nlo = 0.0\nhi = 0.9\nlog = true\n', "train.beta1", "log scale needs a positive range"),
    ('[train.optimizer]\nchoices = ["adam", "sgd"]\n', "train.optimizer", "'sgd' is not one of the field's choices"),
    ('[model.latent_dim]\nchoices = [32, 4096]\n', "model.latent_dim", "outside the field's range"),
    ('[model.loss]\nlo = 0\nhi = 1\n', "model.loss", "takes choices"),
    ('[model.latent_dim]\nlo = 8.5\nhi = 64\n', "model.latent_dim", "whole number"),
    ('[train.lr]\nlo = 1e-3\nhi = 1e-4\n', "train.lr", "must be below hi"),
    ('[train.lr]\nlo = 1e-4\nhi = 1e-3\nscale = "log"\n', "train.lr", "unknown option 'scale'"),
    ('[train.steps]\nlo = 10\nhi = 100\n', "train.steps", "--steps"),
    ('[data.image_size]\nlo = 8\nhi = 28\n', "data.image_size", "same data"),
]


@pytest.mark.parametrize(("text", "entry", "why"), BAD_SPACES)
def test_a_bad_space_entry_is_named(tmp_path, text, entry, why):
    path = tmp_path / "space.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_space(path, preset("cgan"))
    message = str(info.value)
    assert message.startswith(str(path)) and f"search space entry {entry}" in message and why in message


def test_a_space_file_takes_ranges_log_scales_and_choices(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text('"train.lr" = {lo = 1e-5, hi = 1e-2, log = true}\n'
                    '[model.latent_dim]\nchoices = [32, 64]\n[model.loss]\nchoices = ["bce", "hinge"]\n'
                    '[data.augment.translate]\nlo = 0.0\nhi = 0.1\n')
    space = {p.name: p for p in load_space(path, preset("cgan"))}
    assert space["train.lr"].log and space["train.lr"].lo == 1e-5
    assert space["model.latent_dim"].choices == (32, 64) and space["model.loss"].choices == ("bce", "hinge")
    assert space["data.augment.translate"].hi == 0.1


# -- the CLI -------------------------------------------------------------------------------------
def cli(*args, cwd=None, code=None):
    command = ["-m", "studio.cli", *map(str, args)] if code is None else ["-c", code]
    return subprocess.run([sys.executable, *command], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_cli_search_prints_a_table_and_the_best_config_and_continues(tmp_path, monkeypatch, capsys):
    from studio.cli import main

    monkeypatch.chdir(tmp_path)
    save_config(tiny_vae(steps=8), tmp_path / "base.toml")
    (tmp_path / "space.toml").write_text('[train.lr]\nlo = 1e-4\nhi = 1e-2\nlog = true\n')
    assert main(["search", "--config", "base.toml", "--space", "space.toml", "--study", "demo", "--trials", "2",
                 "--steps", "6", "--objective", "nll"]) == 0
    out = capsys.readouterr().out
    assert "trial  state" in out and "nelbo_bpd" in out and out.count("COMPLETE") == 2
    assert "Best config: runs/demo/best.toml" in out and "optuna-dashboard sqlite:///runs/demo/study.db" in out
    assert load_config(tmp_path / "runs" / "demo" / "best.toml").model.width == 8

    # Named alone, the study continues as it was run: same base, space, objective and steps.
    assert main(["search", "--study", "demo", "--trials", "3"]) == 0
    out = capsys.readouterr().out
    assert "continuing, 2 of 3 trials done" in out and "Each trial: 6 steps, nelbo_bpd" in out
    trials = optuna.load_study(study_name="demo", storage="sqlite:///runs/demo/study.db").trials
    assert len(trials) == 3 and set(trials[2].params) == {"train.lr"}


def test_cli_search_errors_are_one_line(tmp_path):
    (tmp_path / "space.toml").write_text('[train.lr]\nlo = 0.0\nhi = 0.1\nlog = true\n')
    result = cli("search", "--model", "vae", "--space", "space.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "search space entry train.lr" in result.stderr
    blocked = "import sys; sys.modules['optuna'] = None; from studio.cli import main; sys.exit(main(['search']))"
    result = cli(code=blocked, cwd=tmp_path)
    assert result.returncode == 2 and "pip install 'latent-studio[search]'" in result.stderr


def _records(run: Path) -> list[dict]:
    from studio.core.train.rundir import RunDir

    return RunDir(run).read_metrics()
