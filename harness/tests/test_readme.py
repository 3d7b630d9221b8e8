"""Every command the README shows runs as written: each make target
exists, and each harness command line parses, with its files present."""

from __future__ import annotations

import re
import shlex

import pytest

from uafault_harness.cli import build_parser
from uafault_harness.core.paths import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"


def readme_commands() -> list[str]:
    """The command lines of the README's code blocks (comments dropped)."""
    out: list[str] = []
    for block in re.findall(r"```\w*\n(.*?)```", README.read_text(), re.S):
        for line in block.splitlines():
            command = line.split(" #")[0].strip()
            if command.startswith(("make ", "harness/uafault ")):
                out.append(command)
    return out


def test_the_readme_is_a_guide() -> None:
    assert len(README.read_text().splitlines()) <= 250
    assert {"make run", "make test"} <= set(readme_commands())


@pytest.mark.parametrize("command", readme_commands())
def test_each_readme_command_runs_as_written(command: str) -> None:
    words = shlex.split(command)
    if words[0] == "make":
        makefile = (PROJECT_ROOT / "Makefile").read_text()
        assert re.search(rf"^{re.escape(words[1])}:", makefile, re.M), command
        return
    args = build_parser().parse_args(words[1:])    # exits (a failure) on a bad flag
    for word in words[1:]:
        if word.startswith("configs/"):
            assert (PROJECT_ROOT / word).is_file(), word
    assert args.command == words[1]
