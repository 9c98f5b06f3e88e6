"""The evaluator: a small CNN classifier trained per labelled dataset, cached by content.

Inception-based FID needs weights from the internet; instead each dataset gets its own
classifier, trained on its training split in under a minute on a laptop CPU. Its
penultimate layer is the feature space of the studio's Fréchet distance, KID and
precision/recall, and its predictions give the class histogram and conditional
accuracy. Weights are cached as safetensors under the user's cache directory, keyed by
a hash of the training images, labels and this recipe, and retrained when missing.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from studio.core.data.dataset import ImageData
from studio.core.errors import StudioError

# Bump when the network or the training recipe changes: old cache entries are then ignored.
RECIPE_VERSION = 2
FEATURE_DIM = 128
CACHE_ENV = "LATENT_STUDIO_CACHE"

Progress = Callable[[float, str], None]  # (fraction done in [0, 1], message)


class EvaluatorCancelled(StudioError):
    """Evaluator training was stopped before it finished (nothing was cached)."""


class EvaluatorNet(nn.Module):
    """(C, H, W) in [0, 1] -> 128 features -> class logits; ~2M multiply-adds per 28x28 image.

    Strided convolutions instead of max-pooling and a 4x4 adaptive pool before the
    head: cheap on a CPU, and the same network takes any image size.
    """

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int, width: int = 16):
        super().__init__()
        c, _, _ = image_shape
        self.image_shape = tuple(image_shape)
        self.num_classes = num_classes
        self.width = w = width
        self.body = nn.Sequential(
            nn.Conv2d(c, w, 5, stride=2, padding=2), nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(),
            nn.Conv2d(2 * w, 4 * w, 3, stride=2, padding=1), nn.BatchNorm2d(4 * w), nn.ReLU(),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(),
            nn.Linear(4 * w * 16, FEATURE_DIM), nn.ReLU(),
        )
        self.head = nn.Linear(FEATURE_DIM, num_classes)
        # Set after training so that real features have unit RMS per dimension: distances
        # then read on a scale that does not depend on the dataset (and KID's cubic
        # kernel, built for O(1) features, stays in range).
        self.register_buffer("feature_scale", torch.ones(1))

    def features(self, x01: torch.Tensor) -> torch.Tensor:
        return self.body(x01 * 2 - 1) * self.feature_scale

    def forward(self, x01: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x01 * 2 - 1))


@dataclass
class Evaluator:
    """A trained EvaluatorNet plus what it was trained on, ready to embed images."""

    net: EvaluatorNet
    key: str  # content hash of the training split and recipe
    dataset: str
    class_names: list[str]
    accuracy: float | None  # on the held-out split, None when there was none
    train_seconds: float
    path: Path | None = None  # the cache file, None when not cached

    @property
    def num_classes(self) -> int:
        return self.net.num_classes

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.net.image_shape  # type: ignore[return-value]

    @torch.no_grad()
    def embed(self, images: torch.Tensor, batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (uint8, or float in [0, 1]) -> (features float64 (N, 128), class probs (N, K))."""
        if tuple(images.shape[1:]) != self.image_shape:
            raise StudioError(
                f"the evaluator of {self.dataset} takes images of shape {self.image_shape}, "
                f"got {tuple(images.shape[1:])}"
            )
        self.net.eval()
        feats, probs = [], []
        for start in range(0, len(images), batch_size):
            x = _as_float01(images[start : start + batch_size])
            h = self.net.body(x * 2 - 1)
            feats.append((h * self.net.feature_scale).double())
            probs.append(F.softmax(self.net.head(h), dim=1).double())
        if not feats:
            return torch.zeros(0, FEATURE_DIM, dtype=torch.float64), torch.zeros(0, self.num_classes, dtype=torch.float64)
        return torch.cat(feats), torch.cat(probs)

    def accuracy_on(self, data: ImageData) -> float:
        if data.labels is None or not len(data):
            raise StudioError(f"{data.name}: accuracy needs labelled images")
        _, probs = self.embed(data.images)
        return float((probs.argmax(1) == data.labels.cpu()).double().mean())


def _as_float01(x: torch.Tensor) -> torch.Tensor:
    x = x.cpu()
    return x.float().div_(255) if x.dtype == torch.uint8 else x.float()


# --------------------------------------------------------------------------- cache


def cache_dir() -> Path:
    """Where evaluator weights live: $LATENT_STUDIO_CACHE or the platform's user cache dir."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env) / "evaluators"
    import platformdirs

    return Path(platformdirs.user_cache_dir("latent-studio")) / "evaluators"


def content_key(data: ImageData, recipe: dict | None = None) -> str:
    """sha256 of the images, labels, class names and recipe: the same content, the same key."""
    h = hashlib.sha256()
    h.update(json.dumps({"version": RECIPE_VERSION, "recipe": recipe or {}, "shape": list(data.images.shape),
                         "classes": data.class_names}, sort_keys=True).encode())
    h.update(memoryview(data.images.cpu().contiguous().numpy()).cast("B"))  # no copy of a big set
    if data.labels is not None:
        h.update(memoryview(data.labels.cpu().to(torch.int64).contiguous().numpy()).cast("B"))
    return h.hexdigest()


def cache_path(data: ImageData, key: str, root: Path | None = None) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in data.name)[:40] or "data"
    return (root or cache_dir()) / f"{safe}-{key[:20]}.safetensors"


def save_evaluator(ev: Evaluator, path: Path) -> None:
    from safetensors.torch import save

    from studio.core.fileio import atomic_write_bytes

    meta = {
        "format": "latent-studio-evaluator",
        "recipe_version": str(RECIPE_VERSION),
        "key": ev.key,
        "dataset": ev.dataset,
        "image_shape": json.dumps(list(ev.image_shape)),
        "width": str(ev.net.width),
        "class_names": json.dumps(ev.class_names),
        "accuracy": "" if ev.accuracy is None else repr(ev.accuracy),
        "train_seconds": repr(ev.train_seconds),
    }
    tensors = {k: v.detach().cpu().contiguous() for k, v in ev.net.state_dict().items()}
    atomic_write_bytes(path, save(tensors, metadata=meta))


def load_evaluator(path: Path, expected_key: str | None = None) -> Evaluator:
    """Read a cached evaluator; StudioError naming the file when it is foreign or corrupt."""
    from safetensors import safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
            tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    except FileNotFoundError:
        raise StudioError(f"{path}: evaluator file not found") from None
    except Exception as exc:  # safetensors raises its own error types for bad headers
        raise StudioError(f"{path}: not a readable safetensors file ({exc})") from None
    if meta.get("format") != "latent-studio-evaluator" or meta.get("recipe_version") != str(RECIPE_VERSION):
        raise StudioError(f"{path}: not an evaluator of this version of the studio")
    if expected_key is not None and meta.get("key") != expected_key:
        raise StudioError(f"{path}: evaluator was trained on different data")
    try:
        shape = tuple(int(v) for v in json.loads(meta["image_shape"]))
        names = [str(v) for v in json.loads(meta["class_names"])]
        net = EvaluatorNet(shape, len(names), int(meta.get("width", "16")))  # type: ignore[arg-type]
        net.load_state_dict(tensors)
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise StudioError(f"{path}: evaluator weights do not match its header ({exc})") from None
    net.eval()
    acc = meta.get("accuracy") or ""
    return Evaluator(net, meta["key"], meta.get("dataset", ""), names, float(acc) if acc else None,
                     float(meta.get("train_seconds", "0") or 0), path)


# --------------------------------------------------------------------------- training


@dataclass(frozen=True)
class Recipe:
    """How the evaluator is trained; part of the cache key."""

    epochs: int = 15
    max_steps: int = 3000  # caps the time on large datasets (mnist 60k, cifar10)
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 5e-4
    shift: int = 2  # random translation in pixels, the only augmentation (digits must not flip)
    width: int = 16
    seed: int = 0

    def steps_for(self, n: int) -> int:
        return max(1, min(self.max_steps, self.epochs * math.ceil(n / self.batch_size)))


def train_evaluator(
    train: ImageData,
    test: ImageData | None = None,
    recipe: Recipe = Recipe(),
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Evaluator:
    """Train a fresh evaluator on ``train``; report its accuracy on ``test`` when given."""
    # These small convolutions gain little from threads, and lose a lot when the cores
    # are shared (100 s instead of 20 s on a busy 2-core machine): use half the cores.
    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, min(previous, (os.cpu_count() or 2) // 2)))
    try:
        return _train(train, test, recipe, progress, should_stop)
    finally:
        torch.set_num_threads(previous)


def _train(
    train: ImageData,
    test: ImageData | None,
    recipe: Recipe,
    progress: Progress | None,
    should_stop: Callable[[], bool] | None,
) -> Evaluator:
    if train.labels is None or not train.num_classes:
        raise StudioError(f"{train.name}: the evaluator needs a labelled dataset")
    started = time.perf_counter()
    gen = torch.Generator().manual_seed(recipe.seed)
    # Own RNG state: training the evaluator must not change the caller's random stream.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        net = EvaluatorNet(train.image_shape, train.num_classes, recipe.width)
    images, labels = train.images.cpu(), train.labels.cpu()
    steps = recipe.steps_for(len(images))
    opt = torch.optim.AdamW(net.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.lr, total_steps=steps, pct_start=0.2)
    net.train()
    order = torch.randperm(len(images), generator=gen)
    pos = 0
    for step in range(steps):
        if should_stop is not None and should_stop():
            raise EvaluatorCancelled(f"{train.name}: evaluator training stopped at step {step} of {steps}")
        if pos + recipe.batch_size > len(order):
            order, pos = torch.randperm(len(images), generator=gen), 0
        idx = order[pos : pos + recipe.batch_size]
        pos += recipe.batch_size
        x = _shift(_as_float01(images[idx]), recipe.shift, gen)
        loss = F.cross_entropy(net(x), labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if progress is not None and (step % 20 == 0 or step == steps - 1):
            progress((step + 1) / steps, f"training the {train.name} evaluator: step {step + 1}/{steps}")
    net.eval()
    with torch.no_grad():
        sq = sum(float(net.body(_as_float01(images[i : i + 500]) * 2 - 1).square().sum()) for i in range(0, len(images), 500))
        net.feature_scale.fill_(1 / max(math.sqrt(sq / (len(images) * FEATURE_DIM)), 1e-12))
    ev = Evaluator(net, content_key(train, _recipe_dict(recipe)), train.name, list(train.class_names or []),
                   None, time.perf_counter() - started)
    if test is not None and test.labels is not None and len(test):
        ev.accuracy = ev.accuracy_on(test)
    return ev


def _shift(x: torch.Tensor, pixels: int, gen: torch.Generator) -> torch.Tensor:
    """Translate the whole batch by one random offset of up to ``pixels``, filling with 0."""
    if pixels <= 0:
        return x
    dy, dx = (int(v) for v in torch.randint(-pixels, pixels + 1, (2,), generator=gen))
    p = pixels
    padded = F.pad(x, (p, p, p, p))
    h, w = x.shape[2:]
    return padded[:, :, p - dy : p - dy + h, p - dx : p - dx + w]


def _recipe_dict(recipe: Recipe) -> dict:
    from dataclasses import asdict

    return asdict(recipe)


def get_evaluator(
    train: ImageData,
    test: ImageData | None = None,
    *,
    root: Path | None = None,
    recipe: Recipe = Recipe(),
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Evaluator:
    """The cached evaluator for this training split, training and caching it when missing."""
    key = content_key(train, _recipe_dict(recipe))
    path = cache_path(train, key, root)
    if path.exists():
        try:
            return load_evaluator(path, expected_key=key)
        except StudioError:
            pass  # corrupt or foreign: retrain and overwrite it below
    ev = train_evaluator(train, test, recipe, progress, should_stop)
    save_evaluator(ev, path)
    ev.path = path
    return ev
