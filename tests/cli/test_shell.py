"""`quilt shell` and `quilt terminals`: the installed command attaches a real terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from cli.conftest import shown, unique

if TYPE_CHECKING:
    from cli.conftest import Cli

pytestmark = [pytest.mark.anyio, pytest.mark.host]


async def test_a_piped_shell_runs_its_input_and_exits_with_its_code(cli: Cli) -> None:
    """The real `quilt` binary runs piped commands in the container's shell and exits with it."""
    box = unique("sh")
    await cli.ok("containers", "create", box, "--image", "busybox")
    done = await cli("shell", box, stdin=b"echo from-$((40 + 2))\nexit 3\n")
    assert done.exit_code == 3
    assert "from-42" in done.stdout
    await cli.ok("containers", "rm", box)


async def test_a_shell_in_a_missing_container_is_an_error(cli: Cli) -> None:
    """Attaching to a container that does not exist prints the server's error and exits 1."""
    done = await cli("shell", "no-such-box")
    assert done.exit_code == 1
    assert done.stderr.strip() == "Error: container no-such-box does not exist [NOT_FOUND]"


async def test_terminal_sessions_are_listed_resized_and_ended(cli: Cli) -> None:
    """A session made by `terminals create` is listed, takes a new size, and ends on `rm`."""
    box = unique("term")
    await cli.ok("containers", "create", box, "--image", "busybox")
    session_id = (await cli.ok("terminals", "create", box, "--cols", "100")).strip()
    assert session_id in await cli.ok("terminals", "ls")
    await cli.ok("terminals", "resize", session_id, "120", "40")
    size = shown(await cli.ok("terminals", "get", session_id))
    assert (size["cols"].strip(), size["rows"].strip()) == ("120", "40")
    await cli.ok("terminals", "rm", session_id)
    gone = await cli("terminals", "get", session_id)
    assert (gone.exit_code, gone.stderr.rstrip()[-11:]) == (1, "[NOT_FOUND]")
    await cli.ok("containers", "rm", box)
