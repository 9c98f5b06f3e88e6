"""`latent-studio finetune` and `latent-studio ensemble`: workflows over trained runs.

- ``finetune RUN --dataset D [--freeze NAMES]``: train with ``train.init_from = RUN`` on
  another dataset, starting from RUN's config; ``--freeze`` takes the family's freeze
  presets (Family.freeze_presets) or parameter prefixes.
- ``ensemble RUN_OR_CKPT... --out E.toml``: write an ensemble file (studio.core.ensemble)
  after checking that its members open together; it opens wherever a checkpoint does.

The upscaling of samples (``sample --upscale``) lives with `sample` in studio.cli.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_workflow_parsers(sub: Any) -> None:
    """Register `finetune` and `ensemble` on the CLI's subparsers."""
    from studio.cli import _add_live_metrics, _add_tensorboard

    ft = sub.add_parser("finetune", help="train from another run's weights on a new dataset (transfer learning)")
    ft.add_argument("run", metavar="RUN_OR_CHECKPOINT", help="the pretrained run; its config is the starting point")
    ft.add_argument("--dataset", required=True, help="the new dataset: a name or an image folder")
    ft.add_argument("--download", action="store_true", help="download the dataset if it is not on disk")
    ft.add_argument("--freeze", metavar="NAME[,NAME]",
                    help="freeze presets of the model's family (e.g. 'discriminator features') or parameter "
                         "prefixes, comma-separated; a wrong name lists the presets")
    ft.add_argument("--steps", type=int, help="fine-tuning steps (default: the run's step count)")
    ft.add_argument("--lr", type=float, help="learning rate (default: the run's)")
    ft.add_argument("--out", type=Path, help="the run directory (default runs/<family>-<time>)")
    ft.add_argument("--overwrite", action="store_true",
                    help="replace the run already in --out (without it, an existing run is refused)")
    ft.add_argument("--seed", type=int)
    ft.add_argument("--device", help="auto, cpu, cuda or mps")
    _add_live_metrics(ft)
    _add_tensorboard(ft)
    ft.set_defaults(func=cmd_finetune)

    ens = sub.add_parser("ensemble", help="combine runs or checkpoints into an ensemble file that opens "
                         "like a checkpoint (sample, eval, explore)")
    ens.add_argument("members", nargs="+", metavar="RUN_OR_CKPT",
                     help="members; RUN@raw takes a run's raw weights instead of its EMA")
    ens.add_argument("--out", type=Path, required=True, help="ENSEMBLE.toml")
    ens.add_argument("--weights", help="comma-separated member weights (default: equal)")
    ens.add_argument("--mode", choices=("mixture", "pixel-average", "weight-average"), default="mixture",
                     help="mixture: each image from one member drawn by weight (sharp, adds diversity); "
                          "pixel-average: the members' images of one z averaged (needs a shared latent space: "
                          "one run's checkpoints, or EMA and raw); weight-average: one model of averaged weights "
                          "(one run's checkpoints)")
    ens.set_defaults(func=cmd_ensemble)


def finetune_config(source: Any, args: argparse.Namespace) -> Any:
    """The pretrained run's config with the new data, init_from and the resolved freeze list."""
    from studio.core.data.registry import absolute_dataset

    freeze = source.family.freeze_prefixes(args.freeze.split(",")) if args.freeze else ()
    train: dict[str, Any] = {"init_from": str(Path(args.run).resolve()), "freeze": list(freeze)}
    for key in ("steps", "lr", "seed", "device"):
        if getattr(args, key) is not None:
            train[key] = getattr(args, key)
    if args.tensorboard:
        train["tensorboard"] = True
    data = {"dataset": absolute_dataset(args.dataset), **({"download": True} if args.download else {})}
    return source.with_overrides(data=data, train=train)


def cmd_finetune(args: argparse.Namespace) -> int:
    from studio.cli import _extra_callbacks, _run_trainer
    from studio.core.errors import StudioError
    from studio.core.train.checkpoint import load_checkpoint
    from studio.core.train.trainer import Trainer

    if Path(args.run).suffix.lower() == ".toml":
        raise StudioError(f"{args.run}: finetune starts from one run or checkpoint, not an ensemble file")
    config = finetune_config(load_checkpoint(args.run).config, args)
    if config.train.freeze:
        print(f"Freezing {', '.join(config.train.freeze)}")
    trainer = Trainer(config, args.out, callbacks=_extra_callbacks(args), overwrite=args.overwrite)
    return _run_trainer(trainer, "finetune")


def cmd_ensemble(args: argparse.Namespace) -> int:
    from studio.core.ensemble import parse_member, write_ensemble
    from studio.core.errors import StudioError

    if args.out.suffix.lower() != ".toml":
        raise StudioError(f"--out must end in .toml, got {args.out}")
    weights = [1.0] * len(args.members)
    if args.weights:
        try:
            weights = [float(w) for w in args.weights.split(",")]
        except ValueError:
            raise StudioError(f"--weights must be numbers separated by commas, got {args.weights!r}") from None
        if len(weights) != len(args.members):
            raise StudioError(f"--weights gives {len(weights)} weights for {len(args.members)} members")
    members = [parse_member(m, w) for m, w in zip(args.members, weights, strict=True)]
    loaded = write_ensemble(args.out, members, args.mode)
    total = sum(weights)
    print(f"Wrote {args.out}: {loaded.model.family}" if args.mode != "weight-average"
          else f"Wrote {args.out}: a weight average of {len(members)} {loaded.config.model.family} checkpoints")
    for m in members:
        print(f"  {m.weight / total:6.1%}  {m.label}")
    return 0
