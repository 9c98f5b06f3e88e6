"""Trainer.steps(): the one training loop that the CLI and the GUI worker both iterate.

The loop is a generator of small events (studio.core.train.events). Pause, resume,
stop and "save now" are flags set from any thread and honoured between steps, so
the caller never has to kill anything. Everything durable goes to the run directory.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from studio.core.config import Config, load_config
from studio.core.data import ImageData, load_dataset
from studio.core.data.augment import make_augmenter
from studio.core.data.sampler import BatchSampler
from studio.core.errors import USER_ERRORS, CheckpointError
from studio.core.fileio import atomic_write_bytes, atomic_write_text
from studio.core.models import FAMILIES, GenerativeModel, build_model
from studio.core.train import events as ev
from studio.core.train.algorithms import ALGORITHMS, Algorithm
from studio.core.train.checkpoint import load_checkpoint, load_state, save_checkpoint, save_state
from studio.core.train.ema import EMA
from studio.core.train.grid import grid_layout, make_grid, png_bytes
from studio.core.train.rundir import MetricsLog, RunDir

Monitor = Callable[[GenerativeModel, int], "ev.Metrics | None"]


def pick_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        from studio.core.config import ConfigError

        raise ConfigError("train.device is cuda but no CUDA device is available; use auto or cpu")
    if name == "mps" and not torch.backends.mps.is_available():
        from studio.core.config import ConfigError

        raise ConfigError("train.device is mps but MPS is not available; use auto or cpu")
    return torch.device(name)


class Trainer:
    """Trains one model into one run directory.

    Construction is cheap; ``prepare()`` (called by ``steps()`` if needed) loads the
    data, builds the model and restores state when resuming. It raises the user's
    errors (ConfigError, DataError, CheckpointError) so a CLI can report them.
    """

    def __init__(
        self,
        config: Config,
        run_dir: str | Path | None = None,
        *,
        runs_root: str | Path = "runs",
        data: ImageData | None = None,
        monitor: Monitor | None = None,
        monitor_every: int = 0,
        resume: bool = False,
    ):
        self.config = config.validate()
        self._run_dir_arg = Path(run_dir) if run_dir is not None else None
        self._runs_root = Path(runs_root)
        self._resume = resume
        self.data = data
        self.monitor = monitor
        self.monitor_every = monitor_every or config.train.sample_every
        self.run: RunDir | None = None
        self.model: GenerativeModel | None = None
        self.ema: EMA | None = None
        self.algorithm: Algorithm | None = None
        self.step = 0
        self.device = torch.device("cpu")
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._save_now = threading.Event()
        self._prepared = False

    # -- control, callable from any thread -------------------------------------------
    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # wake a paused loop so it can stop

    def request_checkpoint(self) -> None:
        self._save_now.set()

    @property
    def run_dir(self) -> Path | None:
        return self.run.path if self.run else None

    @classmethod
    def from_run(cls, run_dir: str | Path, **kwargs: Any) -> Trainer:
        """Continue a run from its last checkpoint, keeping its step count."""
        run = RunDir(run_dir)
        if not run.config_path.exists():
            raise CheckpointError(f"{run.path}: not a run directory (no config.toml)")
        return cls(load_config(run.config_path), run.path, resume=True, **kwargs)

    # -- set-up ------------------------------------------------------------------------
    def prepare(self) -> None:
        if self._prepared:
            return
        cfg = self.config
        if cfg.train.threads:
            torch.set_num_threads(cfg.train.threads)
        self.device = pick_device(cfg.train.device)
        if self.data is None:
            self.data = load_dataset(cfg.data, "train")
        torch.manual_seed(cfg.train.seed)
        self.model = build_model(cfg, self.data.image_shape, self.data.num_classes).to(self.device)
        self.algorithm = ALGORITHMS[FAMILIES[cfg.model.family].kind](self.model, cfg)
        self.ema = EMA(self.model, cfg.train.ema) if cfg.train.ema > 0 else None
        self.sampler = BatchSampler(
            self.data, cfg.train.batch_size, torch.Generator().manual_seed(cfg.train.seed + 1), self.device
        )
        self.augment = make_augmenter(cfg.data.augment, self.data.image_shape[0])
        n, labels = grid_layout(self.model.num_classes)
        columns = 8
        fixed = torch.randn(columns if labels is not None else n, cfg.model.latent_dim, generator=torch.Generator().manual_seed(cfg.train.seed + 2))
        self._grid_z = (fixed.repeat(self.model.num_classes, 1) if labels is not None else fixed).to(self.device)
        self._grid_labels = labels
        self._grid_nrow = columns
        if self._resume:
            self.run = RunDir(self._run_dir_arg)
            self._restore()
        else:
            if self._run_dir_arg is not None:
                self._run_dir_arg.mkdir(parents=True, exist_ok=True)
                self.run = RunDir(self._run_dir_arg)
            else:
                self.run = RunDir.create(self._runs_root, RunDir.default_name(cfg.model.family))
            atomic_write_text(self.run.config_path, cfg.to_toml())
        self._prepared = True

    def _restore(self) -> None:
        loaded = load_checkpoint(self.run.last_checkpoint)
        state = load_state(self.run.state_path)
        if int(state.get("step", -1)) != loaded.step:
            raise CheckpointError(f"{self.run.state_path}: resume state is for step {state.get('step')}, weights for step {loaded.step}")
        tensors = loaded.tensors
        self.model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        if self.ema is not None:
            ema = {k[4:]: v for k, v in tensors.items() if k.startswith("ema.")}
            self.ema.load_state_dict(ema, int(state["ema_updates"]))
        for name, opt in self.algorithm.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        self.sampler.load_state_dict(state["sampler"])
        torch.set_rng_state(state["rng"])
        if self.device.type == "cuda" and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"])
        self.step = loaded.step
        self.run.truncate_metrics(self.step)

    # -- the loop ----------------------------------------------------------------------
    def steps(self) -> Iterator[ev.Event]:
        """Train to config.train.steps, yielding events; never raises for a failed run."""
        try:
            yield from self._loop()
        except USER_ERRORS as exc:
            yield ev.Failed(self.step, str(exc))
        except Exception as exc:  # noqa: BLE001 - the GUI must survive any failure
            self._write_error_log()
            yield ev.Failed(self.step, f"{type(exc).__name__}: {exc}")

    def _loop(self) -> Iterator[ev.Event]:
        self.prepare()
        t = self.config.train
        yield ev.Started(self.run.path, self.step, t.steps, str(self.device))
        log = MetricsLog(self.run.metrics_path)
        try:
            window_start, window_images = time.perf_counter(), 0
            losses: dict[str, torch.Tensor] = {}
            while self.step < t.steps:
                if not self._running.is_set():
                    yield ev.Paused(self.step)
                    self._running.wait()
                    window_start, window_images = time.perf_counter(), 0
                    yield ev.Resumed(self.step)
                if self._stop.is_set():
                    yield from self._finish(losses, stopped=True)
                    return
                losses = self._train_step()
                self.step += 1
                window_images += t.batch_size
                last = self.step == t.steps
                if self.step % t.log_every == 0 or last:
                    values = {k: float(v) for k, v in losses.items()}
                    bad = [k for k, v in values.items() if not np.isfinite(v)]
                    if bad:
                        yield self._failed_loss(bad[0], values[bad[0]])
                        return
                    now = time.perf_counter()
                    ips = window_images / max(now - window_start, 1e-9)
                    window_start, window_images = now, 0
                    log.write({"step": self.step, "kind": "step", "losses": values, "images_per_sec": round(ips, 1)})
                    yield ev.Step(self.step, values, ips)
                if self.step % t.sample_every == 0 or last:
                    yield self._samples()
                if self.monitor is not None and (self.step % self.monitor_every == 0 or last):
                    metrics = self.monitor(self._sampling_model(), self.step)
                    if metrics is not None:
                        log.write(_metrics_record(metrics))
                        yield metrics
                if (self.step % t.checkpoint_every == 0 and not last) or self._save_now.is_set():
                    self._save_now.clear()
                    if not self._finite(losses):
                        yield self._failed_loss(*self._first_bad(losses))
                        return
                    yield self._checkpoint(keep_step_copy=True)
            yield from self._finish(losses, stopped=False)
        finally:
            log.close()

    def _train_step(self) -> dict[str, torch.Tensor]:
        x, y = self.sampler.next()
        if self.augment is not None:
            x = self.augment(x)
        losses = self.algorithm.step(x, y)
        if self.ema is not None:
            self.ema.update()
        return losses

    def _finish(self, losses: dict[str, torch.Tensor], stopped: bool) -> Iterator[ev.Event]:
        if losses and not self._finite(losses):
            yield self._failed_loss(*self._first_bad(losses))
            return
        if self.step > 0:
            yield self._checkpoint(keep_step_copy=not stopped)
        yield ev.Finished(self.step, stopped)

    # -- outputs -----------------------------------------------------------------------
    def _sampling_model(self) -> GenerativeModel:
        return self.ema.shadow if self.ema is not None else self.model

    def sample_grid(self) -> np.ndarray:
        """The fixed-noise grid of the current (EMA) weights, one row per class if conditional."""
        images = self._sampling_model().sample(len(self._grid_z), z=self._grid_z, labels=self._grid_labels)
        return make_grid(images, nrow=self._grid_nrow)

    def _samples(self) -> ev.Samples:
        grid = self.sample_grid()
        path = self.run.sample_path(self.step)
        atomic_write_bytes(path, png_bytes(grid))
        return ev.Samples(self.step, grid, path)

    def _checkpoint(self, keep_step_copy: bool) -> ev.Checkpoint:
        ema_state = self.ema.state_dict() if self.ema is not None else None
        args = (self.model, self.config, self.step, self.data.class_names, self.data.name, ema_state)
        save_state(self.run.state_path, self._resume_state())
        save_checkpoint(self.run.last_checkpoint, *args)
        if keep_step_copy:
            save_checkpoint(self.run.checkpoints_dir / f"step-{self.step}.safetensors", *args)
        return ev.Checkpoint(self.step, self.run.last_checkpoint)

    def _resume_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "step": self.step,
            "optimizers": {k: o.state_dict() for k, o in self.algorithm.optimizers.items()},
            "sampler": self.sampler.state_dict(),
            "rng": torch.get_rng_state(),
            "ema_updates": self.ema.updates if self.ema is not None else 0,
        }
        if self.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state()
        return state

    # -- failures ----------------------------------------------------------------------
    @staticmethod
    def _finite(losses: dict[str, torch.Tensor]) -> bool:
        return all(bool(torch.isfinite(v)) for v in losses.values())

    @staticmethod
    def _first_bad(losses: dict[str, torch.Tensor]) -> tuple[str, float]:
        name = next(k for k, v in losses.items() if not bool(torch.isfinite(v)))
        return name, float(losses[name])

    def _failed_loss(self, name: str, value: float) -> ev.Failed:
        kept = self.run.last_checkpoint if self.run.last_checkpoint.exists() else None
        where = f"; the last good checkpoint is {kept}" if kept else "; no checkpoint had been saved yet"
        return ev.Failed(self.step, f"loss '{name}' became {value} at step {self.step}{where}")

    def _write_error_log(self) -> None:
        if self.run is not None:
            atomic_write_text(self.run.path / "error.log", traceback.format_exc())


def _metrics_record(metrics: ev.Metrics) -> dict[str, Any]:
    record: dict[str, Any] = {"step": metrics.step, "kind": "metrics", "values": metrics.values}
    if metrics.class_histogram is not None:
        record["class_histogram"] = [round(float(v), 5) for v in metrics.class_histogram]
    return record
