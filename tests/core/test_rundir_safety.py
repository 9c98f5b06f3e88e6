"""Nothing lost, nothing frozen: kills, second writers, full disks and bad input against the
run directory. Real tiny trainings on the embedded digits, real files, real child processes
where a kill or a second writer is involved; write failures are the real OSErrors raised
from the write layer (the tests run as root, where a chmod does not stop writes)."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio import cli
from studio.core.config import load_config, save_config
from studio.core.errors import CheckpointError, RunLocked, WriteError
from studio.core.train import events as ev
from studio.core.train.callbacks import Callback
from studio.core.train.checkpoint import load_checkpoint
from studio.core.train.manifest import PAUSE_ENV, pin, read_manifest
from studio.core.train.rundir import RunDir
from studio.core.train.trainer import Trainer


def run_all(trainer: Trainer) -> list:
    return list(trainer.steps())


def logged_steps(run: Path) -> list[int]:
    return [r["step"] for r in RunDir(run).read_metrics() if r["kind"] == "step"]


def temp_files(run: Path) -> list[Path]:
    return [p for p in run.rglob("*.tmp")]


def step_files(run: Path) -> list[str]:
    return sorted(p.name for p in (run / "checkpoints").glob("step-*"))


def child_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", **extra}


# -- a write layer that fails like a full disk or a read-only file system -------------------
class FailingWrites:
    """Raises the real OSError for writes to paths under ``root`` while ``active``: ENOSPC
    from os.write (files open fine, then the disk is full), EACCES/EROFS from os.open and
    os.mkdir (nothing can be created there) and from os.write on files already open."""

    def __init__(self, monkeypatch, root: Path, code: int, match: str = ""):
        self.root, self.code, self.match, self.active = str(root), code, match, True
        self.fds: dict[int, str] = {}
        real_open, real_write, real_close, real_mkdir = os.open, os.write, os.close, os.mkdir

        def hit(path) -> bool:
            text = os.fsdecode(path)
            return self.active and text.startswith(self.root) and self.match in text

        def fake_open(path, flags, mode=0o777, *, dir_fd=None):
            writes = flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
            if writes and self.code != errno.ENOSPC and hit(path):
                raise OSError(self.code, os.strerror(self.code), os.fsdecode(path))
            fd = real_open(path, flags, mode, dir_fd=dir_fd)
            if writes:
                self.fds[fd] = os.fsdecode(path)
            return fd

        def fake_write(fd, data):
            if fd in self.fds and hit(self.fds[fd]):
                raise OSError(self.code, os.strerror(self.code))
            return real_write(fd, data)

        def fake_close(fd):
            self.fds.pop(fd, None)
            return real_close(fd)

        def fake_mkdir(path, mode=0o777, *, dir_fd=None):
            if self.code != errno.ENOSPC and hit(path) and not os.path.isdir(path):
                raise OSError(self.code, os.strerror(self.code), os.fsdecode(path))
            return real_mkdir(path, mode, dir_fd=dir_fd)

        monkeypatch.setattr(os, "open", fake_open)
        monkeypatch.setattr(os, "write", fake_write)
        monkeypatch.setattr(os, "close", fake_close)
        monkeypatch.setattr(os, "mkdir", fake_mkdir)


class AtStep(Callback):
    """Calls ``action(trainer)`` once, after step ``step``."""

    def __init__(self, step: int, action):
        self.step, self.action = step, action

    def on_step(self, trainer, info):
        if info.step == self.step:
            self.action(trainer)
        return ()


@pytest.fixture
def no_sigint(monkeypatch):
    """cli.main's training installs a Ctrl-C handler; keep pytest's."""
    monkeypatch.setattr(signal, "signal", lambda *_a: None)


# -- 1. checkpoints as an atomic unit ------------------------------------------------------
def test_a_kill_during_a_checkpoint_write_leaves_a_resumable_run(tmp_path, tiny_config):
    config = tiny_config("cgan", steps=8, checkpoint_every=4, log_every=1, sample_every=100)
    save_config(config, tmp_path / "tiny.toml")
    run = tmp_path / "run"
    # The writer sleeps between the weights and the resume state of every checkpoint: the
    # kill lands after step 8's weights are written and before its state is.
    child = subprocess.Popen([sys.executable, "-m", "studio.cli", "train", "--config", tmp_path / "tiny.toml",
                              "--out", run], env=child_env(**{PAUSE_ENV: "1.5"}),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while not (run / "checkpoints" / "step-8.safetensors").exists():
        assert child.poll() is None and time.monotonic() < deadline, "the training ended before its last checkpoint"
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert read_manifest(run / "checkpoints").step == 4  # step 8 was never committed
    stale = run / "checkpoints" / ".last.safetensors.0a1b2c3d.tmp"  # as a kill mid-write leaves
    stale.write_bytes(b"half a file")

    resumed = Trainer.from_run(run)
    events = run_all(resumed)
    started = events[0]
    assert isinstance(started, ev.Started) and started.start_step == 4
    assert any("unfinished files" in note for note in started.notes)
    assert events[-1] == ev.Finished(8, stopped=False)
    assert temp_files(run) == [] and not (run / ".lock").exists()
    assert load_checkpoint(run).step == 8 and load_checkpoint(run / "checkpoints" / "last.safetensors").step == 8
    assert logged_steps(run) == list(range(1, 9))


def test_only_the_newest_checkpoints_are_kept_and_pinned_ones_survive(tmp_path, tiny_config, capsys):
    config = tiny_config("vae", steps=12, checkpoint_every=2, keep_checkpoints=2)
    run = tmp_path / "run"
    # Pinned while the run trains: the pin is another file name that pruning never touches.
    events = run_all(Trainer(config, run, callbacks=[AtStep(5, lambda t: pin(t.run.checkpoints_dir, 4))]))
    assert isinstance(events[-1], ev.Finished)
    assert step_files(run) == ["step-10.safetensors", "step-12.safetensors", "step-12.state.pt",
                               "step-4.pinned.safetensors"]
    assert load_checkpoint(run / "checkpoints" / "step-4.pinned.safetensors").step == 4
    assert cli.main(["pin", str(run), "10"]) == 0 and "Pinned step 10" in capsys.readouterr().out
    assert cli.main(["pin", str(run), "6"]) == 2
    assert "no checkpoint of step 6 (kept steps: 10, 12)" in capsys.readouterr().err
    assert cli.main(["pin", str(run), "4", "--remove"]) == 0
    assert "step-4.pinned.safetensors" not in step_files(run)


def test_a_run_directory_without_a_manifest_still_loads_and_resumes(tmp_path, tiny_config):
    run = tmp_path / "run"
    run_all(Trainer(tiny_config("vae", steps=4, checkpoint_every=100), run))
    ckpt = run / "checkpoints"
    # The layout before manifests: last.safetensors and last.state.pt, step copies beside.
    (ckpt / "step-4.state.pt").rename(ckpt / "last.state.pt")
    (ckpt / "manifest.json").unlink()
    (ckpt / "last.safetensors").unlink()
    (ckpt / "step-4.safetensors").rename(ckpt / "last.safetensors")
    assert load_checkpoint(run).step == 4
    trainer = Trainer.from_run(run)
    trainer.config = trainer.config.with_overrides(train={"steps": 6})
    events = run_all(trainer)
    assert events[0].start_step == 4 and events[-1] == ev.Finished(6, stopped=False)
    assert read_manifest(ckpt).step == 6 and not (ckpt / "last.state.pt").exists()


# -- 2. no checkpoint yet; train --out into an existing run -------------------------------
def test_resume_before_the_first_checkpoint_starts_over_from_step_0(tmp_path, tiny_config):
    run = tmp_path / "run"
    first = Trainer(tiny_config("vae", steps=6, checkpoint_every=100), run)
    for event in first.steps():  # stopped without saving: as a kill before any checkpoint
        if isinstance(event, ev.Step) and event.step == 4:
            first.stop(save=False)
    assert logged_steps(run) == [2, 4] and not (run / "checkpoints" / "manifest.json").exists()
    events = run_all(Trainer.from_run(run))
    assert events[0].start_step == 0
    assert any("no checkpoint yet: training starts over from step 0" in n for n in events[0].notes)
    assert events[-1] == ev.Finished(6, stopped=False)
    assert logged_steps(run) == [2, 4, 6]  # metrics.jsonl was started afresh, not appended to


def test_train_into_an_existing_run_is_refused_unless_overwrite(tmp_path, tiny_config, capsys, no_sigint):
    run = tmp_path / "run"
    run_all(Trainer(tiny_config("vae"), run))
    with pytest.raises(CheckpointError, match="already holds a run.*--overwrite"):
        Trainer(tiny_config("cgan"), run).prepare()
    assert load_checkpoint(run).config.model.family == "vae"  # untouched
    save_config(tiny_config("cgan", steps=4), tmp_path / "cgan.toml")
    assert cli.main(["train", "--config", str(tmp_path / "cgan.toml"), "--out", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("latent-studio train: error:") and "already holds a run" in err and len(err.splitlines()) == 1
    assert cli.main(["train", "--config", str(tmp_path / "cgan.toml"), "--out", str(run), "--overwrite"]) == 0
    assert load_config(run / "config.toml").model.family == "cgan" and load_checkpoint(run).config.model.family == "cgan"
    assert logged_steps(run) == [2, 4]


# -- 3. one writer per run directory -------------------------------------------------------
HOLD_LOCK = ("import sys, time\n"
             "from studio.core.train.runlock import RunLock\n"
             "lock = RunLock.acquire(sys.argv[1])\n"
             "print('locked', flush=True)\n"
             "time.sleep(120)\n")


def test_a_second_writer_is_refused_and_a_dead_ones_lock_is_taken_over(tmp_path, tiny_config, capsys, no_sigint):
    run = tmp_path / "run"
    seen = []
    run_all(Trainer(tiny_config("vae"), run, callbacks=[AtStep(3, lambda t: seen.append(
        json.loads((t.run.path / ".lock").read_text())))]))
    assert seen[0]["pid"] == os.getpid() and seen[0]["host"] and not (run / ".lock").exists()

    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(run)], stdout=subprocess.PIPE, text=True,
                              env=child_env())
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunLocked, match=f"in use by pid {holder.pid} on "):
            Trainer.from_run(run).prepare()
        assert cli.main(["resume", str(run)]) == 2
        err = capsys.readouterr().err
        assert f"pid {holder.pid}" in err and len(err.strip().splitlines()) == 1
    finally:
        holder.kill()  # SIGKILL: its lock file stays behind, held by nobody
        holder.wait(timeout=30)
    assert json.loads((run / ".lock").read_text())["pid"] == holder.pid
    trainer = Trainer.from_run(run)
    trainer.config = trainer.config.with_overrides(train={"steps": 8})
    events = run_all(trainer)
    assert any(f"from pid {holder.pid}, a process that is gone" in n for n in events[0].notes)
    assert events[-1] == ev.Finished(8, stopped=False)


def test_a_lock_naming_another_host_is_refused(tmp_path, tiny_config):
    run = tmp_path / "run"
    run_all(Trainer(tiny_config("vae", steps=2), run))
    (run / ".lock").write_text(json.dumps({"pid": 1, "host": "elsewhere.example", "since": 0}))
    with pytest.raises(RunLocked, match="locked by pid 1 on elsewhere.example.*delete this file"):
        Trainer.from_run(run).prepare()


# -- 4. write errors: one line, exit 2, the last checkpoint kept ----------------------------
def test_a_full_disk_during_a_checkpoint_keeps_the_previous_one(tmp_path, tiny_config, monkeypatch):
    run = tmp_path / "run"
    FailingWrites(monkeypatch, run, errno.ENOSPC, match="step-8")
    events = run_all(Trainer(tiny_config("vae", steps=8, checkpoint_every=4), run))
    failed = events[-1]
    assert isinstance(failed, ev.Failed) and failed.user_error
    assert "step-8.safetensors: cannot write (no space left on the disk)" in failed.message
    assert "the checkpoint of step 4 is kept" in failed.message and "\n" not in failed.message
    assert not (run / "error.log").exists() and temp_files(run) == []
    assert step_files(run) == ["step-4.safetensors", "step-4.state.pt"]
    monkeypatch.undo()
    assert load_checkpoint(run).step == 4
    assert run_all(Trainer.from_run(run))[-1] == ev.Finished(8, stopped=False)
    assert logged_steps(run) == [2, 4, 6, 8]


def test_a_run_directory_turned_read_only_mid_run_stops_cleanly(tmp_path, tiny_config, monkeypatch):
    run = tmp_path / "run"
    failing = FailingWrites(monkeypatch, run, errno.EROFS)
    failing.active = False

    def read_only(_trainer):
        failing.active = True

    events = run_all(Trainer(tiny_config("vae", steps=8, checkpoint_every=4), run, callbacks=[AtStep(5, read_only)]))
    failed = events[-1]
    assert isinstance(failed, ev.Failed) and failed.user_error
    assert "metrics.jsonl: cannot write (read-only file system)" in failed.message
    assert "stopped at step 6, the checkpoint of step 4 is kept" in failed.message
    failing.active = False
    assert load_checkpoint(run).step == 4 and not (run / ".lock").exists()


def test_an_unwritable_out_is_refused_before_the_first_step(tmp_path, tiny_config, monkeypatch, capsys, no_sigint):
    out = tmp_path / "locked-away"
    out.mkdir()
    FailingWrites(monkeypatch, out, errno.EACCES)
    with pytest.raises(WriteError, match="locked-away.*cannot write \\(permission denied\\)"):
        Trainer(tiny_config("vae"), out / "run").prepare()
    save_config(tiny_config("vae"), tmp_path / "tiny.toml")
    assert cli.main(["train", "--config", str(tmp_path / "tiny.toml"), "--out", str(out / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "permission denied" in err[0] and str(out) in err[0]


def test_a_failed_write_during_cli_training_is_one_line_and_exit_2(tmp_path, tiny_config, monkeypatch, capsys,
                                                                  no_sigint):
    save_config(tiny_config("vae", steps=8, checkpoint_every=4), tmp_path / "tiny.toml")
    FailingWrites(monkeypatch, tmp_path / "run", errno.ENOSPC, match="step-8")
    assert cli.main(["train", "--config", str(tmp_path / "tiny.toml"), "--out", str(tmp_path / "run")]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(err) == 1 and err[0].startswith("latent-studio train: error:") and "no space left" in err[0]


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    from studio.core.presets import preset

    config = preset("cgan").with_overrides(model={"width": 8}, train={"steps": 2, "batch_size": 8, "threads": 1})
    run = tmp_path_factory.mktemp("small") / "run"
    run_all(Trainer(config, run))
    return run


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS])
def test_sample_and_eval_check_their_output_before_any_work(small_run, tmp_path, monkeypatch, capsys, code):
    import studio.core.metrics.report as report
    from studio.core.models.base import GenerativeModel

    def never(*_a, **_k):
        raise AssertionError("computed before the output was checked")

    monkeypatch.setattr(GenerativeModel, "sample", never)
    monkeypatch.setattr(report, "evaluate_checkpoint", never)
    out = tmp_path / "ro"
    out.mkdir()
    FailingWrites(monkeypatch, out, code)
    for argv, name in ((["sample", str(small_run), "--out", str(out / "s.npz")], "s.npz"),
                       (["sample", str(small_run), "--out", str(out / "g.png")], "g.png"),
                       (["eval", str(small_run), "--n", "10", "--json", str(out / "e.json")], "e.json")):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"{out / name}: cannot write ({os.strerror(code).lower()}" in err[0].lower() \
            or (f"{out / name}: cannot write" in err[0] and len(err) == 1)


def test_a_full_disk_while_sampling_is_one_line_and_leaves_no_file(small_run, tmp_path, monkeypatch, capsys):
    FailingWrites(monkeypatch, tmp_path, errno.ENOSPC, match="s.npz")
    assert cli.main(["sample", str(small_run), "--n", "300", "--out", str(tmp_path / "s.npz")]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]  # past the progress bar
    assert err == [f"latent-studio sample: error: {tmp_path / 's.npz'}: cannot write (no space left on the disk)"]
    assert list(tmp_path.iterdir()) == []


def test_exports_raise_a_write_error_the_window_already_catches(tmp_path, monkeypatch):
    from studio.core.explore.export import save_png

    FailingWrites(monkeypatch, tmp_path, errno.EROFS)
    with pytest.raises(OSError, match="still.png: cannot write \\(read-only file system\\)") as info:
        save_png(np.zeros((4, 4, 3), np.uint8), tmp_path / "still.png")
    assert isinstance(info.value, WriteError)


# -- 5. a resume whose config or data disagree with the checkpoint ---------------------------
def test_resume_with_an_edited_config_names_both_files_and_the_field(tmp_path, tiny_config, capsys, no_sigint):
    run = tmp_path / "run"
    run_all(Trainer(tiny_config("cgan"), run))
    config_toml = run / "config.toml"
    config_toml.write_text(config_toml.read_text().replace("width = 8", "width = 16"))
    with pytest.raises(CheckpointError, match=r"config.toml: model.width is 16 but .*step-6.safetensors was "
                                              r"trained with 8"):
        Trainer.from_run(run).prepare()
    assert cli.main(["resume", str(run)]) == 2
    assert "model.width" in capsys.readouterr().err
    assert not (run / ".lock").exists()


def write_digits(folder: Path, size: int, classes: int = 2, per_class: int = 12) -> None:
    rng = np.random.default_rng(0)
    for c in range(classes):
        (folder / f"class{c}").mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8)).save(folder / f"class{c}" / f"{i}.png")


def test_resume_after_the_image_folder_changed_names_the_shape_and_the_classes(tmp_path, tiny_config):
    folder = tmp_path / "images"
    write_digits(folder, 28)
    config = tiny_config("cvae", steps=4).with_overrides(data={"dataset": str(folder)})
    run = tmp_path / "run"
    assert isinstance(run_all(Trainer(config, run))[-1], ev.Finished)
    for path in folder.rglob("*.png"):
        Image.open(path).resize((32, 32)).save(path)
    with pytest.raises(CheckpointError, match=r"config.toml: data.dataset .*images now gives 1x32x32 images but "
                                              r".*step-4.safetensors was trained on 1x28x28"):
        Trainer.from_run(run).prepare()
    write_digits(folder, 28, classes=3)
    for path in folder.rglob("*.png"):
        if Image.open(path).size != (28, 28):
            Image.open(path).resize((28, 28)).save(path)
    with pytest.raises(CheckpointError, match="now has 3 classes but .* was trained with 2"):
        Trainer.from_run(run).prepare()


# -- 6. bounds -----------------------------------------------------------------------------
def test_sample_refuses_a_huge_n_before_sampling_and_states_the_limit(small_run, tmp_path, monkeypatch, capsys):
    from studio.core.models.base import GenerativeModel

    calls = []
    real = GenerativeModel.sample
    monkeypatch.setattr(GenerativeModel, "sample", lambda self, n, *a, **k: calls.append(n) or real(self, n, *a, **k))
    assert cli.main(["sample", str(small_run), "--n", "10000000", "--out", str(tmp_path / "s.npz")]) == 2
    err = capsys.readouterr().err
    assert "--n must be at most 1,000,000 for 1x28x28 images" in err and "got 10,000,000" in err
    assert cli.main(["sample", str(small_run), "--n", "100000", "--out", str(tmp_path / "g.png")]) == 2
    assert "use .npz for more" in capsys.readouterr().err
    assert max(calls, default=0) <= 256 and not list(tmp_path.iterdir())


def test_sample_streams_batches_into_the_npz_and_the_grid(small_run, tmp_path, monkeypatch):
    from studio.core.models.base import GenerativeModel

    calls = []
    real = GenerativeModel.sample
    monkeypatch.setattr(GenerativeModel, "sample", lambda self, n, *a, **k: calls.append(n) or real(self, n, *a, **k))
    assert cli.main(["sample", str(small_run), "--n", "600", "--out", str(tmp_path / "s.npz")]) == 0
    assert calls == [256, 256, 88]
    with np.load(tmp_path / "s.npz") as data:
        assert data["images"].shape == (600, 28, 28) and data["images"].dtype == np.uint8
        assert list(data["labels"][:12]) == [*range(10), 0, 1] and data["labels"].dtype == np.int64
    assert cli.main(["sample", str(small_run), "--n", "300", "--out", str(tmp_path / "g.png")]) == 0
    assert Image.open(tmp_path / "g.png").size == (2 + 18 * 30, 2 + 17 * 30)


def test_a_model_too_large_for_the_device_is_refused_naming_the_field(tmp_path, tiny_config, monkeypatch):
    import studio.core.train.budget as budget

    monkeypatch.setattr(budget, "device_memory", lambda device: (8 * 1024**3, "a laptop's 8 GiB"))
    config = tiny_config("cgan").with_overrides(model={"width": 1024})
    with pytest.raises(ValueError, match=r"model.width = 1024: this cgan model would need about .* GiB to train "
                                         r"\(102,776,130 parameters.*over the budget of 4.0 GiB \(50% of a laptop's"):
        Trainer(config, tmp_path / "run").prepare()
    assert not (tmp_path / "run").exists()
    monkeypatch.setenv(budget.BUDGET_ENV, "1M")
    with pytest.raises(ValueError, match=f"over the budget of 0.0 GiB \\(the {budget.BUDGET_ENV} setting\\)"):
        Trainer(tiny_config("vae"), tmp_path / "run").prepare()
    monkeypatch.delenv(budget.BUDGET_ENV)
    assert budget.estimate(tiny_config("cgan"), (1, 28, 28), 10).activation_bytes > 0
    Trainer(tiny_config("cgan"), tmp_path / "run").prepare()


# -- 7. configs and file modes -------------------------------------------------------------
def test_an_empty_config_file_trains_the_default_preset(tmp_path):
    from studio.core.presets import DEFAULT_PRESET, preset

    for text in ("", "# nothing yet\n", "\ufeff"):
        (tmp_path / "c.toml").write_text(text, encoding="utf-8")
        assert load_config(tmp_path / "c.toml") == preset(DEFAULT_PRESET)
    (tmp_path / "c.toml").write_text("[model]\nwidth = 16\n")
    assert load_config(tmp_path / "c.toml").model.family == "cgan"  # the default family, by its own name


def test_files_are_written_with_the_users_umask(tmp_path, tiny_config):
    old = os.umask(0o022)
    try:
        run = tmp_path / "run"
        run_all(Trainer(tiny_config("vae"), run))
    finally:
        os.umask(old)
    written = [run / "config.toml", run / "metrics.jsonl", *run.glob("samples/*.png"), *run.glob("checkpoints/*")]
    assert len(written) > 5
    assert {oct(p.stat().st_mode & 0o777) for p in written} == {oct(0o644)}
