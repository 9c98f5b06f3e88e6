"""TensorBoard: a run's losses, live metrics, sample grids and hparams as event files.

Optional: ``pip install 'latent-studio[tensorboard]'`` (events are written through
``torch.utils.tensorboard``). The run directory stays the source of truth; TensorBoard
gets a copy of it in ``runs/<name>/tb/``, written in one of two ways:

- live, by the ``TensorBoard`` callback (on when ``train.tensorboard`` is true, or when
  passed to ``Trainer(callbacks=...)``), from the events every callback sees;
- afterwards, by ``export_run`` (``latent-studio export-tb RUN``), from metrics.jsonl,
  samples/step-*.png and config.toml.

Both write the same tags: ``loss/<name>`` and ``perf/images_per_sec`` for each Step
(logged step), ``metrics/<name>`` for each Metrics event (live metrics), the image
``samples`` for each sample grid, and at the end the config as hparams (keys like
``train.lr``) with the final value of every loss and metric tag as the hparams metrics.
On resume the writer hides the events after the checkpoint's step (TensorBoard's
``purge_step``), as the trainer truncates metrics.jsonl there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.core.errors import StudioError
from studio.core.train import events as ev
from studio.core.train.callbacks import Callback

if TYPE_CHECKING:
    from studio.core.config import Config
    from studio.core.train.trainer import Trainer

INSTALL_HINT = "pip install 'latent-studio[tensorboard]'"
TB_DIRNAME = "tb"
IMAGE_TAG = "samples"
SPEED_TAG = "perf/images_per_sec"
_SAMPLE_NAME = re.compile(r"step-(\d+)\.png$")


def loss_tag(name: str) -> str:
    return f"loss/{name}"


def metric_tag(name: str) -> str:
    return f"metrics/{name}"


def require_tensorboard() -> type:
    """torch's SummaryWriter; StudioError with the install command when TensorBoard is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise StudioError(f"TensorBoard is not installed: {INSTALL_HINT}") from None
    return SummaryWriter


def hparam_dict(config: Config) -> dict[str, Any]:
    """The config as flat hparams: {"model.family": "cgan", "train.lr": 0.0002, ...}."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, (list, tuple)):
            flat[prefix] = ",".join(map(str, value))
        elif isinstance(value, (bool, int, float, str)):
            flat[prefix] = value
        else:
            flat[prefix] = str(value)

    walk("", config.to_dict())
    return flat


class EventWriter:
    """One TensorBoard log directory, written with the studio's tags (see the module doc)."""

    def __init__(self, log_dir: str | Path, purge_step: int | None = None, flush_secs: int = 10):
        summary_writer = require_tensorboard()
        self.log_dir = Path(log_dir)
        self.writer = summary_writer(str(self.log_dir), purge_step=purge_step, flush_secs=flush_secs)
        self.final: dict[str, float] = {}  # the last value of each loss and metric tag
        self.counts: dict[str, int] = {}

    def _scalar(self, tag: str, value: float, step: int, walltime: float | None, final: bool = True) -> None:
        self.writer.add_scalar(tag, float(value), step, walltime=walltime)
        self.counts[tag] = self.counts.get(tag, 0) + 1
        if final:
            self.final[tag] = float(value)

    def losses(self, step: int, losses: Mapping[str, float], images_per_sec: float | None = None,
               walltime: float | None = None) -> None:
        for name, value in losses.items():
            self._scalar(loss_tag(name), value, step, walltime)
        if images_per_sec is not None:
            self._scalar(SPEED_TAG, images_per_sec, step, walltime, final=False)

    def metrics(self, step: int, values: Mapping[str, float], walltime: float | None = None) -> None:
        for name, value in values.items():
            self._scalar(metric_tag(name), value, step, walltime)

    def image(self, step: int, grid: Any, walltime: float | None = None) -> None:
        """A sample grid: uint8 (H, W, 3)."""
        self.writer.add_image(IMAGE_TAG, grid, step, walltime=walltime, dataformats="HWC")
        self.counts[IMAGE_TAG] = self.counts.get(IMAGE_TAG, 0) + 1

    def hparams(self, config: Config, step: int) -> None:
        """The config as hparams; its metrics are the loss and metric tags, whose last
        values (already written as scalars) are the final ones the hparams table shows."""
        from torch.utils.tensorboard.summary import hparams

        for summary in hparams(hparam_dict(config), dict(self.final)):
            self.writer._get_file_writer().add_summary(summary, step)  # as add_hparams does, minus its sub-run

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class TensorBoard(Callback):
    """Writes ``runs/<name>/tb/`` as the run goes (see the module doc).

    ``enabled``: None follows ``train.tensorboard`` (the default callbacks hold one such);
    True writes whatever the config says. A missing package fails the run before anything
    is written, with the install command in the message.
    """

    name = "tensorboard"
    rank_zero_only = True

    def __init__(self, enabled: bool | None = None, flush_secs: int = 10):
        self.enabled = enabled
        self.flush_secs = flush_secs
        self.writer: EventWriter | None = None

    def wanted(self, trainer: Trainer) -> bool:
        return bool(trainer.config.train.tensorboard) if self.enabled is None else self.enabled

    def on_setup(self, trainer: Trainer) -> Iterable[ev.Event]:
        if self.wanted(trainer):
            require_tensorboard()
        return ()

    def on_start(self, trainer: Trainer) -> Iterable[ev.Event]:
        if self.wanted(trainer) and self.writer is None:
            purge = trainer.step + 1 if trainer.step > 0 else None  # a resume: forget what came after
            self.writer = EventWriter(trainer.run.path / TB_DIRNAME, purge, self.flush_secs)
        return ()

    def on_event(self, trainer: Trainer, event: ev.Event) -> None:
        w = self.writer
        if w is None:
            return
        if isinstance(event, ev.Step):
            w.losses(event.step, event.losses, event.images_per_sec)
        elif isinstance(event, ev.Metrics):
            w.metrics(event.step, event.values)
        elif isinstance(event, ev.Samples):
            w.image(event.step, event.grid)
        elif isinstance(event, (ev.Checkpoint, ev.Failed)):
            w.flush()

    def on_end(self, trainer: Trainer, stopped: bool) -> Iterable[ev.Event]:
        if self.writer is not None:
            self.writer.hparams(trainer.config, trainer.step)
            self.writer.flush()
        return ()

    def close(self, trainer: Trainer) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


# -- afterwards, from the run directory ------------------------------------------------------
@dataclass
class TensorBoardExport:
    log_dir: Path
    steps: int = 0  # Step records written
    metrics: int = 0  # Metrics records written
    images: int = 0  # sample grids written
    last_step: int = 0
    tags: dict[str, int] = field(default_factory=dict)  # tag -> values written

    def lines(self) -> list[str]:
        return [f"Wrote {self.steps} loss records, {self.metrics} metrics records and {self.images} sample grids "
                f"(to step {self.last_step}) to {self.log_dir}",
                f"View them with: tensorboard --logdir {self.log_dir}"]


def export_run(run_dir: str | Path, out: str | Path | None = None, overwrite: bool = False) -> TensorBoardExport:
    """Write a run's TensorBoard events from its directory: metrics.jsonl, samples/*.png,
    config.toml. ``out``: the log directory (default ``<run>/tb``); one that already holds
    event files is refused unless ``overwrite`` (then only those files are removed)."""
    import numpy as np
    from PIL import Image

    from studio.core.config import load_config
    from studio.core.train.rundir import RunDir

    run = RunDir(run_dir)
    if not run.config_path.exists():
        raise StudioError(f"{run.path}: not a run directory (no config.toml)")
    config = load_config(run.config_path)
    log_dir = Path(out) if out is not None else run.path / TB_DIRNAME
    old = sorted(log_dir.glob("events.out.tfevents.*")) if log_dir.is_dir() else []
    if old and not overwrite:
        files = f"{len(old)} event file{'s' if len(old) != 1 else ''}"
        raise StudioError(f"{log_dir}: already holds TensorBoard events ({files}); "
                          "give --overwrite to replace them or --out for another folder")
    require_tensorboard()
    for path in old:
        path.unlink()
    records = run.read_metrics()
    grids = []
    for path in run.sample_paths():
        match = _SAMPLE_NAME.search(path.name)
        if match:
            grids.append((int(match.group(1)), path))
    # One timeline, in step order: a step's losses, then its metrics, then its grid.
    items: list[tuple[int, int, Any]] = [(int(r.get("step", 0)), 0 if r.get("kind") == "step" else 1, r)
                                         for r in records if r.get("kind") in ("step", "metrics")]
    items += [(step, 2, path) for step, path in grids]
    items.sort(key=lambda item: (item[0], item[1]))
    report = TensorBoardExport(log_dir)
    writer = EventWriter(log_dir)
    try:
        for step, kind, item in items:
            if kind == 0:
                writer.losses(step, item.get("losses", {}), item.get("images_per_sec"))
                report.steps += 1
            elif kind == 1:
                writer.metrics(step, item.get("values", {}))
                report.metrics += 1
            else:
                try:
                    with Image.open(item) as image:
                        grid = np.asarray(image.convert("RGB"), dtype=np.uint8)
                except OSError as exc:
                    raise StudioError(f"{item}: cannot read the sample grid ({exc})") from None
                writer.image(step, grid)
                report.images += 1
            report.last_step = max(report.last_step, step)
        writer.hparams(config, report.last_step)
    finally:
        writer.close()
    report.tags = dict(writer.counts)
    return report
