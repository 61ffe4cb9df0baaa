"""`quilt exec` runs argv in a real container, streams its output and passes its exit code on."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from cli.conftest import unique

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from cli.conftest import Cli

pytestmark = [pytest.mark.anyio, pytest.mark.host]


@pytest.fixture
async def box(cli: Cli) -> AsyncIterator[str]:
    """The name of an idle busybox container, deleted after the test."""
    name = unique("exec")
    await cli.ok("containers", "create", name, "--image", "busybox")
    yield name
    await cli("containers", "rm", name)


async def test_output_goes_to_the_right_stream_and_the_exit_code_passes_through(
    cli: Cli, box: str
) -> None:
    """Stdout and stderr stay apart, bytes are exact, and the command's exit code is quilt's."""
    result = await cli("exec", box, "--", "/bin/sh", "-c", "printf 'a\\nb'; echo oops >&2; exit 7")
    assert (result.exit_code, result.stdout, result.stderr) == (7, "a\nb", "oops\n")
    clean = await cli("exec", box, "--", "echo", "-n", "--json")
    assert (clean.exit_code, clean.stdout) == (0, "--json")  # after --, flags are the command's


async def test_workdir_and_environment_reach_the_command(cli: Cli, box: str) -> None:
    """-w and -e set the command's working directory and variables."""
    result = await cli(
        "exec", "-w", "/tmp", "-e", "X=42", box, "--", "/bin/sh", "-c", "echo $PWD $X"
    )
    assert (result.exit_code, result.stdout) == (0, "/tmp 42\n")


async def test_a_timeout_or_a_signal_has_its_own_exit_code(cli: Cli, box: str) -> None:
    """A command killed by --timeout exits 124; one killed by signal N exits 128 + N."""
    slow = await cli("exec", "--timeout", "200", box, "--", "sleep", "5")
    assert slow.exit_code == 124
    assert "timed out" in slow.stderr
    killed = await cli("exec", box, "--", "/bin/sh", "-c", "kill -9 $$")
    assert killed.exit_code == 137


async def test_quilt_failures_exit_125_with_the_error(cli: Cli) -> None:
    """No such container: exit 125 (not a code the command could have), the error on stderr."""
    result = await cli("exec", "no-such-box", "--", "true")
    assert result.exit_code == 125
    assert result.stderr.strip() == "Error: container no-such-box does not exist [NOT_FOUND]"


async def test_json_prints_the_whole_result_and_keeps_the_exit_code(cli: Cli, box: str) -> None:
    """With --json the inline result is printed as sent, and the exit code still passes through."""
    result = await cli("exec", "--json", box, "--", "/bin/sh", "-c", "echo hi; exit 3")
    assert result.exit_code == 3
    body = json.loads(result.stdout)
    assert (body["exit_code"], body["stdout"], body["timed_out"]) == (3, "hi\n", False)
    assert body["container_id"].startswith("ctr_")  # the id, though the name was given
    assert body["status_url"] == f"/api/containers/{body['container_id']}/jobs/{body['job_id']}"
