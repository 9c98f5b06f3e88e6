"""TensorBoard events, read back with TensorBoard's own reader: live (a tiny real training)
and written afterwards from the run directory (export-tb)."""

import subprocess
import sys

import pytest

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from studio.core.config import save_config  # noqa: E402
from studio.core.errors import StudioError  # noqa: E402
from studio.core.train import events as ev  # noqa: E402
from studio.core.train.callbacks import Callback  # noqa: E402
from studio.core.train.rundir import RunDir  # noqa: E402
from studio.core.train.tensorboard import export_run, require_tensorboard  # noqa: E402
from studio.core.train.trainer import Trainer  # noqa: E402

LOSS_TAGS = {"loss/d", "loss/g"}
METRIC_TAGS = {"metrics/fid_eval", "metrics/coverage"}


class FakeLiveMetrics(Callback):
    """A Metrics event every 3 steps, as LiveMetrics yields them (without its evaluator)."""

    def on_step(self, trainer, info):
        if info.step % 3:
            return ()
        return [ev.Metrics(info.step, {"fid_eval": 10.0 / info.step, "coverage": 10.0})]


def read(log_dir):
    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


def scalars(acc, tag):
    return [(e.step, e.value) for e in acc.Scalars(tag)]


@pytest.fixture(scope="module")
def tb_run(tmp_path_factory):
    from studio.core.presets import preset

    config = preset("cgan").with_overrides(
        model={"width": 8},
        train={"steps": 6, "batch_size": 8, "log_every": 2, "sample_every": 3, "checkpoint_every": 100,
               "threads": 1, "tensorboard": True})
    run = tmp_path_factory.mktemp("tb") / "run"
    events = list(Trainer(config, run, callbacks=[FakeLiveMetrics()]).steps())
    assert not [e for e in events if isinstance(e, ev.Failed)]
    return RunDir(run), config


def test_live_events_hold_every_loss_metric_grid_and_the_hparams(tb_run):
    run, config = tb_run
    acc = read(run.path / "tb")
    tags = acc.Tags()
    assert set(tags["scalars"]) == LOSS_TAGS | METRIC_TAGS | {"perf/images_per_sec"}
    jsonl = run.read_metrics()
    logged = [r for r in jsonl if r["kind"] == "step"]
    for tag in LOSS_TAGS:
        name = tag.split("/")[1]
        got = scalars(acc, tag)
        assert [s for s, _ in got] == [r["step"] for r in logged]
        assert [v for _, v in got] == pytest.approx([r["losses"][name] for r in logged], rel=1e-6)  # float32
    assert [s for s, _ in scalars(acc, "metrics/fid_eval")] == [3, 6]
    assert tags["images"] == ["samples"]
    images = acc.Images("samples")
    assert [i.step for i in images] == [3, 6]
    assert (images[0].height, images[0].width) == (2 + 10 * 30, 2 + 8 * 30)  # one row per class
    hparams = acc.PluginTagToContent("hparams")
    assert {"_hparams_/experiment", "_hparams_/session_start_info", "_hparams_/session_end_info"} <= set(hparams)
    from tensorboard.plugins.hparams import plugin_data_pb2

    start = plugin_data_pb2.HParamsPluginData.FromString(hparams["_hparams_/session_start_info"]).session_start_info
    assert start.hparams["model.family"].string_value == "cgan"
    assert start.hparams["train.steps"].number_value == 6
    experiment = plugin_data_pb2.HParamsPluginData.FromString(hparams["_hparams_/experiment"]).experiment
    assert {m.name.tag for m in experiment.metric_infos} == LOSS_TAGS | METRIC_TAGS


def test_export_tb_writes_the_same_events_from_the_run_directory(tb_run, tmp_path):
    run, _ = tb_run
    report = export_run(run.path, tmp_path / "tb")
    assert (report.steps, report.metrics, report.images, report.last_step) == (3, 2, 2, 6)
    live, exported = read(run.path / "tb"), read(tmp_path / "tb")
    assert exported.Tags()["scalars"] and set(exported.Tags()["scalars"]) == set(live.Tags()["scalars"])
    for tag in LOSS_TAGS | METRIC_TAGS:
        assert scalars(exported, tag) == scalars(live, tag)
    assert [i.step for i in exported.Images("samples")] == [3, 6]
    assert [i.encoded_image_string for i in exported.Images("samples")] == \
        [i.encoded_image_string for i in live.Images("samples")]
    assert "_hparams_/experiment" in exported.PluginTagToContent("hparams")
    with pytest.raises(StudioError, match="already holds TensorBoard events"):
        export_run(run.path, tmp_path / "tb")
    export_run(run.path, tmp_path / "tb", overwrite=True)
    assert len(list((tmp_path / "tb").glob("events.out.tfevents.*"))) == 1


def test_resume_hides_the_events_after_the_checkpoint(tmp_path, tiny_config):
    config = tiny_config("vae", steps=4, log_every=1, checkpoint_every=2, tensorboard=True)
    first = Trainer(config, tmp_path / "run")
    for event in first.steps():
        if isinstance(event, ev.Step) and event.step == 3:
            first.stop(save=False)  # step 3 is past the checkpoint: the resumed run logs it again
    resumed = Trainer.from_run(tmp_path / "run")
    assert not [e for e in resumed.steps() if isinstance(e, ev.Failed)]
    acc = read(tmp_path / "run" / "tb")
    assert [s for s, _ in scalars(acc, "loss/loss")] == [1, 2, 3, 4]


def test_without_the_package_the_error_names_the_extra(monkeypatch, tmp_path, tiny_config):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if not installed
    with pytest.raises(StudioError, match=r"pip install 'latent-studio\[tensorboard\]'"):
        require_tensorboard()
    events = list(Trainer(tiny_config("vae", tensorboard=True), tmp_path / "run").steps())
    assert isinstance(events[-1], ev.Failed) and "latent-studio[tensorboard]" in events[-1].message
    assert not (tmp_path / "run").exists()  # refused before anything was written


def cli(*args, block_tensorboard=False):
    code = "import sys\n"
    if block_tensorboard:
        code += "sys.modules['torch.utils.tensorboard'] = None\n"
    code += "from studio.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, timeout=300)


def test_cli_train_tensorboard_and_export_tb(tmp_path, tiny_config):
    save_config(tiny_config("vae", steps=2, sample_every=2), tmp_path / "tiny.toml")
    result = cli("train", "--config", tmp_path / "tiny.toml", "--out", tmp_path / "run", "--tensorboard")
    assert result.returncode == 0, result.stderr
    assert "tensorboard = true" in (tmp_path / "run" / "config.toml").read_text()
    assert set(read(tmp_path / "run" / "tb").Tags()["scalars"]) >= {"loss/loss", "loss/recon", "loss/kl"}
    result = cli("export-tb", tmp_path / "run")
    assert result.returncode == 2 and "already holds TensorBoard events" in result.stderr
    result = cli("export-tb", tmp_path / "run", "--out", tmp_path / "again")
    assert result.returncode == 0, result.stderr
    assert "Wrote 1 loss records, 0 metrics records and 1 sample grids (to step 2)" in result.stdout
    for args in (["export-tb", tmp_path / "run", "--overwrite"],
                 ["train", "--config", tmp_path / "tiny.toml", "--out", tmp_path / "new", "--tensorboard"]):
        result = cli(*args, block_tensorboard=True)
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().splitlines() == [
            f"latent-studio {args[0]}: error: TensorBoard is not installed: pip install 'latent-studio[tensorboard]'"]
    assert not (tmp_path / "new").exists()
