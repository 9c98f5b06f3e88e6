"""`latent-studio search`: a hyperparameter search from the terminal (studio.core.search).

Prints one table row per finished trial (number, state, value, steps trained, values
tried) above a progress bar of the running trial, then the best trial and the path of
its config. The first Ctrl-C stops the running trial (it fails as "stopped") and ends
the session; running the command again continues the study.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

STATE_WIDTH = 8


def add_search_parser(sub: Any) -> None:
    """Register the `search` subcommand on the CLI's subparsers."""
    p = sub.add_parser("search", help="search hyperparameters with Optuna (TPE sampler, pruning); "
                       "each trial is a run directory under runs/<study>/")
    p.add_argument("--model", metavar="PRESET", help="the base config: a preset (default cgan)")
    p.add_argument("--config", type=Path, help="the base config: a config TOML")
    p.add_argument("--space", type=Path, help="a search space TOML (default: the family's default space)")
    p.add_argument("--study", help="the study's name (default <family>-search); an existing study continues")
    p.add_argument("--storage", metavar="URL", help="an Optuna storage URL (default sqlite:///runs/<study>/study.db)")
    p.add_argument("--trials", type=int, default=20, help="finished trials the study should reach (default 20)")
    p.add_argument("--timeout", type=float, metavar="S", help="start no trial after S seconds")
    p.add_argument("--steps", type=int, help="training steps per trial (default: the base config's)")
    p.add_argument("--report-every", type=int, metavar="N", help="steps between reports (default: a tenth of a trial)")
    p.add_argument("--objective", choices=("fid", "nll"),
                   help="fid (default): the live evaluator FID; nll: held-out bits/dim (likelihood models)")
    p.add_argument("--pruner", choices=("median", "hyperband"), help="median (default) or hyperband")
    p.add_argument("--runs", type=Path, default=Path("runs"), help="the folder of the study's runs (default runs)")
    p.set_defaults(func=cmd_search)


def cmd_search(args: argparse.Namespace) -> int:
    from studio.core.search import Search, SearchSettings, require_optuna

    optuna = require_optuna()  # before anything slow: says how to install it
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # the table below says what happened
    settings = SearchSettings(
        study="", trials=args.trials, steps=args.steps, objective=args.objective or "fid",
        report_every=args.report_every, pruner=args.pruner or "median", storage=args.storage, timeout=args.timeout,
        runs_root=args.runs)
    base, space, settings = _inputs(args, settings)
    from studio.core.train.trainer import apply_threads

    apply_threads(base.train.threads)
    printer = TablePrinter()
    search = Search(base, space, settings, on_event=printer)
    previous = signal.signal(signal.SIGINT, _stopper(search))
    try:
        result = search.run()
    finally:
        signal.signal(signal.SIGINT, previous)
        printer.close()
    return 130 if result.stopped else 0


def _inputs(args: argparse.Namespace, settings: Any) -> tuple[Any, Any, Any]:
    """The base config, the space and the settings with the study named. An existing study
    continues with what it was run with: the base config and space unless --model, --config
    or --space is given, and each of --objective, --steps, --report-every, --pruner not given."""
    from dataclasses import replace

    from studio.core.config import ConfigError, load_config
    from studio.core.presets import DEFAULT_PRESET, preset
    from studio.core.search import stored_inputs
    from studio.core.search_space import default_space, load_space

    if args.config and args.model:
        raise ConfigError("give either --config or --model, not both")
    base = load_config(args.config) if args.config else preset(args.model or DEFAULT_PRESET)
    settings = replace(settings, study=args.study or f"{base.model.family}-search")
    stored = stored_inputs(settings)
    if stored is not None:
        given = {k for k in stored.options if getattr(args, k) is not None}
        settings = replace(settings, **{k: v for k, v in stored.options.items() if k not in given})
        if not (args.config or args.model or args.space):
            return stored.base, stored.space, settings
    space = load_space(args.space, base) if args.space else default_space(base)
    return base, space, settings


def _stopper(search: Any) -> Any:
    state = {"count": 0}

    def handler(signum: int, frame: Any) -> None:  # noqa: ARG001
        state["count"] += 1
        if state["count"] > 1:
            raise KeyboardInterrupt
        print("\nStopping the running trial (Ctrl-C again to abort)...", file=sys.stderr)
        search.stop()

    return handler


class TablePrinter:
    """Prints the search's events: a row per finished trial, a bar for the running one."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.metric = "value"
        self.storage = ""

    def __call__(self, event: Any) -> None:
        from studio.core import search as s

        handler = {s.StudyOpened: self._opened, s.TrialStarted: self._started, s.TrialProgress: self._progress,
                   s.TrialReport: self._report, s.TrialEnded: self._ended, s.SearchDone: self._done}.get(type(event))
        if handler is not None:
            handler(event)

    def write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line)
        else:
            print(line, flush=True)

    def _opened(self, e: Any) -> None:
        self.metric, self.storage = e.metric, e.storage
        verb = f"continuing, {e.done} of {e.trials} trials done" if e.done else f"{e.trials} trials"
        self.write(f"Study {e.study} ({verb}); storage {e.storage}")
        self.write(f"Each trial: {e.steps} steps, {e.metric} reported every {e.report_every} steps; "
                   f"runs in {e.study_dir}/trial-NNN")
        self.write("Searching: " + "; ".join(e.space))
        self.write(f"{'trial':>5}  {'state':<{STATE_WIDTH}}  {e.metric:>10}  {'steps':>6}  params")

    def _started(self, e: Any) -> None:
        from tqdm import tqdm

        self.close()
        self.bar = tqdm(total=e.steps, unit="step", leave=False, dynamic_ncols=True, desc=f"trial {e.number}")

    def _progress(self, e: Any) -> None:
        if self.bar is not None:
            self.bar.update(e.step - self.bar.n)

    def _report(self, e: Any) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(f"{self.metric}={e.value:.4g} at step {e.step}")

    def _ended(self, e: Any) -> None:
        from studio.core.search import format_params

        self.close()
        last = max(e.intermediate) if e.intermediate else 0
        value = e.value if e.value is not None else (e.intermediate[last] if e.intermediate else None)
        shown = "–" if value is None else f"{value:.4g}"
        if e.state != "COMPLETE" and value is not None:
            shown = f"({shown})"  # the last reported value of a trial that did not finish
        note = f"  [{e.message}]" if e.message and e.state != "COMPLETE" else ""
        self.write(f"{e.number:>5}  {e.state:<{STATE_WIDTH}}  {shown:>10}  {last:>6}  {format_params(e.params)}{note}")

    def _done(self, e: Any) -> None:
        self.close()
        if e.best_number is None:
            self.write("No trial has completed yet.")
            return
        from studio.core.search import format_params

        self.write(f"Best trial {e.best_number}: {self.metric} = {e.best_value:.4g} ({format_params(e.best_params)})")
        self.write(f"  run: {_relative(e.best_run)}")
        self.write(f"Best config: {e.best_config}")
        self.write(f"  train it: latent-studio train --config {e.best_config}")
        self.write(f"  browse the study: optuna-dashboard {self.storage}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _relative(path: Path | None) -> Path | None:
    """A path under the working folder as the user typed the others (runs/...)."""
    if path is None:
        return None
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path
