"""`latent-studio`: train, resume, sample, eval, search and list datasets from the terminal.

The commands are thin: they build a config, iterate Trainer.steps() or open a
checkpoint, and print. A user error prints one line to stderr and exits with 2.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

EXIT_USER_ERROR = 2
# Sampling options a model may declare (GenerativeModel.sample_options); refused by models without.
SAMPLE_OPTIONS = {"steps": int, "eta": float, "guidance": float, "temperature": float}


def _preset_list() -> str:
    from studio.core.presets import DEFAULT_PRESET, PRESETS

    return ", ".join(f"{name} (default)" if name == DEFAULT_PRESET else name for name in PRESETS)


def _add_live_metrics(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--live-metrics", action="store_true",
                        help="score the model with the dataset's evaluator every sample_every steps, "
                             "as the studio window does (at most 10%% of the training time)")


def _add_tensorboard(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tensorboard", action="store_true",
                        help="also write TensorBoard events to RUN/tb/ (train.tensorboard; "
                             "needs pip install 'latent-studio[tensorboard]')")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["gui"]:  # the window parses its own options, --help included
        from studio.ui.app import main as gui_main

        return gui_main(argv[1:])
    args = _parser().parse_args(argv)
    from studio.core.errors import USER_ERRORS

    try:
        return args.func(args)
    except USER_ERRORS as exc:
        print(f"latent-studio {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="latent-studio", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    # Listed for --help only: main() hands `gui ...` to the window, which parses its own options.
    sub.add_parser("gui", help="open the studio window (the default dataset is the embedded mnist-5k)")

    train = sub.add_parser("train", help="train a model into a new run directory")
    train.add_argument("--config", type=Path, help="a config TOML (as the GUI saves it)")
    train.add_argument("--model", metavar="PRESET", help=f"a preset: {_preset_list()}")
    train.add_argument("--dataset", help="a dataset name (see `latent-studio datasets`) or an image folder")
    train.add_argument("--download", action="store_true", help="download the dataset if it is not on disk")
    train.add_argument("--steps", type=int)
    train.add_argument("--out", type=Path, help="the run directory (default runs/<model>-<time>)")
    train.add_argument("--overwrite", action="store_true",
                       help="replace the run already in --out (without it, an existing run is refused)")
    train.add_argument("--seed", type=int)
    train.add_argument("--device", help="auto, cpu, cuda or mps")
    train.add_argument("--init-from", metavar="RUN_OR_CHECKPOINT",
                       help="start from the matching weights of another run (fine-tuning; the step starts at 0)")
    train.add_argument("--freeze", metavar="PREFIX[,PREFIX]", help="parameter name prefixes that stay fixed")
    _add_live_metrics(train)
    _add_tensorboard(train)
    train.set_defaults(func=cmd_train)

    from studio.workflows_cli import add_workflow_parsers

    add_workflow_parsers(sub)  # finetune, ensemble

    resume = sub.add_parser("resume", help="continue a run from its last checkpoint")
    resume.add_argument("run", type=Path)
    resume.add_argument("--steps", type=int, help="a new total step count (default: the run's own)")
    _add_live_metrics(resume)
    _add_tensorboard(resume)
    resume.set_defaults(func=cmd_resume)

    pin = sub.add_parser("pin", help="keep a step checkpoint of a run for good (the newest "
                                     "train.keep_checkpoints are kept, older ones removed unless pinned)")
    pin.add_argument("run", type=Path)
    pin.add_argument("step", type=int)
    pin.add_argument("--remove", action="store_true", help="unpin it (it is then removed like any old checkpoint)")
    pin.set_defaults(func=cmd_pin)

    sample = sub.add_parser("sample", help="draw samples from a run or checkpoint into .npz or .png")
    sample.add_argument("target", metavar="RUN_OR_CHECKPOINT")
    sample.add_argument("--n", type=int, default=64)
    group = sample.add_mutually_exclusive_group()
    group.add_argument("--label", type=int, help="one class for every sample (conditional models)")
    group.add_argument("--labels", choices=["all"], help="cycle through every class (the default)")
    sample.add_argument("--seed", type=int, default=0)
    for name, kind in SAMPLE_OPTIONS.items():
        sample.add_argument(f"--{name}", type=kind, help=f"sampling option {name} (only for models that have it)")
    sample.add_argument("--out", type=Path, required=True, help="FILE.npz (uint8 images + labels) or FILE.png (a grid)")
    sample.add_argument("--upscale", metavar="ESPCN_RUN", help="upscale the samples with a super-resolution run (espcn)")
    sample.set_defaults(func=cmd_sample)

    evaluate = sub.add_parser("eval", help="measure a run or checkpoint: FID (evaluator features), KID, precision/recall, coverage, ...")
    evaluate.add_argument("target", metavar="RUN_OR_CHECKPOINT")
    evaluate.add_argument("--n", type=int, default=5000, help="how many samples to generate (default 5000)")
    evaluate.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.set_defaults(func=cmd_eval)

    export = sub.add_parser("export", help="export the network a deployment needs (ONNX), checked with onnxruntime")
    export.add_argument("target", metavar="RUN_OR_CHECKPOINT")
    export.add_argument("--format", choices=["onnx"], default="onnx", help="onnx (the only one so far)")
    export.add_argument("--out", type=Path, required=True, help="FILE.onnx")
    export.set_defaults(func=cmd_export)

    export_tb = sub.add_parser("export-tb", help="write TensorBoard events for an existing run from its "
                                                 "metrics.jsonl, samples and config")
    export_tb.add_argument("run", type=Path)
    export_tb.add_argument("--out", type=Path, help="the log directory (default RUN/tb)")
    export_tb.add_argument("--overwrite", action="store_true", help="replace the event files already there")
    export_tb.set_defaults(func=cmd_export_tb)

    datasets = sub.add_parser("datasets", help="list the datasets, whether they are on disk, and where")
    datasets.add_argument("--root", default="", help="where torchvision datasets live (default: the user data folder)")
    datasets.set_defaults(func=cmd_datasets)

    from studio.search_cli import add_search_parser

    add_search_parser(sub)
    return parser


# -- train / resume ------------------------------------------------------------------------
def cmd_train(args: argparse.Namespace) -> int:
    from studio.core.config import ConfigError, load_config
    from studio.core.presets import DEFAULT_PRESET, preset
    from studio.core.train.trainer import Trainer

    if args.config and args.model:
        raise ConfigError("give either --config or --model, not both")
    config = load_config(args.config) if args.config else preset(args.model or DEFAULT_PRESET)
    data, train = {}, {}
    if args.dataset:
        from studio.core.data.registry import absolute_dataset

        data["dataset"] = absolute_dataset(args.dataset)  # resume/eval work from any folder
    if args.download:
        data["download"] = True
    for key in ("steps", "seed", "device", "init_from", "freeze"):
        if getattr(args, key) is not None:
            train[key] = getattr(args, key)
    if args.tensorboard:
        train["tensorboard"] = True
    config = config.with_overrides(data=data, train=train).validate()
    trainer = Trainer(config, args.out, callbacks=_extra_callbacks(args), overwrite=args.overwrite,
                      distributed=_join_torchrun(config))
    return _run_trainer(trainer, "train")


def _join_torchrun(config):
    """This process's rank when torchrun started it (WORLD_SIZE > 1), else None."""
    from studio.core.train.distributed import Distributed

    return Distributed.from_env(config.train.device)


def _extra_callbacks(args: argparse.Namespace) -> list:
    if not args.live_metrics:
        return []
    from studio.core.train.live_metrics import LiveMetrics

    return [LiveMetrics()]


def cmd_resume(args: argparse.Namespace) -> int:
    from studio.core.config import load_config
    from studio.core.train.rundir import RunDir
    from studio.core.train.trainer import Trainer

    config_path = RunDir(args.run).config_path
    dist = _join_torchrun(load_config(config_path)) if config_path.exists() else None
    trainer = Trainer.from_run(args.run, callbacks=_extra_callbacks(args), distributed=dist)
    overrides = {"steps": args.steps} if args.steps is not None else {}
    if args.tensorboard:
        _require_tensorboard(True)  # before the config is rewritten
        overrides["tensorboard"] = True
    if overrides:
        trainer.config = trainer.config.with_overrides(train=overrides)
        trainer.prepare()
        from studio.core.config import save_config

        if trainer.is_main:
            save_config(trainer.config, trainer.run.config_path)
    return _run_trainer(trainer, "resume")


def _run_trainer(trainer, command: str) -> int:
    try:
        if trainer.is_main:
            return _train_with_progress(trainer, command)
        return _train_quietly(trainer, command)
    finally:
        if trainer.dist is not None:
            trainer.dist.close()


def _train_quietly(trainer, command: str) -> int:
    """A torchrun rank other than 0: rank 0 reports progress; this one only its failure."""
    from studio.core.train import events as ev

    trainer.prepare()
    _stop_on_ctrl_c(trainer, quiet=True)
    for event in trainer.steps():
        if isinstance(event, ev.Failed):
            print(f"latent-studio {command} (process {trainer.dist.rank}): error: {event.message}", file=sys.stderr)
            return EXIT_USER_ERROR if event.user_error else 1
    return 0


def _train_with_progress(trainer, command: str) -> int:
    from tqdm import tqdm

    from studio.core.train import events as ev
    from studio.core.train.trainer import apply_threads

    if trainer.dist is None:  # torchrun sets each process's threads (OMP_NUM_THREADS)
        apply_threads(trainer.config.train.threads)
    _require_tensorboard(trainer.config.train.tensorboard)  # before anything is written
    print("Loading data and building the model...")
    trainer.prepare()  # raises the user's errors before the progress bar starts
    for note in trainer.data.notes:  # what an image folder's loader decided and skipped
        print(note)
    interrupted = _stop_on_ctrl_c(trainer)
    status = 0
    with tqdm(total=trainer.config.train.steps, initial=trainer.step, unit="step", dynamic_ncols=True) as bar:
        for event in trainer.steps():
            if isinstance(event, ev.Started):
                world = f", {trainer.dist.world} processes" if trainer.dist is not None else ""
                bar.write(f"Run directory: {event.run_dir}  (device {event.device}{world})")
                for note in event.notes:
                    bar.write(note)
            elif isinstance(event, ev.MonitorStatus):
                if event.state in ("failed", "off", "cancelled") or (event.state == "preparing" and event.fraction is None):
                    bar.write(event.message)
                elif event.state == "ready":
                    bar.write(f"Live metrics every {event.every} steps on {event.n} samples")
            elif isinstance(event, ev.Step):
                bar.update(event.step - bar.n)
                losses = " ".join(f"{k}={v:.3f}" for k, v in event.losses.items())
                bar.set_postfix_str(f"{losses} {event.images_per_sec:,.0f} img/s")
            elif isinstance(event, ev.Metrics):
                bar.write("step {}: {}".format(event.step, ", ".join(f"{k}={v:.3g}" for k, v in event.values.items())))
            elif isinstance(event, ev.Failed) and event.user_error:  # e.g. a full disk: one line, exit 2
                bar.close()
                print(f"latent-studio {command}: error: {event.message}", file=sys.stderr)
                status = EXIT_USER_ERROR
            elif isinstance(event, ev.Failed):
                bar.write(f"Training failed: {event.message}")
                status = 1
            elif isinstance(event, ev.Finished):
                bar.update(event.step - bar.n)
                word = "Stopped" if event.stopped else "Finished"
                bar.write(f"{word} at step {event.step}. Checkpoint: {trainer.run.last_checkpoint}")
    if interrupted["count"]:
        status = 130
    return status


def _require_tensorboard(on: bool) -> None:
    """The one-line install hint (exit 2) when TensorBoard is asked for but not installed."""
    if on:
        from studio.core.train.tensorboard import require_tensorboard

        require_tensorboard()


def _stop_on_ctrl_c(trainer, quiet: bool = False) -> dict[str, int]:
    """First Ctrl-C (or torchrun's SIGTERM) stops at the next step and saves a checkpoint;
    a second one aborts."""
    state = {"count": 0}

    def handler(signum, frame):  # noqa: ARG001
        state["count"] += 1
        if state["count"] > 1:
            raise KeyboardInterrupt
        if not quiet:
            print("\nStopping after this step and saving a checkpoint (Ctrl-C again to abort)...", file=sys.stderr)
        trainer.stop()

    signal.signal(signal.SIGINT, handler)
    if trainer.dist is not None:  # torchrun passes Ctrl-C on to its processes as SIGTERM
        signal.signal(signal.SIGTERM, handler)
    return state


# -- pin -----------------------------------------------------------------------------------
def cmd_pin(args: argparse.Namespace) -> int:
    from studio.core.errors import CheckpointError
    from studio.core.train.manifest import pin, unpin
    from studio.core.train.rundir import RunDir

    run = RunDir(args.run)
    if not run.checkpoints_dir.is_dir():
        raise CheckpointError(f"{run.path}: not a run directory with checkpoints")
    if args.remove:
        print(f"Unpinned step {args.step}: removed {unpin(run.checkpoints_dir, args.step)}")
    else:
        print(f"Pinned step {args.step}: {pin(run.checkpoints_dir, args.step)}")
    return 0


# -- sample --------------------------------------------------------------------------------
def cmd_sample(args: argparse.Namespace) -> int:
    """Samples in batches, streamed into the file (studio.core.sample_files): memory stays
    bounded whatever --n, and --n has a stated upper limit."""
    import torch
    from tqdm import tqdm

    from studio.core.errors import StudioError
    from studio.core.fileio import check_output_file
    from studio.core.models import seeded
    from studio.core.sample_files import batch_size_for, check_count, sample_batches, write_samples
    from studio.core.train.checkpoint import load_checkpoint

    if args.n < 1:
        raise StudioError(f"--n must be at least 1, got {args.n}")
    suffix = args.out.suffix.lower()
    if suffix not in (".npz", ".png"):
        raise StudioError(f"--out must end in .npz or .png, got {args.out}")
    check_output_file(args.out)  # before the model is loaded or anything sampled
    loaded = load_checkpoint(args.target)
    model = loaded.model
    if model.is_upscaler:
        raise StudioError(f"{loaded.path}: the {model.family} model upscales images rather than sampling them; "
                          f"use `latent-studio sample GENERATOR --upscale {args.target}`")
    labels = None
    if model.conditional:
        if args.label is not None and not 0 <= args.label < model.num_classes:
            raise StudioError(f"--label must be between 0 and {model.num_classes - 1}, got {args.label}")
        labels = torch.full((args.n,), args.label) if args.label is not None else torch.arange(args.n) % model.num_classes
    elif args.label is not None:
        raise StudioError(f"{loaded.path}: the {model.family} model is unconditional; --label needs a conditional model")
    options = _sample_options(args, model, loaded.path)
    check_count(args.n, suffix, model.image_shape)  # an upscaler's larger images: checked on the first batch
    upscaler = _load_upscaler(args.upscale) if args.upscale else None
    generator = seeded(args.seed)

    def draw(size: int, part):
        members = None
        if hasattr(model, "sample_with_members"):  # an ensemble: which member drew each image
            images, members = model.sample_with_members(size, part, generator, **options)
        else:
            images = model.sample(size, part, generator, **options)
        return (images if upscaler is None else _upscale(images, upscaler)), members

    batch = batch_size_for(model.image_shape)
    with tqdm(total=args.n, unit="sample", disable=args.n <= batch, file=sys.stderr, dynamic_ncols=True) as bar:
        write_samples(args.out, sample_batches(draw, args.n, labels, batch), args.n, bar.update)
    print(f"Wrote {args.n} samples from step {loaded.step} to {args.out}")
    return 0


def _load_upscaler(target: str):
    from studio.core.errors import StudioError
    from studio.core.train.checkpoint import load_checkpoint

    upscaler = load_checkpoint(target)
    if not upscaler.model.is_upscaler:
        raise StudioError(f"{upscaler.path}: --upscale needs a super-resolution run (espcn), "
                          f"not a {upscaler.model.family} model")
    return upscaler


def _upscale(images, upscaler):
    """Samples in [0, 1] through an upscaler run (ESPCN), r times larger."""
    from studio.core.errors import StudioError

    try:
        return upscaler.model.upscale(images)
    except ValueError as exc:
        raise StudioError(f"{upscaler.path}: {exc}") from None


def _sample_options(args: argparse.Namespace, model, path) -> dict:
    """The --steps/--eta/--guidance/--temperature given, checked against the model's own."""
    from studio.core.errors import StudioError

    given = {k: getattr(args, k) for k in SAMPLE_OPTIONS if getattr(args, k) is not None}
    have = model.sample_options
    for name in given:
        if name not in have:
            offered = ", ".join(f"--{k}" for k in have) or "none"
            raise StudioError(f"{path}: the {model.family} model has no --{name} option (its options: {offered})")
    try:
        return model.check_options(given)
    except ValueError as exc:
        raise StudioError(f"{path}: {exc}") from None


# -- eval ----------------------------------------------------------------------------------
def cmd_eval(args: argparse.Namespace) -> int:
    from studio.core.errors import StudioError
    from studio.core.metrics.report import run_eval

    if args.n < 10:
        raise StudioError(f"--n must be at least 10, got {args.n}")
    if args.json:
        from studio.core.fileio import check_output_file

        check_output_file(args.json)  # before minutes of sampling, not after
    return run_eval(args.target, n=args.n, json_path=str(args.json) if args.json else None, seed=args.seed)


# -- export --------------------------------------------------------------------------------
def cmd_export(args: argparse.Namespace) -> int:
    from studio.core.errors import StudioError
    from studio.core.onnx_export import export_onnx

    if args.out.suffix.lower() != ".onnx":
        raise StudioError(f"--out must end in .onnx, got {args.out}")
    for line in export_onnx(args.target, args.out).lines():
        print(line)
    return 0


# -- export-tb -----------------------------------------------------------------------------
def cmd_export_tb(args: argparse.Namespace) -> int:
    from studio.core.train.tensorboard import export_run

    for line in export_run(args.run, args.out, overwrite=args.overwrite).lines():
        print(line)
    return 0


# -- datasets ------------------------------------------------------------------------------
def cmd_datasets(args: argparse.Namespace) -> int:
    from studio.core.data import list_datasets

    rows = list_datasets(args.root)
    width = max(len(r.name) for r in rows)
    for r in rows:
        state = "available" if r.available else "not on disk"
        print(f"{r.name:<{width}}  {state:<11}  {r.location}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
