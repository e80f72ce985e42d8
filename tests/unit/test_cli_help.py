"""Every command, option and argument of the ``d365local`` command tree explains itself in ``--help``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from d365local.cli import cli


def commands(
    command: click.Command = cli, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command and group under ``command``, with the words that name it."""
    yield path, command
    if isinstance(command, click.Group):
        context = click.Context(command)
        for name in command.list_commands(context):
            child = command.get_command(context, name)
            assert child is not None, name
            yield from commands(child, (*path, name))


TREE = list(commands())
IDS = [" ".join(path) or "d365local" for path, _ in TREE]


def test_the_tree_is_walked() -> None:
    names = {" ".join(path) for path, _ in TREE}
    assert {"tenant list", "app secret add", "serve", "query", "doctor", "fault throttle"} <= names


@pytest.mark.parametrize(("path", "command"), TREE, ids=IDS)
def test_every_command_option_and_argument_has_help(path: tuple[str, ...], command: click.Command) -> None:
    assert (command.help or "").strip(), f"{' '.join(path)} has no help text"
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.hidden or (param.help or "").strip(), f"{' '.join(path)} {param.opts[0]} has no help text"
        elif isinstance(param, click.Argument):
            # click arguments have no help of their own: the command's help names them instead.
            assert param.human_readable_name in (command.help or ""), (
                f"the help of {' '.join(path)} does not explain {param.human_readable_name}"
            )


@pytest.mark.parametrize(("path", "command"), TREE, ids=IDS)
def test_help_renders(path: tuple[str, ...], command: click.Command) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output


def test_shell_completion_works_as_the_readme_says() -> None:
    """README: eval "$(_D365LOCAL_COMPLETE=bash_source d365local)" — click's completion, lazy commands included."""
    script = Path(sys.executable).with_name("d365local")
    source = subprocess.run(
        [script], env=os.environ | {"_D365LOCAL_COMPLETE": "bash_source"}, capture_output=True, text=True, check=False
    )
    assert "_D365LOCAL_COMPLETE=bash_complete" in source.stdout
    completing = {"_D365LOCAL_COMPLETE": "bash_complete", "COMP_WORDS": "d365local app sec", "COMP_CWORD": "2"}
    completed = subprocess.run([script], env=os.environ | completing, capture_output=True, text=True, check=False)
    assert completed.stdout.split() == ["plain,secret"]
    assert "_D365LOCAL_COMPLETE=bash_source d365local" in (Path(__file__).parents[2] / "README.md").read_text()
