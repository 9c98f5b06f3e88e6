"""The frozen bundle's entry point: the same ``latent-studio`` command as the console script."""

import multiprocessing
import sys

from studio.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a no-op unless something starts a spawned child
    sys.exit(main())
