"""The documentation's console examples are run, and their output must match the page.

Every fenced block marked `console` in README.md and docs/**/*.md holds commands (`$ nowcast
...`, `\\` continues a line) each followed by the output it prints. Each page runs in a fresh
scratch folder, in-process through Typer's CliRunner, with the clock standing at
2024-09-05T06:20:00Z, so the synthetic `demo` pipeline's data and every time printed are the
same on every run. The scratch folder is `/tmp/site-` and eight random characters,
shown on the pages as `/tmp/site-XXXXXXXX` (the same length, so lines wrap as they did), and
the checkout's own path (where the shipped pipelines and the repository's test frames are
found) as `<checkout>`, which commands may use too. A page
starts from a folder that already holds the demo archive (`nowcast ingest -p demo` run in it),
unless it has the line `<!-- console: empty folder -->`.

Compared are standard output and standard error together, less the log lines (timestamped
INFO/DEBUG records on stderr), word by word (spacing and blank lines aside); durations
(`0.128 s`) on both sides read `N s`. A command
expected to fail says so in a comment, `$ nowcast config check bad.toml  # exit 2`; any other
must exit 0. A page may define a file its commands read with a block opened as
```` ```toml title="bad.toml" ````.

`NOWCAST_DOCS_UPDATE=1 pytest tests/test_docs.py` rewrites the outputs on the pages from a run
(exit codes are still checked).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import time_machine
import typer
from typer.testing import CliRunner

from nowcast.cli.app import app

REPO = Path(__file__).resolve().parents[1]
CLOCK = "2024-09-05T06:20:00Z"
SHOWN_FOLDER = "/tmp/site-XXXXXXXX"
CHECKOUT = "<checkout>"  # the checkout's path, in commands and in what they print
EMPTY_MARK = "<!-- console: empty folder -->"
UPDATE = os.environ.get("NOWCAST_DOCS_UPDATE") == "1"
# The `--help` pages were written with typer 0.29, whose help keeps the docstrings' lines;
# older typer (the lowest-releases leg of `make ci`) wraps them anew, so there only the exit
# code of a `--help` example is checked. A newer typer is compared, so a change shows.
HELP_TYPER = (0, 29)
TYPER = tuple(int(part) for part in typer.__version__.split(".")[:2])

BLOCK = re.compile(r"^```console\n(.*?)^```$", re.S | re.M)
FILE_BLOCK = re.compile(r'^```\w*\s+title="([^"]+)"\n(.*?)^```$', re.S | re.M)
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z (DEBUG|INFO) ")
DURATION = re.compile(r"\b\d+(\.\d+)? s\b")
EXIT = re.compile(r"#\s*exit (\d+)\s*$")


def pages() -> list[Path]:
    """README.md and every docs page with a console example."""
    found = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    return [page for page in found if BLOCK.search(page.read_text(encoding="utf-8"))]


@dataclass
class Example:
    command: str  # as written, continuation lines included
    output: str  # expected, as written

    def argv(self) -> tuple[dict[str, str], list[str], int]:
        """Environment assignments, arguments after `nowcast`, and the expected exit code."""
        line = self.command.replace("\\\n", " ").replace(CHECKOUT, str(REPO))
        wanted = EXIT.search(line)
        words = shlex.split(line, comments=True)
        env = {}
        while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
            key, value = words.pop(0).split("=", 1)
            env[key] = value
        assert words and words[0] == "nowcast", f"not a nowcast command: {self.command!r}"
        return env, words[1:], int(wanted.group(1)) if wanted else 0


def examples(block: str) -> list[Example]:
    """The commands of one console block, each with the output lines that follow it."""
    found: list[Example] = []
    lines = block.splitlines()
    i = 0
    while i < len(lines):
        assert lines[i].startswith("$ "), f"console block line is no command: {lines[i]!r}"
        command = [lines[i][2:]]
        while command[-1].endswith("\\"):
            i += 1
            command.append(lines[i])
        i += 1
        output = []
        while i < len(lines) and not lines[i].startswith("$ "):
            output.append(lines[i])
            i += 1
        found.append(Example("\n".join(command), "\n".join(output)))
    return found


def tidy(text: str) -> str:
    """Trailing spaces and leading and trailing blank lines dropped."""
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")


def normal(text: str) -> str:
    """What is compared: the words of each line, every duration read as `N s`, no blank lines.

    Spacing is left out so that the legs of `make ci` on the lowest and newest releases (rich
    pads titles and help lines its own way in each) compare the same words and numbers."""
    lines = (" ".join(DURATION.sub("N s", line).split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


runner = CliRunner()


def run(folder: Path, example: Example) -> tuple[int, int, str]:
    """Run one example in `folder`; the exit code, the one expected, and what it printed."""
    extra, args, expected_code = example.argv()
    env = {name: "" for name in os.environ if name.startswith("NOWCAST_")}
    env |= {"COLUMNS": "80", "TERMINAL_WIDTH": "80", **extra}
    here = Path.cwd()
    os.chdir(folder)
    try:
        with time_machine.travel(CLOCK, tick=False):
            result = runner.invoke(app, args, env=env)
    finally:
        os.chdir(here)
    stderr = [line for line in result.stderr.splitlines() if not LOG_LINE.match(line)]
    printed = "\n".join([*result.stdout.splitlines(), *stderr])
    printed = printed.replace(str(REPO), CHECKOUT)
    printed = printed.replace(str(folder.resolve()), SHOWN_FOLDER)
    printed = printed.replace(str(folder), SHOWN_FOLDER)
    return result.exit_code, expected_code, printed


def scratch() -> Path:
    """A new folder /tmp/site-XXXXXXXX (eight random characters)."""
    folder = Path(tempfile.mkdtemp(prefix="site-", dir="/tmp"))
    assert len(str(folder)) == len(SHOWN_FOLDER), folder
    return folder


@pytest.fixture(scope="module")
def demo_folder() -> Iterator[Path]:
    """A folder holding the demo archive, as after `nowcast ingest -p demo` at the clock."""
    folder = scratch()
    code, _, printed = run(folder, Example("nowcast ingest -p demo", ""))
    assert code == 0, printed
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def folder() -> Iterator[Path]:
    """The page's scratch folder, removed afterwards."""
    path = scratch()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_every_page_with_examples_is_found() -> None:
    names = {page.relative_to(REPO).as_posix() for page in pages()}
    assert "README.md" in names
    assert len(names) >= 10, names


@pytest.mark.parametrize("page", pages(), ids=lambda page: page.relative_to(REPO).as_posix())
def test_console_examples_print_what_the_page_shows(
    page: Path, demo_folder: Path, folder: Path
) -> None:
    text = page.read_text(encoding="utf-8")
    if EMPTY_MARK not in text:
        shutil.copytree(demo_folder, folder, dirs_exist_ok=True)
    for name, content in FILE_BLOCK.findall(text):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(content.replace(CHECKOUT, str(REPO)), encoding="utf-8")

    wrong_exit, wrong_output = [], []

    def run_block(match: re.Match[str]) -> str:
        """Run one block's examples; the block as a run printed it."""
        new_block = []
        for example in examples(match.group(1)):
            code, expected_code, printed = run(folder, example)
            if code != expected_code:
                wrong_exit.append(
                    f"$ {example.command}\nexit {code}, not {expected_code}:\n{printed}"
                )
            elif "--help" in example.argv()[1] and TYPER < HELP_TYPER:
                pass
            elif normal(printed) != normal(example.output):
                wrong_output.append(
                    f"$ {example.command}\n--- page\n{example.output}\n--- run\n{printed}"
                )
            same = normal(printed) == normal(example.output)
            shown = example.output if same else printed  # a page changes only where it must
            new_block.append(f"$ {example.command}\n{tidy(shown)}".rstrip())
        return "```console\n" + "\n".join(new_block) + "\n```"

    updated = BLOCK.sub(run_block, text)
    if UPDATE:
        page.write_text(updated, encoding="utf-8")
        wrong_output = []
    failures = wrong_exit + wrong_output
    assert not failures, f"{page.relative_to(REPO)}:\n\n" + "\n\n".join(failures)
