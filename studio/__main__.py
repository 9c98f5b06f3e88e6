"""``python -m studio ...`` is ``latent-studio ...`` (what ``torchrun -m studio train`` runs)."""

import sys

from studio.cli import main

sys.exit(main())
