"""Hyperparameter search: an Optuna study whose trials are ordinary training runs.

``Search(base, space, settings).run()`` samples each trial's values with Optuna's TPE
sampler, trains the base config with them into ``runs/<study>/trial-NNN`` (a normal run
directory: the Train and Explore tabs open it) and reports the objective at intervals
through ``trial.report``: the live evaluator FID (``fid_eval``, LiveMetrics) or the
held-out bits/dim of a likelihood model (``nelbo_bpd``/``nll_bpd``, HeldoutLikelihood).
A pruner (median or Hyperband) compares those intermediate values across trials; a
pruned trial's trainer is stopped at the next step (its checkpoint is kept) and the
trial ends as PRUNED. Every trial trains with the base config's seed, so trials differ
by their values, not their noise.

The study lives in an Optuna storage: by default ``sqlite:///runs/<study>/study.db``, so
running the same study again continues it (``load_if_exists``) up to ``trials``
finished trials. Any Optuna storage URL works; a PostgreSQL server lets several
machines work on one study. After each trial, ``runs/<study>/best.toml`` holds the base
config with the best trial's values, at the base config's own step count: the file
``latent-studio train --config`` takes.

Optuna is an optional extra (``pip install 'latent-studio[search]'``), imported only
when a search runs; this module imports neither it nor torch (the window builds its
settings before torch is loaded). ``on_event`` receives the search's events (below) on the search's
thread; ``stop()`` may be called from any thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.config import Config, ConfigError, config_from_toml
from studio.core.errors import StudioError
from studio.core.fileio import atomic_write_text
from studio.core.search_space import SearchSpace, apply_params, space_from_toml, space_to_toml
from studio.core.train import events as ev

INSTALL_HINT = "pip install 'latent-studio[search]'"
OBJECTIVES = ("fid", "nll")
PRUNERS = ("median", "hyperband")
FINISHED = ("COMPLETE", "PRUNED")  # the states that count towards a study's trials
MIN_FOR_IMPORTANCE = 3  # complete trials before parameter importances mean anything


class SearchStopped(Exception):
    """Raised inside the objective when the person stopped the search (the trial fails)."""


class TrialFailed(Exception):
    """A trial's run failed (diverged, no objective value): the trial fails, the study goes on."""


def require_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise StudioError(f"hyperparameter search needs Optuna: {INSTALL_HINT}") from None
    return optuna


def optuna_available() -> bool:
    """Whether Optuna is installed, without importing it (that takes a second)."""
    import importlib.util

    try:
        return importlib.util.find_spec("optuna") is not None
    except ValueError:  # sys.modules["optuna"] is None: imports of it are blocked
        return False


# -- settings and events ------------------------------------------------------------------
@dataclass(frozen=True)
class SearchSettings:
    study: str
    trials: int = 20  # finished (complete or pruned) trials the study should reach
    steps: int | None = None  # per trial; None: the base config's
    objective: str = "fid"  # "fid" (evaluator FID) or "nll" (held-out bits/dim)
    report_every: int | None = None  # steps between reports; None: a tenth of the trial
    pruner: str = "median"
    storage: str | None = None  # an Optuna storage URL; None: runs/<study>/study.db
    timeout: float | None = None  # seconds for this session's trials
    runs_root: Path = Path("runs")
    seed: int = 0  # the sampler's
    live_n: int | None = None  # samples per FID check; None: the live metrics' default
    resume: bool | None = None  # True: the study must exist; False: must be new; None: either

    @property
    def study_dir(self) -> Path:
        return Path(self.runs_root) / self.study

    @property
    def storage_url(self) -> str:
        return self.storage or f"sqlite:///{self.study_dir / 'study.db'}"

    def trial_steps(self, base: Config) -> int:
        return int(self.steps or base.train.steps)

    def interval(self, base: Config) -> int:
        return int(self.report_every or max(1, self.trial_steps(base) // 10))


@dataclass(frozen=True)
class StudyOpened:
    study: str
    storage: str
    study_dir: Path
    metric: str  # the reported value's key, e.g. "fid_eval"
    done: int  # finished trials already in the study
    trials: int  # the target
    steps: int  # per trial
    report_every: int
    space: tuple[str, ...]  # each Param described


@dataclass(frozen=True)
class TrialStarted:
    number: int
    params: dict[str, Any]
    run_dir: Path
    steps: int


@dataclass(frozen=True)
class TrialProgress:
    number: int
    step: int
    total: int


@dataclass(frozen=True)
class TrialReport:
    number: int
    step: int
    value: float


@dataclass(frozen=True)
class TrialEnded:
    number: int
    state: str  # "COMPLETE", "PRUNED", "FAIL" (or "RUNNING" for another machine's trial)
    value: float | None
    params: dict[str, Any]
    intermediate: dict[int, float]  # step -> reported value
    run_dir: Path | None
    message: str = ""  # why it failed or was pruned
    past: bool = False  # already in the study when this session opened it


@dataclass(frozen=True)
class Importances:
    values: dict[str, float]  # param -> share of the objective's variance it explains


@dataclass(frozen=True)
class SearchDone:
    best_number: int | None
    best_value: float | None
    best_params: dict[str, Any]
    best_config: Path | None  # best.toml
    best_run: Path | None
    stopped: bool
    finished: int  # finished trials in the study now


SearchEvent = StudyOpened | TrialStarted | TrialProgress | TrialReport | TrialEnded | Importances | SearchDone


# -- the search -------------------------------------------------------------------------------
@dataclass
class SearchResult:
    best_number: int | None
    best_value: float | None
    best_config: Path | None
    stopped: bool
    trials: list[TrialEnded] = field(default_factory=list)


class Search:
    """One search session over a study; ``run()`` blocks (call it from a worker thread)."""

    def __init__(self, base: Config, space: SearchSpace, settings: SearchSettings,
                 on_event: Callable[[SearchEvent], None] | None = None, data: Any = None):
        if not space:
            raise ConfigError("the search space is empty: choose at least one field to search")
        if settings.objective not in OBJECTIVES:
            raise ConfigError(f"objective must be one of {', '.join(OBJECTIVES)}, got {settings.objective!r}")
        if settings.pruner not in PRUNERS:
            raise ConfigError(f"pruner must be one of {', '.join(PRUNERS)}, got {settings.pruner!r}")
        if not settings.study or settings.study in (".", "..") or any(c in settings.study for c in "/\\:"):
            raise ConfigError(f"the study name must be a plain folder name (its runs go to runs/<name>), "
                              f"got {settings.study!r}")
        if settings.trials < 1:
            raise ConfigError(f"trials must be at least 1, got {settings.trials}")
        if settings.steps is not None and settings.steps < 1:
            raise ConfigError(f"steps per trial must be at least 1, got {settings.steps}")
        self.base = base.validate()
        self.space = space
        self.settings = settings
        self.on_event = on_event or (lambda event: None)
        self.data = data
        self.metric = objective_metric(base, settings.objective)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._trainer: Any = None
        self._monitor: Any = None  # the live monitor, prepared once and shared by the trials
        self._current: int | None = None  # the running trial's number
        self.ended: list[TrialEnded] = []

    # -- control (any thread) --------------------------------------------------------------
    def stop(self) -> None:
        """End the running trial at its next step and start no more."""
        self._stop.set()
        with self._lock:
            if self._trainer is not None:
                self._trainer.stop(save=True)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    # -- the session -----------------------------------------------------------------------
    def run(self) -> SearchResult:
        optuna = require_optuna()
        self.settings.study_dir.mkdir(parents=True, exist_ok=True)
        study = self._open(optuna)
        if self.data is None:
            from studio.core.data import load_dataset

            self.data = load_dataset(self.base.data, "train")
        if self.metric == "fid_eval" and self.data.labels is None:
            raise ConfigError(f"objective fid needs a labelled dataset (the evaluator is a classifier of its "
                              f"classes); {self.data.name} has none: use nll with a likelihood model")
        done = self._replay(study)
        remaining = self.settings.trials - done
        if remaining > 0 and not self.stopped:
            self._optimize(optuna, study, remaining)
        return self._finish(study)

    def _open(self, optuna: Any) -> Any:
        s = self.settings
        exists = _study_exists(optuna, s)
        if s.resume is True and not exists:
            raise StudioError(f"no study {s.study!r} in {s.storage_url}: start it first")
        if s.resume is False and exists:
            raise StudioError(f"study {s.study!r} already exists in {s.storage_url}: resume it or choose another name")
        study = optuna.create_study(study_name=s.study, storage=s.storage_url, direction="minimize",
                                    sampler=_sampler(optuna, s), pruner=_pruner(optuna, s, self.base),
                                    load_if_exists=True)
        recorded = study.user_attrs.get("metric")
        if recorded and recorded != self.metric:
            raise ConfigError(f"study {s.study!r} minimises {recorded}; objective {s.objective!r} ({self.metric}) "
                              "would mix two measures: choose another study name")
        self._record(study)
        return study

    def _record(self, study: Any) -> None:
        """The base config and space in the study (any machine can resume it) and beside it."""
        base_toml, space_toml = self.base.to_toml(), space_to_toml(self.space)
        study.set_user_attr("metric", self.metric)
        study.set_user_attr("base_config", base_toml)
        study.set_user_attr("space", space_toml)
        study.set_user_attr("settings", stored_options(self.settings, self.base))
        atomic_write_text(self.settings.study_dir / "base.toml", base_toml)
        atomic_write_text(self.settings.study_dir / "space.toml", space_toml)

    def _replay(self, study: Any) -> int:
        """Announce the study and its past trials; the number of finished ones."""
        from optuna.trial import TrialState

        s = self.settings
        past = [t for t in study.get_trials(deepcopy=False) if t.state != TrialState.WAITING]
        done = sum(t.state.name in FINISHED for t in past)
        self.on_event(StudyOpened(s.study, s.storage_url, s.study_dir, self.metric, done, s.trials,
                                  s.trial_steps(self.base), s.interval(self.base),
                                  tuple(p.describe() for p in self.space)))
        for t in past:
            self.on_event(trial_ended(t, past=True))
        self._importances(study)
        return done

    def _optimize(self, optuna: Any, study: Any, n: int) -> None:
        try:
            study.optimize(self._objective, n_trials=n, timeout=self.settings.timeout,
                           catch=(TrialFailed,), callbacks=[self._after_trial])
        except SearchStopped:
            # Optuna marked the trial FAIL before re-raising; the callbacks did not see it.
            stopped = [t for t in study.get_trials(deepcopy=False) if t.number == self._current]
            if stopped:
                self._ended(study, stopped[0])

    def _objective(self, trial: Any) -> float:
        from studio.core.train.pruning import TrialReporter
        from studio.core.train.rundir import RunDir
        from studio.core.train.trainer import Trainer

        self._current = trial.number
        if self.stopped:
            trial.set_user_attr("message", "stopped")
            raise SearchStopped()
        params = {p.name: p.suggest(trial) for p in self.space}
        steps = self.settings.trial_steps(self.base)
        try:
            config = apply_params(self.base, params, steps=steps)
        except ConfigError as exc:
            trial.set_user_attr("message", str(exc))
            raise TrialFailed(str(exc)) from None
        run = RunDir.create(self.settings.study_dir, f"trial-{trial.number:03d}")
        trial.set_user_attr("run_dir", str(run.path.resolve()))
        reporter = TrialReporter(trial, self.metric, lambda step, v: self.on_event(TrialReport(trial.number, step, v)))
        trainer = Trainer(config, run.path, data=self.data, callbacks=[self._measure(), reporter])
        self.on_event(TrialStarted(trial.number, params, run.path, steps))
        failure = self._train(trainer, trial.number)
        return self._verdict(trial, reporter, failure)

    def _train(self, trainer: Any, number: int) -> str | None:
        """Iterate the trainer, forwarding progress; the failure message, if it failed."""
        with self._lock:
            self._trainer = trainer
            if self.stopped:
                trainer.stop(save=True)
        failure = None
        try:
            for event in trainer.steps():
                if isinstance(event, ev.Step):
                    self.on_event(TrialProgress(number, event.step, trainer.config.train.steps))
                elif isinstance(event, ev.Failed):
                    failure = event.message
                elif isinstance(event, ev.MonitorStatus) and event.state in ("failed", "off"):
                    failure = event.message  # no objective for this trial: stop it now
                    trainer.stop(save=False)
        finally:
            with self._lock:
                self._trainer = None
        return failure

    def _verdict(self, trial: Any, reporter: Any, failure: str | None) -> float:
        optuna = require_optuna()
        if reporter.pruned_at is not None:
            message = f"pruned at step {reporter.pruned_at}"
            trial.set_user_attr("message", message)
            raise optuna.TrialPruned(message)
        if self.stopped:
            trial.set_user_attr("message", "stopped")
            raise SearchStopped()
        if failure is not None or reporter.last is None:
            message = failure or f"no {self.metric} was measured"
            trial.set_user_attr("message", message)
            raise TrialFailed(message)
        return reporter.last

    def _measure(self) -> Any:
        """The callback that computes the objective every report interval."""
        every = self.settings.interval(self.base)
        if self.settings.objective == "nll":
            from studio.core.train.heldout import HeldoutLikelihood

            return HeldoutLikelihood(every)
        from studio.core.live_keys import LIVE_N
        from studio.core.train.live_metrics import LiveMetrics

        # No budget: every report must come, or the pruner compares trials at other steps.
        return LiveMetrics(every=every, n=self.settings.live_n or LIVE_N, budget=None, prepare=self._prepare_monitor)

    def _prepare_monitor(self, config: Config, data: Any, **kwargs: Any) -> Any:
        """The dataset's live monitor, prepared for the first trial and shared by the rest
        (the evaluator and the real reference are the same for every trial)."""
        if self._monitor is None:
            from studio.core.metrics import prepare_monitor

            self._monitor = prepare_monitor(config, data, **kwargs)
        return self._monitor

    def _after_trial(self, study: Any, trial: Any) -> None:
        """Optuna's callback after each trial that did not raise out of optimize()."""
        self._ended(study, trial)
        if self.stopped:  # between trials: start no other
            study.stop()

    def _ended(self, study: Any, trial: Any) -> None:
        ended = trial_ended(trial)
        self.ended.append(ended)
        self.on_event(ended)
        self._write_best(study)
        self._importances(study)

    def _importances(self, study: Any) -> None:
        values = param_importances(study)
        if values:
            self.on_event(Importances(values))

    def _write_best(self, study: Any) -> Path | None:
        best = best_trial(study)
        if best is None:
            return None
        path = self.settings.study_dir / "best.toml"
        atomic_write_text(path, apply_params(self.base, best.params).to_toml())
        return path

    def _finish(self, study: Any) -> SearchResult:
        best = best_trial(study)
        path = self._write_best(study)
        finished = sum(t.state.name in FINISHED for t in study.get_trials(deepcopy=False))
        run = Path(best.user_attrs["run_dir"]) if best is not None and "run_dir" in best.user_attrs else None
        self.on_event(SearchDone(best.number if best else None, best.value if best else None,
                                 dict(best.params) if best else {}, path, run, self.stopped, finished))
        return SearchResult(best.number if best else None, best.value if best else None, path,
                            self.stopped, list(self.ended))


# -- helpers ----------------------------------------------------------------------------------
def objective_metric(base: Config, objective: str) -> str:
    """The Metrics key a trial reports: fid_eval, or the family's held-out bits/dim."""
    if objective == "fid":
        return "fid_eval"
    model = base.family.model_class()
    if not getattr(model, "has_likelihood", False):
        raise ConfigError(f"objective nll needs a model with a likelihood (a VAE or a PixelCNN); "
                          f"{base.model.family} has none: use fid")
    return "nelbo_bpd" if model.likelihood_is_bound else "nll_bpd"


def trial_ended(trial: Any, past: bool = False) -> TrialEnded:
    run = trial.user_attrs.get("run_dir")
    value = trial.value if trial.state.name == "COMPLETE" else None
    return TrialEnded(trial.number, trial.state.name, value, dict(trial.params),
                      {int(k): float(v) for k, v in trial.intermediate_values.items()},
                      Path(run) if run else None, str(trial.user_attrs.get("message", "")), past)


def best_trial(study: Any) -> Any:
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    return min(complete, key=lambda t: t.value) if complete else None


def param_importances(study: Any) -> dict[str, float]:
    """Optuna's parameter importances once MIN_FOR_IMPORTANCE trials are complete; {} before
    (or when they cannot be computed, e.g. every trial drew the same values)."""
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if len(complete) < MIN_FOR_IMPORTANCE:
        return {}
    from optuna.importance import get_param_importances

    try:
        return {k: float(v) for k, v in get_param_importances(study).items()}
    except (RuntimeError, ValueError, ImportError, ZeroDivisionError):
        return {}


def _study_exists(optuna: Any, settings: SearchSettings) -> bool:
    if settings.storage is None and not (settings.study_dir / "study.db").exists():
        return False  # not even the default file: nothing to open (nor to create by asking)
    try:
        names = optuna.study.get_all_study_names(storage=settings.storage_url)
    except Exception as exc:  # noqa: BLE001 - a bad URL or unreachable server, said in one line
        raise StudioError(f"cannot open the study storage {settings.storage_url}: {exc}") from None
    return settings.study in names


STORED_OPTIONS = ("objective", "steps", "report_every", "pruner")  # a resume keeps them


@dataclass(frozen=True)
class StoredStudy:
    """What a study was last run with, to resume it as it was."""

    base: Config
    space: SearchSpace
    options: dict[str, Any]  # SearchSettings fields (STORED_OPTIONS)


def stored_options(settings: SearchSettings, base: Config) -> dict[str, Any]:
    return {"objective": settings.objective, "steps": settings.trial_steps(base),
            "report_every": settings.interval(base), "pruner": settings.pruner}


def stored_inputs(settings: SearchSettings) -> StoredStudy | None:
    """The base config, space and options a study was last run with; None for a study
    that does not exist yet (or was not made by a search of the studio)."""
    optuna = require_optuna()
    if not _study_exists(optuna, settings):
        return None
    attrs = optuna.load_study(study_name=settings.study, storage=settings.storage_url).user_attrs
    if "base_config" not in attrs or "space" not in attrs:
        return None
    base = config_from_toml(attrs["base_config"], source=f"study {settings.study}'s base config")
    space = space_from_toml(attrs["space"], base, source=f"study {settings.study}'s space")
    options = {k: v for k, v in dict(attrs.get("settings", {})).items() if k in STORED_OPTIONS}
    return StoredStudy(base, space, options)


def _sampler(optuna: Any, settings: SearchSettings) -> Any:
    # TPE draws at random for its first trials; a short study still gets to use its model.
    startup = max(2, min(10, settings.trials // 4))
    return optuna.samplers.TPESampler(seed=settings.seed, n_startup_trials=startup)


def _pruner(optuna: Any, settings: SearchSettings, base: Config) -> Any:
    if settings.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=settings.interval(base),
                                              max_resource=settings.trial_steps(base), reduction_factor=3)
    # Against the median of the earlier trials at the same step (a short study prunes after
    # one), never in the first fifth of a trial: early curves cross.
    startup = max(1, min(5, settings.trials // 4))
    return optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=settings.trial_steps(base) // 5)


def format_params(params: dict[str, Any]) -> str:
    return "  ".join(f"{k}={_fmt(v)}" for k, v in params.items())


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)

