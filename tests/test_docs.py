"""Every command is documented in the README and has a useful --help; the README's commands are real."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from watcher.cli import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        full = f"{prefix}{name}"
        found.append((full, command))
        if isinstance(command, click.Group):
            found += _commands(command, f"{full} ")
    return found


ALL = _commands(cli)


@pytest.mark.parametrize("name,command", ALL, ids=[n for n, _ in ALL])
def test_every_command_is_in_the_readme(name: str, command: click.Command) -> None:
    assert f"watcher {name}" in README, f"README does not mention `watcher {name}`"


@pytest.mark.parametrize("name,command", ALL, ids=[n for n, _ in ALL])
def test_every_command_has_help(name: str, command: click.Command) -> None:
    result = CliRunner().invoke(cli, [*name.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert (command.help or "").strip(), f"`watcher {name}` has no help text"
    assert "Usage: " in result.output


def test_readme_quick_start_uses_real_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    invoked = re.findall(r"\.venv/bin/watcher ([a-z-]+)", quick)
    assert invoked, "the quick start runs no watcher command"
    for name in invoked:
        assert name in cli.commands, f"README quick start uses unknown command {name!r}"
    assert ".venv/bin/python -m pytest -q" in quick


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert ".venv/bin/python -m pytest -q" in ci


def test_help_never_shows_secrets(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[[accounts]]\nname = "a"\nhost = "127.0.0.1"\nsecurity = "none"\nport = 1\n'
        'username = "u"\npassword = "hunter2-secret"\n'
    )
    for name, _ in ALL:
        result = CliRunner().invoke(cli, ["--config", str(config), *name.split(), "--help"])
        assert "hunter2-secret" not in result.output
