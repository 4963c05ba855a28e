"""One `--help` style for both command lines: every default shown is a real value.

argparse's `ArgumentDefaultsHelpFormatter` appends "(default: None)" to options whose default is decided
later (a folder the run recorded, the recipe of the chosen mode) and "(default: False)" to every flag,
which tells a reader nothing. This formatter shows a default only when there is a value to show; options
whose default depends on something else say so in their own help text.
"""

from __future__ import annotations

import argparse

__all__ = ["HelpFormatter"]


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows `(default: X)` only for real values: not for None, not for on/off flags."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is argparse.SUPPRESS or isinstance(action.default, bool):
            return action.help
        if action.help and "%(default)" in action.help:
            return action.help
        return super()._get_help_string(action)
