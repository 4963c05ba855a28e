"""What both command lines share: one `--help` style, subcommands, and one way of reporting errors.

argparse's `ArgumentDefaultsHelpFormatter` appends "(default: None)" to options whose default is decided
later (a folder the run recorded, the recipe of the chosen mode) and "(default: False)" to every flag,
which tells a reader nothing. `HelpFormatter` shows a default only when there is a value to show; options
whose default depends on something else say so in their own help text.

Each subcommand names its handler (`add_command(..., func)`, stored with `set_defaults`), so `main` has no
if-chain of command names to keep in step with the parser, and `run_command` gives both CLIs the same contract:
a `UserError` is one `error: ...` line and exit status 2, an interrupt is exit status 130, anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from iqlite.training.core.errors import InputError, UserError
from iqlite.training.core.images import DEFAULT_MAX_PIXELS, MAX_MEGAPIXELS_OPTION

__all__ = ["Command", "HelpFormatter", "add_command", "add_max_megapixels", "max_pixels_from", "run_command"]

#: A subcommand's handler: the parsed arguments and the top-level parser (for `parser.error`) in, exit status out.
Command = Callable[[argparse.Namespace, argparse.ArgumentParser], int]


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows `(default: X)` only for real values: not for None, not for on/off flags."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is argparse.SUPPRESS or isinstance(action.default, bool):
            return action.help
        if action.help and "%(default)" in action.help:
            return action.help
        return super()._get_help_string(action)


def add_command(sub: argparse._SubParsersAction, name: str, func: Command, **kwargs) -> argparse.ArgumentParser:
    """A subcommand run by `func`, that also accepts --verbose after its name (`... score --verbose`), not only
    before it. Its --verbose defaults to SUPPRESS, so it never overwrites the top-level one with False."""
    parser = sub.add_parser(name, **kwargs)
    parser.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="also show the native start-up messages of TensorFlow and LiteRT")
    parser.set_defaults(func=func)
    return parser


def run_command(args: argparse.Namespace, parser: argparse.ArgumentParser, interrupted: str) -> int:
    """Run the parsed subcommand's handler; a `UserError` becomes one message and exit status 2, Ctrl-C prints
    `interrupted` and exits 130. Every other exception propagates: it is a bug, and its traceback is the report."""
    try:
        return args.func(args, parser)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(interrupted, file=sys.stderr)
        return 130


def add_max_megapixels(parser: argparse.ArgumentParser | argparse._ArgumentGroup, help: str) -> None:
    """The one pixel-limit option (the name the decoder's refusal message tells the user to pass)."""
    parser.add_argument(MAX_MEGAPIXELS_OPTION, type=float, default=DEFAULT_MAX_PIXELS / 1e6, metavar="MP", help=help)


def max_pixels_from(args: argparse.Namespace) -> int:
    """`--max-megapixels` as the pixel count the decoder takes; InputError unless it is positive."""
    if not args.max_megapixels > 0:
        raise InputError(f"{MAX_MEGAPIXELS_OPTION} must be positive, got {args.max_megapixels:g}")
    return int(args.max_megapixels * 1e6)
