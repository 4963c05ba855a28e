"""Options made from dataclass fields (training/core/cli_fields.py) and the subcommand dispatch of both CLIs."""

from __future__ import annotations

import argparse
import io
from dataclasses import dataclass, field

import pytest

from iqlite.export import cli as export_cli
from iqlite.training import cli as training_cli
from iqlite.training.core.cli_fields import add_field_options, apply_options, field_options
from iqlite.training.core.cli_help import HelpFormatter
from iqlite.training.ratings.hidden_tests import HiddenTestConfig
from iqlite.training.ratings.rater_profiles import ProfileConfig
from iqlite.training.regressor.config import TrainConfig


@dataclass(frozen=True)
class _Inner:
    depth: int = field(default=3, metadata={"help": "how deep", "why_default": "deep enough"})


@dataclass(frozen=True)
class _Settings:
    rate: float = field(default=0.5, metadata={"help": "share in %"})
    name: str = field(default="a", metadata={"help": "a name"})
    hidden: int = 7  # no help: not an option
    flags: tuple[int, ...] = field(default=(1,), metadata={"help": "not parsable from one string"})
    inner: _Inner = field(default_factory=_Inner)


def _help(parser: argparse.ArgumentParser) -> str:
    buffer = io.StringIO()
    parser.print_help(buffer)
    return " ".join(buffer.getvalue().split())


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next(a for a in parser._actions if a.dest == "command").choices


def test_field_defaults_are_option_defaults_and_show_in_the_help() -> None:
    parser = argparse.ArgumentParser(formatter_class=HelpFormatter)
    add_field_options(parser, _Settings, ["rate", "name", "inner.depth"])
    args = parser.parse_args(["--rate", "0.25", "--depth", "4"])
    assert apply_options(_Settings(), args, ["rate", "name", "inner.depth"]) == _Settings(rate=0.25, inner=_Inner(4))
    text = _help(parser)
    assert "share in % (default: 0.5)" in text and "how deep (default: 3, deep enough)" in text


def test_decided_later_defaults_are_none_and_keep_the_configs_value() -> None:
    parser = argparse.ArgumentParser()
    add_field_options(parser, _Settings, ["rate", "inner.depth"],
                      describe_default=lambda path: None if path == "rate" else "3 or 5")
    args = parser.parse_args([])
    assert args.rate is None and args.depth is None
    base = _Settings(rate=0.9, inner=_Inner(5))
    assert apply_options(base, args, ["rate", "inner.depth"]) == base
    text = _help(parser)
    assert "how deep (default: 3 or 5, deep enough)" in text and "default: None" not in text


def test_only_fields_with_help_are_options_and_bad_ones_fail_when_the_parser_is_built() -> None:
    with pytest.raises(TypeError, match="an option cannot parse"):
        field_options(_Settings)  # every field with help: `flags` among them
    with pytest.raises(TypeError, match="no 'help' metadata"):
        field_options(_Settings, ["hidden"])
    with pytest.raises(TypeError, match="no field"):
        field_options(_Settings, ["inner.missing"])
    assert [o.flag for o in field_options(ProfileConfig)] == ["--random-spread-factor", "--binary-extreme-share",
                                                             "--bias-stars", "--min-votes"]


def test_train_recipe_and_ratings_thresholds_come_from_the_dataclasses() -> None:
    subs = _subparsers(training_cli.build_parser())
    train = {a.dest: a for a in subs["train"]._actions}
    for option in field_options(TrainConfig, training_cli.RECIPE_OPTIONS):
        assert train[option.dest].type is option.type and train[option.dest].default is None
    ratings = {a.dest: a for a in subs["ratings"]._actions}
    for config in (ProfileConfig(), HiddenTestConfig()):
        for option in field_options(type(config)):
            assert ratings[option.dest].default == getattr(config, option.dest)
    text = _help(subs["train"])
    assert "(default: 384 with --data, 320 without)" in text and "(default: 0.0001 with --data, 5e-05 without)" in text
    assert "(default: block_16_project_BN, before Conv_1, so the int8 model fits in 450 KB)" in text


@pytest.mark.parametrize("build", [training_cli.build_parser, export_cli.build_parser])
def test_every_subcommand_has_a_handler_and_no_help_shows_a_none_default(build) -> None:
    parser = build()
    for name, sub in _subparsers(parser).items():
        assert callable(sub.get_default("func")), name
        text = _help(sub)
        assert "(default: None)" not in text and "(default: False)" not in text, name


def test_export_run_defaults_match_the_modules_they_repeat() -> None:
    from iqlite.export import qat, tflite_export
    from iqlite.export.run_export import DEFAULT_BUDGET_BYTES, DEFAULT_QAT_EPOCHS

    assert DEFAULT_BUDGET_BYTES == tflite_export.DEFAULT_BUDGET_BYTES
    assert DEFAULT_QAT_EPOCHS == qat.DEFAULT_EPOCHS
