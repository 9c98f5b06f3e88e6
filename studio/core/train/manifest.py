"""A run's checkpoints as one atomic unit: step files, then a manifest that commits them.

checkpoints/
    step-N.safetensors         weights of step N (the last ``train.keep_checkpoints`` kept)
    step-N.state.pt            resume state of step N (only the committed step's is kept)
    manifest.json              {"step": N, "weights": "step-N.safetensors", "state": "step-N.state.pt"}
    last.safetensors           the committed weights under a stable name (a hard link)
    step-N.pinned.safetensors  pinned by the user (``latent-studio pin RUN N``): never pruned

A checkpoint writes both step files (each atomically), then replaces manifest.json:
that rename is the commit. A kill before it leaves the previous manifest, whose files
are untouched; a kill after it leaves a complete checkpoint. A resume reads only what
the manifest names. last.safetensors follows the manifest (so the window, the explorer
and ``load_checkpoint(path)`` keep working) and is repaired when the run is next opened.
Run directories written before the manifest (last.safetensors + last.state.pt) still
load and resume. Torch-free: the files arrive as bytes.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from studio.core.errors import CheckpointError
from studio.core.fileio import (
    atomic_link,
    atomic_write_bytes,
    atomic_write_text,
    fsync_dir,
    remove_stale_temps,
)

MANIFEST = "manifest.json"
FORMAT = "latent-studio-checkpoints"
LAST = "last.safetensors"
LEGACY_STATE = "last.state.pt"
# A test hook (benchmarks/kill_resume.py): seconds to sleep between the weights and the
# resume state, so that a kill can land in the middle of a checkpoint.
PAUSE_ENV = "LATENT_STUDIO_CHECKPOINT_PAUSE"

_STEP = re.compile(r"^step-(\d+)\.safetensors$")
_STATE = re.compile(r"^step-(\d+)\.state\.pt$")


def weights_name(step: int) -> str:
    return f"step-{step}.safetensors"


def state_name(step: int) -> str:
    return f"step-{step}.state.pt"


def pinned_name(step: int) -> str:
    return f"step-{step}.pinned.safetensors"


@dataclass(frozen=True)
class Manifest:
    step: int
    weights: str
    state: str

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "version": 1, "step": self.step,
                           "weights": self.weights, "state": self.state}) + "\n"


def read_manifest(folder: Path) -> Manifest | None:
    """The committed checkpoint of a checkpoints folder; None when there is no manifest."""
    path = Path(folder) / MANIFEST
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(f"{path}: damaged checkpoint manifest ({exc})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a Latent Studio checkpoint manifest")
    step, weights, state = raw.get("step"), raw.get("weights"), raw.get("state")
    # Only our own file names: a manifest must not point anywhere else.
    if (not isinstance(step, int) or isinstance(step, bool) or not isinstance(weights, str)
            or not isinstance(state, str) or weights != weights_name(step) or state != state_name(step)):
        raise CheckpointError(f"{path}: damaged checkpoint manifest (step {step!r}, files {weights!r}, {state!r})")
    return Manifest(step, weights, state)


@dataclass(frozen=True)
class Committed:
    """What a resume reads: the weights and resume state of one step (None: legacy layout)."""

    weights: Path
    state: Path
    step: int | None


def committed(folder: Path) -> Committed | None:
    """The checkpoint a resume continues from, or None when the run has none yet."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest is None:
        if (folder / LAST).exists():  # written before manifests existed
            return Committed(folder / LAST, folder / LEGACY_STATE, None)
        return None
    return Committed(folder / manifest.weights, folder / manifest.state, manifest.step)


def commit(folder: Path, step: int, weights: Callable[[], bytes], state: Callable[[], bytes], keep: int) -> Path:
    """Write step ``step`` as the run's checkpoint; its weights path. ``weights`` and
    ``state`` make the files' bytes, each just before it is written (one in memory at a
    time). On failure the previous checkpoint stays committed and this step's files go."""
    folder = Path(folder)
    previous = read_manifest(folder)
    manifest = Manifest(step, weights_name(step), state_name(step))
    try:
        atomic_write_bytes(folder / manifest.weights, weights())
        _test_pause()
        atomic_write_bytes(folder / manifest.state, state())
        fsync_dir(folder)
        atomic_write_text(folder / MANIFEST, manifest.to_json())
        fsync_dir(folder)
    except BaseException:
        if previous is None or previous.step != step:  # never remove what is committed
            for name in (manifest.weights, manifest.state):
                with contextlib.suppress(OSError):
                    os.unlink(folder / name)
        raise
    # Committed. What follows is tidying: if it fails, the next open repairs it.
    with contextlib.suppress(OSError):
        atomic_link(folder / manifest.weights, folder / LAST)
        prune(folder, manifest, keep)
    return folder / manifest.weights


def _test_pause() -> None:
    seconds = os.environ.get(PAUSE_ENV)
    if seconds:
        time.sleep(float(seconds))


def _steps(folder: Path, pattern: re.Pattern) -> dict[int, Path]:
    out = {}
    for entry in folder.iterdir():
        if match := pattern.match(entry.name):
            out[int(match.group(1))] = entry
    return out


def prune(folder: Path, manifest: Manifest, keep: int) -> list[Path]:
    """Keep the newest ``keep`` step weights (the committed one always) and the committed
    resume state; pinned files are another name and never match."""
    weights = _steps(folder, _STEP)
    newest = sorted((s for s in weights if s <= manifest.step), reverse=True)[: max(keep, 1)]
    kept = {manifest.step, *newest}
    doomed = [p for s, p in weights.items() if s not in kept]
    doomed += [p for s, p in _steps(folder, _STATE).items() if s != manifest.step]
    if (folder / LEGACY_STATE).exists():
        doomed.append(folder / LEGACY_STATE)
    for path in doomed:
        with contextlib.suppress(OSError):
            os.unlink(path)
    return doomed


def tidy(run_path: Path, folder: Path) -> list[str]:
    """On opening a run for writing (under its lock): remove what a killed writer left
    (temporary files, step files never committed) and make last.safetensors the
    manifest's again. Returns what was done, for a person."""
    notes = []
    stale = [p for d in (run_path, folder, run_path / "samples") for p in remove_stale_temps(d)]
    manifest = read_manifest(folder) if folder.is_dir() else None
    uncommitted = []
    if manifest is not None:
        for pattern in (_STEP, _STATE):
            for step, path in _steps(folder, pattern).items():
                if step > manifest.step:
                    with contextlib.suppress(OSError):
                        os.unlink(path)
                        uncommitted.append(path)
        _repair_last(folder, manifest)
    if stale or uncommitted:
        notes.append(f"Removed {len(stale) + len(uncommitted)} unfinished files a stopped writer left in {run_path}")
    return notes


def _repair_last(folder: Path, manifest: Manifest) -> None:
    weights, last = folder / manifest.weights, folder / LAST
    if not weights.exists():
        return  # resume reports it
    with contextlib.suppress(OSError):
        if last.exists() and os.path.samefile(weights, last):
            return
        atomic_link(weights, last)


def pin(folder: Path, step: int) -> Path:
    """Keep step ``step``'s weights for good, as step-N.pinned.safetensors (a hard link,
    or a copy). Safe while the run trains: pruning never touches that name."""
    folder = Path(folder)
    source, dest = folder / weights_name(step), folder / pinned_name(step)
    if dest.exists():
        return dest
    try:
        atomic_link(source, dest)
    except FileNotFoundError:
        have = sorted(_steps(folder, _STEP)) if folder.is_dir() else []
        listed = ", ".join(map(str, have)) or "none"
        raise CheckpointError(f"{source}: no checkpoint of step {step} (kept steps: {listed})") from None
    return dest


def unpin(folder: Path, step: int) -> Path:
    path = Path(folder) / pinned_name(step)
    if not path.exists():
        raise CheckpointError(f"{path}: step {step} is not pinned")
    path.unlink()
    return path
