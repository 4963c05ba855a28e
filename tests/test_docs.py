"""The documentation stays true: README size, links, named commands and the module map match the repository.

README.md is the newcomer's page and must stay short; everything else lives in docs/. These checks fail when a
page links to a file or heading that is gone, names a `python -m` command or subcommand that does not exist (or
the old `python benchmarks/NAME.py` form), names a repository path that does not exist, or when the module map
in docs/architecture.md misses a module of training/ or export/ (or lists one that is gone).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
ARCHITECTURE = DOCS / "architecture.md"
README_MAX_LINES = 250

_FENCE = re.compile(r"^(```|~~~)")
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"(?<!!)\[[^\]\n]*\]\(([^)\s]+)\)|!\[[^\]\n]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_PY_M = re.compile(r"\bpython3?\s+-m\s+(training|export)\b(?:[ \t]+([^\s`]+))?")
_PY_M_BENCH = re.compile(r"\bpython3?\s+-m\s+benchmarks\.(\w+)")
_OLD_BENCH = re.compile(r"\bpython3?\s+benchmarks/")
_REPO_PATH = re.compile(
    r"(?<![\w./-])((?:iqlite|training|export|benchmarks|scripts|tests|android_demo|web_demo)/[\w./-]*\.[A-Za-z]+)(?![\w{*<])"
)


def _pages() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def _page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


def _prose_lines(text: str) -> list[str]:
    """The page's lines outside fenced code blocks (links and headings in code are not links or headings)."""
    out, in_fence = [], False
    for line in text.splitlines():
        if _FENCE.match(line.strip()):
            in_fence = not in_fence
            continue
        if not in_fence:
            out.append(line)
    return out


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text only
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for line in _prose_lines(page.read_text(encoding="utf-8")):
        m = _HEADING.match(line)
        if not m:
            continue
        slug = github_slug(m.group(2))
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def links(page: Path) -> list[str]:
    targets = []
    for line in _prose_lines(page.read_text(encoding="utf-8")):
        for m in _LINK.finditer(_INLINE_CODE.sub("", line)):
            targets.append(m.group(1) or m.group(2))
    return targets


def _subcommands(module) -> dict[str, set[str]]:
    """Subcommand name -> its long options, from the module's own `build_parser()`."""
    parser = module.build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {
                name: {opt for a in sub._actions for opt in a.option_strings if opt.startswith("--")}
                for name, sub in action.choices.items()
            }
    raise AssertionError(f"{module.__name__}.build_parser() has no subcommands")


@pytest.fixture(scope="module")
def subcommands() -> dict[str, dict[str, set[str]]]:
    import iqlite.export.cli
    import iqlite.training.cli

    return {"training": _subcommands(iqlite.training.cli), "export": _subcommands(iqlite.export.cli)}


def test_readme_is_short():
    n = len(README.read_text(encoding="utf-8").splitlines())
    assert n <= README_MAX_LINES, f"README.md has {n} lines; at most {README_MAX_LINES} (move detail to docs/)"


def test_docs_folder_has_pages():
    assert DOCS.is_dir() and list(DOCS.glob("*.md")), "docs/ with its pages is missing"


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(README.parent / t.split("#", 1)[0]).resolve() for t in links(README) if not t.startswith("#")}
    missing = [_page_id(p) for p in sorted(DOCS.glob("*.md")) if p.resolve() not in linked]
    assert not missing, f"docs pages not linked from README.md: {missing}"


@pytest.mark.parametrize("page", _pages(), ids=_page_id)
def test_relative_links_point_to_existing_files_and_headings(page: Path):
    bad = []
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # https:, mailto:, ...
            continue
        path_part, _, fragment = target.partition("#")
        dest = (page.parent / path_part).resolve() if path_part else page.resolve()
        if not dest.exists():
            bad.append(f"{target}: no such file")
            continue
        if fragment and dest.suffix == ".md" and fragment not in anchors(dest):
            bad.append(f"{target}: no heading with anchor #{fragment} in {dest.relative_to(ROOT)}")
    assert not bad, f"{_page_id(page)}: broken links:\n" + "\n".join(bad)


@pytest.mark.parametrize("page", _pages(), ids=_page_id)
def test_named_commands_exist(page: Path, subcommands: dict[str, dict[str, set[str]]]):
    """Every `python -m training|export X` names a subcommand, and the options written after it on the same
    line (up to a closing backtick or a `#` comment) are options of that subcommand."""
    text = page.read_text(encoding="utf-8")
    bad = []
    for m in _PY_M.finditer(text):
        package, token = m.group(1), m.group(2)
        if not token or token.startswith("-") or not token[0].isalpha():
            continue  # `python -m training` alone, `--help`, `...`
        names = token.replace("\\", "").split("|")  # `train|baseline` lists, `\|` inside tables
        for name in names:
            if name not in subcommands[package]:
                bad.append(f"python -m {package} {name}: no such subcommand ({sorted(subcommands[package])})")
        if len(names) == 1 and names[0] in subcommands[package]:
            rest = re.split(r"`|\s#", text[m.end() :].split("\n", 1)[0], maxsplit=1)[0]
            for option in re.findall(r"(?<![\w-])--[a-z][\w-]*", rest):
                if option not in subcommands[package][names[0]]:
                    bad.append(f"python -m {package} {names[0]} {option}: no such option")
    for m in _PY_M_BENCH.finditer(text):
        name = m.group(1)
        if not re.fullmatch(r"\w+", name) or not (ROOT / "benchmarks" / f"{name}.py").is_file():
            bad.append(f"python -m benchmarks.{name}: no module benchmarks/{name}.py")
    for m in _OLD_BENCH.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        bad.append(f"line {line}: old form `python benchmarks/NAME.py`; write `python -m benchmarks.NAME`")
    assert not bad, f"{_page_id(page)}:\n" + "\n".join(bad)


@pytest.mark.parametrize("page", _pages(), ids=_page_id)
def test_named_repository_paths_exist(page: Path):
    text = page.read_text(encoding="utf-8")
    missing = sorted({m.group(1) for m in _REPO_PATH.finditer(text) if not (ROOT / m.group(1)).exists()})
    assert not missing, f"{_page_id(page)} names paths that do not exist: {missing}"


def _documented_modules() -> set[str]:
    """Modules in docs/architecture.md's tables, as repository paths.

    A line that starts with a room in backticks (`` `iqlite/training/core/`: ... `` or
    ``## `iqlite/export/`: ...``) sets the
    room; each following table row names its modules in the first cell, relative to that room.
    """
    room, out = None, set()
    for line in _prose_lines(ARCHITECTURE.read_text(encoding="utf-8")):
        m = re.match(r"^(?:#+\s+)?`(iqlite/(?:training|export|compression|perceptual)/[\w/]*)`", line)
        if m:
            room = m.group(1)
            continue
        if room and line.startswith("|"):
            first_cell = line.split("|")[1]
            for name in re.findall(r"`([\w/]+\.(?:py|json))`", first_cell):
                out.add(room.rstrip("/") + "/" + name)
    return out


def test_architecture_lists_every_module():
    actual = {
        str(p.relative_to(ROOT))
        for package in ("iqlite/training", "iqlite/export", "iqlite/compression", "iqlite/perceptual")
        for p in (ROOT / package).rglob("*.py")
        if p.name != "__init__.py" and "__pycache__" not in p.parts
    }
    actual -= {"iqlite/training/__main__.py", "iqlite/training/cli.py"}  # the root of training/, in prose
    documented = _documented_modules()
    undocumented = sorted(actual - documented)
    stale = sorted(p for p in documented if not (ROOT / p).exists())
    assert not undocumented, f"modules missing from docs/architecture.md: {undocumented}"
    assert not stale, f"docs/architecture.md lists modules that do not exist: {stale}"


def test_architecture_describes_every_import_contract():
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    text = ARCHITECTURE.read_text(encoding="utf-8")
    rules = re.findall(r"^\d+\. \*\*", text, re.M)
    assert len(rules) == len(contracts), (
        f"pyproject.toml has {len(contracts)} import-linter contracts, docs/architecture.md describes {len(rules)}"
    )
    for contract in contracts:
        for module in [*contract.get("source_modules", []), *contract.get("forbidden_modules", [])]:
            assert f"`{module}`" in text, f"docs/architecture.md does not name `{module}` ({contract['name']})"
