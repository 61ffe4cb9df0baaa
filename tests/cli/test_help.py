"""Every command explains itself: help text, and an environment variable for every flag."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from quilt import Quilt
from quilt.cli.main import main


def walk(
    group: click.Group, prefix: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], click.Command]]:
    """Every command under `group`, with the words that reach it."""
    found: list[tuple[tuple[str, ...], click.Command]] = []
    for name, command in group.commands.items():
        path = (*prefix, name)
        found.append((path, command))
        if isinstance(command, click.Group):
            found.extend(walk(command, path))
    return found


COMMANDS = walk(main)


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_has_help(path: tuple[str, ...], command: click.Command) -> None:
    """`quilt … --help` exits 0 and shows the command's own description."""
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert command.help, f"quilt {' '.join(path)} has no help text"
    assert command.help.split("\n")[0].strip() in " ".join(result.output.split())


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_flag_names_its_environment_variable(
    path: tuple[str, ...], command: click.Command
) -> None:
    """Each option of each command shows the QUILT_* variable that also sets it."""
    ctx = click.Context(main, info_name="quilt", auto_envvar_prefix="QUILT")
    for words in path:
        ctx = click.Context(command, parent=ctx, info_name=words)
    for param in command.params:
        if isinstance(param, click.Option) and param.name not in {"help", "version"}:
            record = param.get_help_record(ctx)
            assert record is not None
            assert "env var: QUILT_" in record[1], f"quilt {' '.join(path)} {param.opts}"


def test_each_sdk_collection_has_a_command_group() -> None:
    """Every concern the SDK reaches has a CLI group (or command) of the same concern."""
    client = Quilt("http://quilt.test", api_key="unused")
    collections = {name for name, value in vars(client).items() if not name.startswith("_")}
    collections -= {"config"}
    aliases = {"operations": "ops", "api_keys": "keys"}
    names = set(main.commands)
    missing = {c for c in collections if aliases.get(c, c) not in names}
    client.close()
    assert missing == set()


def test_version_and_root_help_name_the_concerns() -> None:
    """`quilt --help` lists every concern group, `--version` the package version."""
    runner = CliRunner()
    assert runner.invoke(main, ["--version"]).output.startswith("quilt, version ")
    output = runner.invoke(main, ["--help"]).output
    for name in ("containers", "exec", "ops", "snapshots", "volumes", "services", "keys"):
        assert f"  {name} " in output
