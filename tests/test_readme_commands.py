"""The README's command reference is the real `--help` of every command (regenerate: UPDATE_README=1 pytest this)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import click

from agent.cli import cli

README = Path(__file__).parent.parent / "README.md"
BEGIN = "<!-- BEGIN commands: generated from --help by tests/test_readme_commands.py; UPDATE_README=1 to refresh -->"
END = "<!-- END commands -->"
WIDTH = 110


def help_of(path: list[str]) -> str:
    """`origin-region-agent <path> --help`, at a fixed width so the text does not depend on the terminal."""
    command: click.Command = cli
    settings = {**cli.context_settings, "terminal_width": WIDTH, "max_content_width": WIDTH}
    ctx = click.Context(cli, info_name="origin-region-agent", **settings)
    for name in path:
        assert isinstance(command, click.Group)
        found = command.get_command(ctx, name)
        assert found is not None, name
        command = found
        ctx = click.Context(command, info_name=name, parent=ctx, **settings)
    # click caches a command's help option on first use: a test that invoked the command standalone (without the
    # group's `-h`) would otherwise leave it without `-h` here, and this test would depend on the order of tests.
    if hasattr(command, "_help_option"):
        command._help_option = None
    return command.get_help(ctx)


def command_paths() -> list[list[str]]:
    ctx = click.Context(cli, **cli.context_settings)
    paths: list[list[str]] = [[]]
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        paths.append([name])
        if isinstance(command, click.Group):
            paths += [[name, sub] for sub in command.list_commands(ctx)]
    return paths


def generated() -> str:
    blocks = [BEGIN, ""]
    for path in command_paths():
        title = " ".join(["origin-region-agent", *path, "--help"])
        blocks += [f"#### `{title}`", "", "```text", help_of(path).rstrip(), "```", ""]
    blocks.append(END)
    return "\n".join(blocks)


def test_readme_commands_are_the_real_help_texts() -> None:
    text = README.read_text()
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    assert pattern.search(text), "README lacks the generated commands block"
    fresh = pattern.sub(lambda _: generated(), text)
    if os.environ.get("UPDATE_README") == "1":
        README.write_text(fresh)
    assert fresh == text, "README command reference is stale: UPDATE_README=1 pytest tests/test_readme_commands.py"


def test_every_command_is_in_the_summary_table() -> None:
    """The hand-written table above the reference names every command."""
    section = README.read_text().split("## Commands", 1)[1].split(BEGIN, 1)[0]
    for path in command_paths()[1:]:
        assert f"`{' '.join(path)}" in section, path
