"""`python -m training ...` in a checkout: the same command as `python -m iqlite.training ...` (or `iqlite-train`).

The code lives in `iqlite/training/`; this folder is not installed, so a project of your own with a `training`
package can use iqlite beside it. It only keeps the short command the docs use working from the repository root.
"""

from iqlite.training.cli import main

raise SystemExit(main())
