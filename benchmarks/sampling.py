"""Sampling speed, in one run: PixelCNN's fast sampler against the naive one, and DDPM's
full ancestral sampler against 50- and 20-step DDIM, with FID (evaluator features).

    python benchmarks/sampling.py [--ddpm RUN_OR_CHECKPOINT] [--quick]

Without ``--ddpm`` the DDPM part times a freshly initialised model of the cddpm preset's
size (its FID then only shows the pipeline works); give a trained cddpm run for figures
worth reading. Lines end with ``pixelcnn sampling speedup: N.NNx`` (target >= 5x).
"""

from __future__ import annotations

import argparse
import sys

from _sampling_ddpm import ddpm_sampling  # benchmarks/, next to this script
from _sampling_pixelcnn import pixelcnn_sampling


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ddpm", help="a trained ddpm/cddpm run or checkpoint")
    parser.add_argument("--quick", action="store_true", help="fewer samples: checks the pipeline")
    args = parser.parse_args()
    print("== DDPM ==")
    for line in ddpm_sampling(args.ddpm, args.quick):
        print(line, flush=True)
    print("== PixelCNN ==")
    for line in pixelcnn_sampling(args.quick):
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
