"""Trainer.steps(): the one training loop that the CLI and the GUI both iterate.

The loop is a generator of small events (studio.core.train.events). It knows no
families: the model and its algorithm come from the family registry, and every side
effect (metrics.jsonl, grids, checkpoints, NaN detection, live metrics) is a callback
(studio.core.train.callbacks). Pause, resume, stop and "save now" are flags set from
any thread and honoured between steps, so the caller never has to kill anything.

Randomness: the model is initialised under ``torch.random.fork_rng`` and training
draws from the trainer's own seeded generators (saved with the resume state), so a
run neither reads nor writes the global RNG and two trainers can share a process.
The CPU thread count is the caller's to set (``apply_threads``), once.

The run directory: ``prepare()`` checks the model fits the device's memory (before
anything is allocated), takes the directory's lock (one writer, studio.core.train.runlock),
tidies what a killed writer left, checks it can write, and refuses to train a new run
into a directory that holds one unless ``overwrite``. A checkpoint commits weights and
resume state as one unit (studio.core.train.manifest); a failed write keeps the last
checkpoint and ends the run with a Failed event, so the run stays resumable.

Several processes (torchrun, ``distributed``): every rank runs this loop on its shard of
each global batch; the ranks agree at each step boundary and only rank 0 writes the run
directory (studio.core.train.distributed says how; the trainer's part of it is the
``RankAgreement`` mixin, studio.core.train.rank_agreement).
"""

from __future__ import annotations

import contextlib
import threading
import traceback
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch

from studio.core.config import Config, ConfigError, load_config
from studio.core.data import ImageData, load_dataset
from studio.core.data.augment import make_augmenter
from studio.core.data.sampler import BatchSampler
from studio.core.errors import USER_ERRORS, CheckpointError, WriteError
from studio.core.fileio import atomic_write_text, check_writable, writing
from studio.core.models import GenerativeModel, build_model
from studio.core.train import events as ev
from studio.core.train.algorithm import Algorithm
from studio.core.train.budget import check_budget
from studio.core.train.callbacks import Callback, StepInfo, default_callbacks
from studio.core.train.checkpoint import checkpoint_bytes, load_state, read_checkpoint, state_bytes
from studio.core.train.distributed import NOISE_SEED_STRIDE, Distributed
from studio.core.train.ema import EMA
from studio.core.train.manifest import commit, committed, tidy
from studio.core.train.precision import PrecisionStep, check_precision
from studio.core.train.rank_agreement import PAUSE_POLL_S, RankAgreement
from studio.core.train.resumecheck import check_resumable
from studio.core.train.rundir import RunDir
from studio.core.train.runlock import RunLock
from studio.core.train.transfer import freeze, init_from_checkpoint


def pick_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device is cuda but no CUDA device is available; use auto or cpu")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("train.device is mps but MPS is not available; use auto or cpu")
    return torch.device(name)


def apply_threads(threads: int) -> None:
    """Set torch's CPU thread count for the calling thread (0: leave torch's default)."""
    if threads:
        torch.set_num_threads(threads)


class Trainer(RankAgreement):
    """Trains one model into one run directory.

    Construction is cheap; ``prepare()`` (called by ``steps()`` if needed) loads the
    data, builds the model and restores state when resuming. It raises the user's
    errors (ConfigError, DataError, CheckpointError) so a CLI can report them.
    ``callbacks``: extra callbacks (live metrics, TensorBoard, ...) besides the defaults.
    ``overwrite``: a new run may replace the run already in ``run_dir`` (else refused).
    ``distributed``: this process's rank in a torchrun group (None: a single process).
    """

    def __init__(
        self,
        config: Config,
        run_dir: str | Path | None = None,
        *,
        runs_root: str | Path = "runs",
        data: ImageData | None = None,
        callbacks: Iterable[Callback] = (),
        resume: bool = False,
        overwrite: bool = False,
        distributed: Distributed | None = None,
    ):
        self.config = config.validate()
        self._run_dir_arg = Path(run_dir) if run_dir is not None else None
        self._runs_root = Path(runs_root)
        self._resume = resume
        self.overwrite = overwrite
        self.lock: RunLock | None = None
        self.saved_step: int | None = None  # of the committed checkpoint
        self.data = data
        self.dist = distributed
        self.callbacks: list[Callback] = self._for_this_rank(default_callbacks(callbacks))
        self.run: RunDir | None = None
        self.model: GenerativeModel | None = None
        self.ema: EMA | None = None
        self.algorithm: Algorithm | None = None
        self.step = 0
        self.device = torch.device("cpu")
        self.notes: list[str] = []  # what set-up did, for a person (Started.notes)
        self.frozen: list[str] = []
        self.last_losses: dict[str, torch.Tensor] = {}
        self.save_on_stop = True
        self.failed = False
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._save_now = threading.Event()
        self._step_once = threading.Event()
        self._lr_request: float | None = None  # a new learning rate, applied between steps
        self.lr: float | None = None  # the generator's (train.lr) now; None: the config's
        self._paused = False  # a Paused event was yielded and no Resumed since
        self._others_paused = False  # distributed: another rank asked for a pause
        self._failure_shared = False  # distributed: every rank knows this run failed
        self._prepared = False

    # -- control, callable from any thread -------------------------------------------
    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self, save: bool = True) -> None:
        """End at the next step boundary; ``save``: write a final checkpoint first."""
        self.save_on_stop = save
        self._stop.set()
        self._running.set()  # wake a paused loop so it can stop

    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def request_checkpoint(self) -> None:
        """Save at the next step boundary; while paused, within PAUSE_POLL_S."""
        self._save_now.set()

    def step_once(self) -> None:
        """While paused: run exactly one step and stay paused (ignored while running)."""
        self._step_once.set()

    def set_lr(self, lr: float) -> None:
        """Change the learning rate from the next step boundary (a LearningRate event says when)."""
        self._lr_request = float(lr)

    def take_save_request(self) -> bool:
        if self._save_now.is_set():
            self._save_now.clear()
            return True
        return False

    @property
    def run_dir(self) -> Path | None:
        return self.run.path if self.run else None

    @property
    def sampling_model(self) -> GenerativeModel:
        """The model samples come from: the EMA copy when there is one."""
        return self.ema.shadow if self.ema is not None else self.model

    @property
    def has_live_metrics(self) -> bool:
        return self.callback("live_metrics") is not None

    def callback(self, name: str) -> Callback | None:
        return next((c for c in self.callbacks if c.name == name), None)

    @classmethod
    def from_run(cls, run_dir: str | Path, **kwargs: Any) -> Trainer:
        """Continue a run from its last checkpoint, keeping its step count."""
        run = RunDir(run_dir)
        if not run.config_path.exists():
            raise CheckpointError(f"{run.path}: not a run directory (no config.toml)")
        return cls(load_config(run.config_path), run.path, resume=True, **kwargs)

    def _for_this_rank(self, callbacks: list[Callback]) -> list[Callback]:
        """All callbacks in one process. Distributed: only rank 0 writes files, and the
        thread tuner is off (torchrun sets each rank's threads; ranks tuning on their own
        would measure each other)."""
        if self.dist is None:
            return callbacks
        return [c for c in callbacks if c.name != "threads" and (self.dist.is_main or not c.rank_zero_only)]

    @property
    def is_main(self) -> bool:
        """Whether this process writes the run directory (rank 0, or the only process)."""
        return self.dist is None or self.dist.is_main

    # -- set-up ------------------------------------------------------------------------
    def load_data(self) -> ImageData:
        if self.data is None:
            self.data = load_dataset(self.config.data, "train")
        return self.data

    def prepare(self) -> None:
        if self._prepared:
            return
        cfg = self.config
        self.device = self.dist.device if self.dist is not None else pick_device(cfg.train.device)
        if self.dist is not None:
            self.dist.per_rank_batch(cfg.train.batch_size)  # refused before anything is written
        check_precision(cfg.train.precision, self.device, cfg.family.algorithm_class(), cfg.family.name)
        data = self.load_data()
        check_budget(cfg, data.image_shape, data.num_classes, self.device)  # before any allocation
        self.run = self._open_run() if self.dist is None else self._shared_run()
        try:
            self._build(data)
            if self._resume:
                self._restore()
            elif self.is_main:
                atomic_write_text(self.run.config_path, cfg.to_toml())
        except BaseException:
            self.close()
            raise
        self._prepared = True

    def _build(self, data: ImageData) -> None:
        cfg = self.config
        seed = cfg.train.seed
        rank = self.dist.rank if self.dist is not None else 0
        with torch.random.fork_rng(devices=[]):  # initialisation from the seed, global RNG untouched
            torch.manual_seed(seed)
            model = build_model(cfg, data.image_shape, data.num_classes)
        self._start_from(model)
        self.model = model.to(self.device)
        # The algorithm's noise and the augmentations: each rank its own stream.
        self.generator = torch.Generator(self.device).manual_seed(seed + 3 + NOISE_SEED_STRIDE * rank)
        self.augment_generator = torch.Generator().manual_seed(seed + 4 + NOISE_SEED_STRIDE * rank)
        self.algorithm = cfg.family.algorithm_class()(self.model, cfg, self.generator)
        if self.dist is not None:
            try:
                self.algorithm.distribute(self.dist.wrap)
            except NotImplementedError:
                raise ConfigError(f"model.family = {cfg.model.family} cannot train in several processes") from None
        self.precision_step = PrecisionStep(self.algorithm, cfg.train.precision, self.device)  # train.precision
        self.ema = EMA(self.model, cfg.train.ema) if cfg.train.ema > 0 else None
        shard = (rank, self.dist.world) if self.dist is not None else (0, 1)
        self.sampler = BatchSampler(data, cfg.train.batch_size, torch.Generator().manual_seed(seed + 1), self.device,
                                    shard=shard)
        self.augment = make_augmenter(cfg.data.augment, data.image_shape[0], self.augment_generator)

    def _start_from(self, model: GenerativeModel) -> None:
        """``train.init_from`` and ``train.freeze`` (not on resume: the checkpoint has it all)."""
        t = self.config.train
        report = None
        if t.init_from and not self._resume:
            report = init_from_checkpoint(model, t.init_from)
            self.notes += report.lines()
        if t.freeze:
            prefixes = self.config.family.freeze_prefixes(t.freeze)  # a family's preset names, or prefixes
            self.frozen = freeze(model, prefixes)
            self.notes.append(f"Frozen: {len(self.frozen)} parameter tensors under {', '.join(prefixes)}")
            if report is not None:
                self.notes += report.frozen_fresh_lines(self.frozen)

    def _open_run(self) -> RunDir:
        """The run directory, created (or refused, or cleared) and locked for this trainer."""
        if self._resume:
            run = RunDir(self._run_dir_arg)
        elif self._run_dir_arg is None:
            run = RunDir.create(self._runs_root, RunDir.default_name(self.config.model.family))
        else:
            run = RunDir(self._run_dir_arg)
            if run.holds_run() and not self.overwrite:
                raise CheckpointError(f"{run.path}: already holds a run; continue it with `latent-studio resume "
                                      f"{run.path}`, or replace it with --overwrite")
            with writing(run.path):
                run.path.mkdir(parents=True, exist_ok=True)
        self.lock = RunLock.acquire(run.path)
        try:
            if self.overwrite and not self._resume:
                run.clear()
            if self.lock.took_over:
                self.notes.append(f"Took over the run directory from pid {self.lock.took_over.get('pid', '?')}, "
                                  "a process that is gone")
            self.notes += tidy(run.path, run.checkpoints_dir)
            for folder in (run.checkpoints_dir, run.samples_dir):  # before the first step, not after it
                check_writable(folder)
        except BaseException:
            self.lock.release()
            raise
        return run

    def close(self) -> None:
        """Release the run directory's lock (steps() does when its loop ends); idempotent."""
        if self.lock is not None:
            self.lock.release()

    def _restore(self) -> None:
        """Continue from the committed checkpoint, or from step 0 when there is none yet."""
        found = committed(self.run.checkpoints_dir)
        if found is None:
            self.notes.append(f"{self.run.path} has no checkpoint yet: training starts over from step 0")
            self._forget_after(0)
            return
        loaded = read_checkpoint(found.weights)
        check_resumable(self.run.config_path, self.config, loaded, self.data)
        state = load_state(found.state)
        if int(state.get("step", -1)) != loaded.step or found.step not in (None, loaded.step):
            raise CheckpointError(f"{found.state}: resume state is for step {state.get('step')}, weights for step {loaded.step}")
        try:
            self._apply(loaded.tensors, state)
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(f"{found.weights}: does not fit the model of {self.run.config_path} ({first})") from None
        self.step = self.saved_step = loaded.step
        self._forget_after(self.step)

    def _forget_after(self, step: int) -> None:
        """What was logged after the step we continue from is trained (and logged) again."""
        if not self.is_main:
            return
        self.run.truncate_metrics(step)
        self.run.remove_samples_after(step)

    def _apply(self, tensors: dict[str, torch.Tensor], state: dict[str, Any]) -> None:
        self.model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        if self.ema is not None:
            ema = {k[4:]: v for k, v in tensors.items() if k.startswith("ema.")}
            self.ema.load_state_dict(ema, int(state["ema_updates"]))
        for name, opt in self.algorithm.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        self.sampler.load_state_dict(state["sampler"])
        generators = state.get("generators", {})
        if "algorithm" in generators:
            try:
                self.generator.set_state(generators["algorithm"])
            except RuntimeError:  # saved on another kind of device (a CUDA run resumed on the CPU)
                self.notes.append("The algorithm's noise starts afresh from the seed: the run was saved on another device")
            self.augment_generator.set_state(generators["augment"])
        if not self.is_main:  # the resume state holds rank 0's streams: the others start new ones
            reseed = self.config.train.seed + NOISE_SEED_STRIDE * self.dist.rank + int(state["step"])
            self.generator.manual_seed(reseed + 3)
            self.augment_generator.manual_seed(reseed + 4)
        for callback in self.callbacks:
            callback.load_state_dict(state.get("callbacks", {}).get(callback.name, {}))
        if state.get("lr") is not None:  # changed mid-run: the optimisers' states hold it already
            self.lr = float(state["lr"])
            self._scale_schedule(self.lr / self.config.train.lr)

    # -- the loop ----------------------------------------------------------------------
    def steps(self) -> Iterator[ev.Event]:
        """Train to config.train.steps, yielding events; never raises for a failed run."""
        try:
            yield from self._loop()
        except WriteError as exc:  # a grid or a metrics line: the run ends, its checkpoint kept
            yield self.fail_write(exc)
        except USER_ERRORS as exc:
            self.failed = True
            yield ev.Failed(self.step, str(exc), user_error=True)
        except Exception as exc:  # noqa: BLE001 - the GUI must survive any failure
            self.failed = True
            self._write_error_log()
            yield ev.Failed(self.step, f"{type(exc).__name__}: {exc}")
        finally:
            if self.failed:
                self._tell_other_ranks()
            for callback in self.callbacks:
                callback.close(self)
            self.close()

    def _loop(self) -> Iterator[ev.Event]:
        self.load_data()
        for callback in self.callbacks:  # e.g. the live metrics' evaluator, before anything is written
            yield from self._emit(callback.on_setup(self))
            if self.stop_requested():
                return
        self.prepare()
        t = self.config.train
        names = tuple(self.data.class_names or ()) if self.model.conditional else ()
        yield from self._emit([ev.Started(self.run.path, self.step, t.steps, str(self.device), tuple(self.notes), names)])
        for callback in self.callbacks:
            yield from self._emit(callback.on_start(self))
        while self.step < t.steps and not self.failed:
            yield from self._apply_lr_request()
            if self.dist is not None:
                yield from self._agree()
                if self.failed:
                    return
            if not self._running.is_set() or self._paused or self._others_paused:  # or resumed after one step
                yield from self._pause_point()
                if self.failed:
                    return
            if self._stop.is_set():
                break
            self.last_losses = self._train_step()
            self.step += 1
            if self.dist is not None:
                yield from self._check_shared_losses()
                if self.failed:
                    return
            last = self.step == t.steps
            info = StepInfo(self.step, self.last_losses, last)
            if self.step % t.log_every == 0 or last:
                info.values = {k: float(v) for k, v in self.last_losses.items()}
            for callback in self.callbacks:
                yield from self._emit(callback.on_step(self, info))
                if self.failed:
                    return
        if self.failed:
            return
        stopped = self.step < t.steps
        for callback in self.callbacks:
            yield from self._emit(callback.on_end(self, stopped))
            if self.failed:
                return
        yield from self._emit([ev.Finished(self.step, stopped)])

    def _pause_point(self) -> Iterator[ev.Event]:
        """Wait while paused, serving "save now" and learning-rate changes; return for one step
        (``step_once``: still paused afterwards) or when resumed (or stopped)."""
        if not self._paused:
            self._paused = True
            yield from self._emit([ev.Paused(self.step)])
        while True:
            if self.dist is None:
                if self._running.wait(PAUSE_POLL_S):
                    break
            else:
                yield from self._agree_while_paused()
                if self.failed:
                    return
                if not self._pause_wanted():
                    break
            if self.take_save_request():
                checkpointer = self.callback("checkpoints")
                if checkpointer is not None:
                    yield from self._emit([checkpointer.save(self, self.last_losses)])
                    if self.failed:
                        return
            yield from self._apply_lr_request()
            if self._step_once.is_set():
                self._step_once.clear()
                if self.dist is None:
                    return
        self._step_once.clear()
        self._paused = False
        yield from self._emit([ev.Resumed(self.step)])

    def _apply_lr_request(self) -> Iterator[ev.Event]:
        """Set a requested learning rate on every optimiser, keeping their ratios (a GAN's
        discriminator keeps its own rate relative to the generator's)."""
        lr, self._lr_request = self._lr_request, None
        if lr is None or self.algorithm is None:
            return
        previous = self.lr if self.lr is not None else self.config.train.lr
        factor = lr / previous
        for opt in self.algorithm.optimizers.values():
            for group in opt.param_groups:
                group["lr"] *= factor
        self._scale_schedule(factor)
        self.lr = lr
        yield from self._emit([ev.LearningRate(self.step, lr, previous)])

    def _scale_schedule(self, factor: float) -> None:
        """An algorithm that sets its own rate each step (a cosine decay from ``base_lr``)."""
        if isinstance(getattr(self.algorithm, "base_lr", None), float):
            self.algorithm.base_lr *= factor

    def _emit(self, events: Iterable[ev.Event]) -> Iterator[ev.Event]:
        """Hand each event to every callback's on_event, then to the caller."""
        for event in events:
            for callback in self.callbacks:
                callback.on_event(self, event)
            yield event

    def _train_step(self) -> dict[str, torch.Tensor]:
        x, y = self.sampler.next()
        if self.augment is not None:
            x = self.augment(x)
        losses = self.precision_step(x, y)
        if self.ema is not None:
            self.ema.update()
        return losses

    # -- outputs (called by the callbacks) ---------------------------------------------
    def save_checkpoint(self) -> ev.Checkpoint:
        """Commit this step's weights and resume state as one checkpoint; raises WriteError
        (the previous checkpoint still committed) when they cannot be written."""
        ema_state = self.ema.state_dict() if self.ema is not None else None

        def weights() -> bytes:
            return checkpoint_bytes(self.model, self.config, self.step, self.data.class_names, self.data.name, ema_state)

        commit(self.run.checkpoints_dir, self.step, weights, lambda: state_bytes(self.resume_state()),
               self.config.train.keep_checkpoints)
        self.saved_step = self.step
        return ev.Checkpoint(self.step, self.run.last_checkpoint)

    def resume_state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "optimizers": {k: o.state_dict() for k, o in self.algorithm.optimizers.items()},
            "sampler": self.sampler.state_dict(),
            "generators": {"algorithm": self.generator.get_state(), "augment": self.augment_generator.get_state()},
            "ema_updates": self.ema.updates if self.ema is not None else 0,
            "callbacks": {c.name: c.state_dict() for c in self.callbacks if c.name},
            "lr": self.lr,  # a learning rate changed mid-run (the optimisers hold it too)
        }

    def fail(self, message: str, user_error: bool = False) -> ev.Failed:
        """End the run with a failure (a callback's verdict); the caller yields the event."""
        self.failed = True
        return ev.Failed(self.step, message, user_error)

    def fail_write(self, exc: WriteError) -> ev.Failed:
        """A write failed: stop here, the committed checkpoint (if any) still resumes the run."""
        if self.saved_step is None:
            kept = f"; stopped at step {self.step}, before any checkpoint"
        else:
            kept = f"; stopped at step {self.step}, the checkpoint of step {self.saved_step} is kept: resume once it can write"
        return self.fail(f"{exc}{kept}", user_error=True)

    def fail_loss(self, name: str, value: float) -> ev.Failed:
        kept = self.run.last_checkpoint if self.run.last_checkpoint.exists() else None
        where = f"; the last good checkpoint is {kept}" if kept else "; no checkpoint had been saved yet"
        return self.fail(f"loss '{name}' became {value} at step {self.step}{where}")

    def _write_error_log(self) -> None:
        if self.run is not None and self.is_main:
            with contextlib.suppress(OSError):  # a full disk must not hide the original failure
                atomic_write_text(self.run.path / "error.log", traceback.format_exc())
