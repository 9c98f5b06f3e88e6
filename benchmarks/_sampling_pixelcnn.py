"""PixelCNN sampling: the fast raster sampler against the naive one (a full pass per pixel).

Both run on a freshly initialised model of the pixelcnn preset's size (sampling cost does
not depend on the weights) from the same seed; the samples must be identical. Nothing is
trained. benchmarks/sampling.py composes this; alone:

    python benchmarks/_sampling_pixelcnn.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import torch

from studio.core.models.pixelcnn import PixelCNN, naive_sample
from studio.core.presets import preset


def _timed(fn) -> tuple[torch.Tensor, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def pixelcnn_sampling(quick: bool) -> list[str]:
    """Printable lines; the last is ``pixelcnn sampling speedup: N.NNx``."""
    config = preset("pixelcnn")
    m = config.model
    torch.manual_seed(0)
    model = PixelCNN(m, (1, 28, 28), None).eval()
    n = 4 if quick else 64
    fast, t_fast = _timed(lambda: model.sample(n, generator=torch.Generator().manual_seed(0)))
    slow, t_slow = _timed(lambda: naive_sample(model, n, generator=torch.Generator().manual_seed(0)))
    same = torch.equal(fast, slow)
    return [
        f"pixelcnn preset size: {m.channels} channels, {m.layers} gated layers (dilations up to {m.dilation}), "
        f"kernel {m.kernel}, "
        f"first {m.first_kernel}x{m.first_kernel}; receptive field {model.receptive_field} rows/columns",
        f"{n} samples of 28x28 on {torch.get_num_threads()} thread(s)",
        f"naive (a full pass per pixel, 784 passes): {t_slow:8.2f} s",
        f"fast (receptive-field crops):              {t_fast:8.2f} s   ({t_fast / n * 1000:.0f} ms per image)",
        f"identical samples from the same seed: {'yes' if same else 'NO'}",
        f"pixelcnn sampling speedup: {t_slow / t_fast:.2f}x",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 samples instead of 64")
    args = parser.parse_args()
    for line in pixelcnn_sampling(args.quick):
        print(line)


if __name__ == "__main__":
    main()
