"""Multi-process training under torchrun: the process group, sharding and agreement.

torchrun (PyTorch's launcher; the studio has none of its own) starts one process per
rank and sets RANK, WORLD_SIZE, LOCAL_RANK and the rendezvous address;
``Distributed.from_env()`` joins that group (gloo on the CPU, nccl on CUDA, each rank on
``cuda:LOCAL_RANK``). What the trainer does with it:

- ``train.batch_size`` is the *global* batch: every rank draws the same seeded
  permutation and takes its own slice of each global batch (BatchSampler's ``shard``),
  so a config trains on the same images whatever the number of processes;
- each rank draws its own noise (the algorithm's generator is seeded with the rank);
- the algorithm wraps the modules it calls in DistributedDataParallel
  (``Algorithm.distribute``), which averages the gradients, so the ranks stay equal;
- the losses are averaged over the ranks (``mean``) before anything reads them, so the
  NaN guard and the logs see the same numbers on every rank;
- at every step boundary the ranks agree (``agree``, one small all-reduce) on stop,
  pause, "save now" and a failure on any rank, so no rank waits for one that has left;
- only rank 0 writes the run directory (callbacks marked ``rank_zero_only``).
"""

from __future__ import annotations

import datetime
import inspect
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from studio.core.config import ConfigError

# A rank that dies inside a collective leaves the others waiting: they give up after this
# long (torchrun stops them sooner when a rank exits). Long enough for rank 0 to prepare
# the live metrics' evaluator while the others wait for the run directory.
TIMEOUT_S = 600
NOISE_SEED_STRIDE = 1_000_003  # rank r's noise seed: seed + r * stride (rank 0: a single process's)

_HAS_FORWARD_SYNC = "forward_sync_buffers" in inspect.signature(nn.parallel.DistributedDataParallel).parameters


@dataclass(frozen=True)
class Agreement:
    """What all ranks decided at one step boundary (each flag: true on any rank)."""

    stop: bool = False
    paused: bool = False
    save: bool = False
    failed_rank: int | None = None  # a rank that failed, or None


class Distributed:
    """This process's place in a torchrun group, and the few collectives the trainer needs."""

    def __init__(self, rank: int, world: int, local_rank: int, device: torch.device):
        self.rank, self.world, self.local_rank, self.device = rank, world, local_rank, device

    @classmethod
    def from_env(cls, device: str = "auto") -> Distributed | None:
        """Join the group torchrun set up (None when this is a single process)."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return None
        rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        on_cuda = device in ("auto", "cuda") and torch.cuda.is_available()
        if device == "cuda" and not on_cuda:
            raise ConfigError("train.device is cuda but no CUDA device is available; use auto or cpu")
        if device == "mps":
            raise ConfigError("train.device = mps cannot train in several processes; use cpu")
        if on_cuda:
            torch.cuda.set_device(local_rank)
            place = torch.device("cuda", local_rank)
        else:
            place = torch.device("cpu")
        if not dist.is_initialized():
            dist.init_process_group("nccl" if on_cuda else "gloo", timeout=datetime.timedelta(seconds=TIMEOUT_S))
        return cls(rank, world, local_rank, place)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def per_rank_batch(self, batch_size: int) -> int:
        if batch_size % self.world:
            raise ConfigError(f"train.batch_size ({batch_size}) is the global batch: it must divide evenly "
                              f"among the {self.world} processes")
        return batch_size // self.world

    def wrap(self, module: nn.Module) -> nn.Module:
        """DistributedDataParallel over ``module``.

        Buffers are not synced at each forward (``broadcast_buffers=False``): that would
        overwrite them with rank 0's, in place, at every call, which breaks a backward
        through a module called twice (a discriminator with batch norm sees real and fake
        apart). Each rank's batch-norm statistics then come from its own shard (rank 0's
        are saved). Parameters frozen
        by ``train.freeze`` (requires_grad off when this is built) are left out by DDP.
        """
        ids = [self.device.index] if self.device.type == "cuda" else None
        # torch 2.11+ spells it forward_sync_buffers (the buffers are still synced once, at
        # construction: every rank starts from rank 0's, which is what a run wants).
        off = {"forward_sync_buffers": False} if _HAS_FORWARD_SYNC else {"broadcast_buffers": False}
        return nn.parallel.DistributedDataParallel(module, device_ids=ids, **off)

    def mean(self, losses: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The losses averaged over the ranks (one all-reduce for all of them)."""
        if not losses:
            return losses
        stacked = torch.stack([v.detach().float().reshape(()) for v in losses.values()])
        dist.all_reduce(stacked)
        stacked /= self.world
        return dict(zip(losses, stacked.unbind(), strict=True))

    def agree(self, *, stop: bool, paused: bool, save: bool, failed: bool) -> Agreement:
        """Every rank's flags, OR-ed (a failed rank sends its rank + 1: the highest one wins)."""
        flags = torch.tensor([stop, paused, save, (self.rank + 1) if failed else 0], dtype=torch.int64,
                             device=self._collective_device)
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
        stop_, paused_, save_, failed_ = (int(v) for v in flags.tolist())
        return Agreement(bool(stop_), bool(paused_), bool(save_), failed_ - 1 if failed_ else None)

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (a run directory's path, or why there is none)."""
        box = [obj]
        dist.broadcast_object_list(box, src=0, device=self._collective_device)
        return box[0]

    @property
    def _collective_device(self) -> torch.device:
        return self.device if self.device.type == "cuda" else torch.device("cpu")

    def close(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()
