"""Entry point for `python -m iqlite.training` (and, through the checkout shim, `python -m training`)."""

import sys

from iqlite.training.cli import main

sys.exit(main())
