"""Command-line options made from dataclass fields, so a setting is declared once: in its config dataclass.

A field that users may set from the command line carries its help text in the field's metadata:

    fine_tune_lr: float = field(default=5e-5, metadata={"help": "phase 2 learning rate"})

`add_field_options` turns such fields into options (`--fine-tune-lr`, its type from the annotation) and
`apply_options` puts the parsed values back into a config. Before, each field was declared a second time by hand
in argparse, and the two copies drifted (a default changed in one place, a help text stale in the other).

Metadata keys: "help" (required: a field without it is not an option) and "why_default" (optional: said after
the shown default, "(default: X, why)"). An option's default is either

- the field's own default (the ratings thresholds): the option defaults to it and the help shows it; or
- decided later, from other options (train's recipe depends on --data and --smoke): the option defaults to None,
  meaning "not given: keep the chosen config's value", and `describe_default(name)` writes the help's default.

Either way the help never says "(default: None)": a default that is None is not shown.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

__all__ = ["HELP", "WHY_DEFAULT", "FieldOption", "add_field_options", "apply_options", "field_options"]

HELP = "help"
WHY_DEFAULT = "why_default"

#: Field types an option can parse from its text; others (tuples, flags, nested configs) are not options.
_OPTION_TYPES = (int, float, str)

Config = TypeVar("Config")


@dataclasses.dataclass(frozen=True)
class FieldOption:
    """One dataclass field as a command-line option."""

    path: str  # the field's name; dotted for a field of a nested config ("model.cut_layer")
    field: dataclasses.Field
    type: type

    @property
    def dest(self) -> str:
        """The argparse attribute: the field's own name (so `--cut-layer` of `model.cut_layer` is `cut_layer`)."""
        return self.path.rpartition(".")[2]

    @property
    def flag(self) -> str:
        return "--" + self.dest.replace("_", "-")

    def default(self) -> Any:
        """The field's own default (None if it has none)."""
        if self.field.default is not dataclasses.MISSING:
            return self.field.default
        if self.field.default_factory is not dataclasses.MISSING:
            return self.field.default_factory()
        return None


def field_options(config_type: type, names: Iterable[str] | None = None) -> list[FieldOption]:
    """The fields of `config_type` that become options: `names` in that order (a dotted name reaches into a
    nested config field), or, without `names`, every field with help metadata in declaration order.

    Raises TypeError for a named field without help or of a type an option cannot parse: a programming error,
    caught when the parser is built rather than when a user passes the option.
    """
    if names is None:
        names = [f.name for f in dataclasses.fields(config_type) if HELP in f.metadata]
    return [_field_option(config_type, name) for name in names]


def add_field_options(container: argparse._ActionsContainer, config_type: type, names: Iterable[str] | None = None,
                      *, describe_default: Callable[[str], str | None] | None = None) -> list[FieldOption]:
    """Add one option per field (see `field_options` for which) to a parser or argument group.

    Without `describe_default` each option defaults to its field's default, shown in the help. With it, each
    option defaults to None (not given: `apply_options` keeps the config's value) and the help shows
    `describe_default(path)`, or no default where that returns None.
    """
    options = field_options(config_type, names)
    for option in options:
        if describe_default is None:
            default = option.default()
            shown = None if default is None else "%(default)s"  # argparse fills in the value, as for any option
        else:
            default = None
            described = describe_default(option.path)
            shown = None if described is None else _escaped(described)
        container.add_argument(option.flag, type=option.type, default=default, help=_help(option.field, shown))
    return options


def apply_options(config: Config, args: argparse.Namespace, names: Iterable[str] | None = None) -> Config:
    """`config` with the value of every option of `add_field_options` (same `names`) that is not None.

    None means the option was not given (or defaults to None), so the config's own value stays.
    """
    for option in field_options(type(config), names):
        value = getattr(args, option.dest)
        if value is not None:
            config = _replaced(config, option.path.split("."), value)
    return config


def _field_option(config_type: type, path: str) -> FieldOption:
    owner = config_type
    *parents, name = path.split(".")
    for parent in parents:
        owner = _field_type(owner, parent)
        if not dataclasses.is_dataclass(owner):
            raise TypeError(f"{path}: {parent} is not a nested config dataclass")
    field = _fields(owner).get(name)
    if field is None:
        raise TypeError(f"{owner.__name__} has no field {name!r}")
    if HELP not in field.metadata:
        raise TypeError(f"{owner.__name__}.{name} has no {HELP!r} metadata, so it is not a command-line option")
    kind = _field_type(owner, name)
    if kind not in _OPTION_TYPES:
        raise TypeError(f"{owner.__name__}.{name}: an option cannot parse a {kind!r}")
    return FieldOption(path, field, kind)


def _fields(owner: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(owner)}


def _field_type(owner: type, name: str) -> Any:
    """The annotation of a field as a type (modules with `from __future__ import annotations` store strings)."""
    return typing.get_type_hints(owner)[name]


def _help(field: dataclasses.Field, shown_default: str | None) -> str:
    text = _escaped(field.metadata[HELP])
    if shown_default is None:
        return text
    why = field.metadata.get(WHY_DEFAULT)
    return f"{text} (default: {shown_default}{', ' + _escaped(why) if why else ''})"


def _escaped(text: str) -> str:
    """Text for an argparse help string, which is %-formatted."""
    return text.replace("%", "%%")


def _replaced(config: Any, path: list[str], value: Any) -> Any:
    head, *rest = path
    return dataclasses.replace(config, **{head: _replaced(getattr(config, head), rest, value) if rest else value})
