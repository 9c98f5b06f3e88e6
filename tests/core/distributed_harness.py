"""Run under torchrun by tests/core/test_distributed.py: real ranks, real DDP, real gloo.

    torchrun --standalone --nproc-per-node 2 tests/core/distributed_harness.py CASE OUT_DIR

Cases:
- ``equal``: a few steps of each kind of GAN step (batch-norm D seen twice, spectral-norm
  D seen once, WGAN-GP's double backward) and a frozen VAE encoder; after them every
  rank's parameters must be bit-identical (DDP averaged the same gradients everywhere).
- ``fail``: rank 1 fails alone at step 3 (as a full disk would on one machine): every
  rank must end, rank 0 with a message naming process 1.
- ``stop``: rank 1 alone is asked to stop at step 4: every rank stops at the same step.

Rank 0 writes ``OUT_DIR/result.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from studio.core.presets import preset
from studio.core.train import events as ev
from studio.core.train.callbacks import Callback
from studio.core.train.distributed import Distributed
from studio.core.train.trainer import Trainer

TRAIN = {"steps": 6, "batch_size": 16, "log_every": 1, "sample_every": 1000, "checkpoint_every": 2, "threads": 1}


def tiny(name: str, **model):
    return preset(name).with_overrides(model={"width": 8, **model}, train=TRAIN)


class OnRank(Callback):
    """At ``step`` on ``rank`` only: fail, or ask for a stop."""

    def __init__(self, rank: int, step: int, action: str):
        self.rank, self.at, self.action = rank, step, action

    def on_step(self, trainer, info):
        if trainer.dist.rank != self.rank or info.step != self.at:
            return ()
        if self.action == "stop":
            trainer.stop()
            return ()
        return [trainer.fail(f"rank {self.rank} could not write (injected)", user_error=True)]


def run(config, out: Path, d: Distributed, *extra: Callback) -> list[ev.Event]:
    trainer = Trainer(config, out, callbacks=list(extra), distributed=d, overwrite=True)
    trainer.prepare()
    events = list(trainer.steps())
    return events, trainer


def max_rank_difference(model: torch.nn.Module) -> float:
    """The largest difference between this rank's parameters and rank 0's."""
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    mine = flat.clone()
    dist.broadcast(flat, src=0)
    return float((mine - flat).abs().max())


def case_equal(out: Path, d: Distributed) -> dict:
    configs = {
        "gan (batch-norm D, real and fake apart)": tiny("gan"),
        "cgan (spectral-norm projection D)": tiny("cgan"),
        "wgan-gp (gradient penalty)": tiny("wgan-gp"),
        "vae, encoder frozen": preset("vae-mlp").with_overrides(train={**TRAIN, "freeze": ("encoder",)}),
    }
    result = {}
    for i, (label, config) in enumerate(configs.items()):
        events, trainer = run(config, out / f"run{i}", d)
        finished = any(isinstance(e, ev.Finished) for e in events)
        result[label] = {"finished": finished, "max_difference": max_rank_difference(trainer.model),
                         "losses": {k: float(v) for k, v in trainer.last_losses.items()}}
    return result


def case_fail(out: Path, d: Distributed) -> dict:
    events, trainer = run(tiny("cgan-mlp"), out / "run", d, OnRank(1, 3, "fail"))
    failed = [e for e in events if isinstance(e, ev.Failed)]
    return {"failed": [e.message for e in failed], "step": trainer.step, "saved_step": trainer.saved_step}


def case_stop(out: Path, d: Distributed) -> dict:
    events, trainer = run(tiny("cgan-mlp"), out / "run", d, OnRank(1, 4, "stop"))
    finished = [e for e in events if isinstance(e, ev.Finished)]
    return {"finished": [(e.step, e.stopped) for e in finished], "step": trainer.step,
            "saved_step": trainer.saved_step}


def main() -> int:
    case, out = sys.argv[1], Path(sys.argv[2])
    d = Distributed.from_env("cpu")
    torch.set_num_threads(1)
    result = {"equal": case_equal, "fail": case_fail, "stop": case_stop}[case](out, d)
    result["rank"] = d.rank
    (out / f"result-{d.rank}.json").write_text(json.dumps(result))
    d.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
