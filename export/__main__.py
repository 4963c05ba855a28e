"""`python -m export ...` in a checkout: the same command as `python -m iqlite.export ...` (or `iqlite-export`).

The code lives in `iqlite/export/`; this folder is not installed, so a project of your own with an `export`
package can use iqlite beside it. It only keeps the short command the docs use working from the repository root.
"""

from iqlite.export.cli import main

raise SystemExit(main())
