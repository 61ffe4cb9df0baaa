"""Host commands run without blocking the loop: output, exit codes, input, timeouts, cancels."""

from __future__ import annotations

import asyncio
import time

import pytest
import uvloop

from quilt.drivers.commands import arun
from quilt.errors import HostError

pytestmark = pytest.mark.anyio


async def test_output_and_exit_code_come_back_apart() -> None:
    """stdout, stderr and the exit code of a command are returned separately."""
    done = await arun(["sh", "-c", "echo out; echo err >&2; exit 3"], check=False)
    assert (done.stdout, done.stderr, done.returncode) == (b"out\n", b"err\n", 3)


async def test_a_failure_names_the_command_and_its_stderr() -> None:
    """With check, a non-zero exit is a HostError naming the command, its code and stderr."""
    with pytest.raises(HostError, match=r"`sh -c 'echo nope >&2; exit 4'` failed .* 4: nope"):
        await arun(["sh", "-c", "echo nope >&2; exit 4"])


async def test_a_missing_program_is_a_host_error() -> None:
    """A program that is not installed is a HostError saying so."""
    with pytest.raises(HostError, match="is not installed"):
        await arun(["quilt-no-such-program"])


async def test_input_larger_than_a_pipe_is_fed_whole() -> None:
    """Input far larger than a pipe's buffer reaches the command whole while its output drains."""
    data = bytes(range(256)) * 16 * 1024  # 4 MiB
    done = await arun(["cat"], stdin=data)
    assert done.stdout == data


async def test_a_command_past_its_timeout_is_killed() -> None:
    """A command past its timeout is killed and reported as a HostError with the limit."""
    started = time.monotonic()
    with pytest.raises(HostError, match=r"did not finish within 0.2 s"):
        await arun(["sleep", "30"], timeout=0.2)
    assert time.monotonic() - started < 5


async def test_a_cancelled_call_leaves_no_command_running() -> None:
    """Cancelling the caller kills the command it was waiting for."""
    marker = "37.1234"
    task = asyncio.create_task(arun(["sleep", marker]))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    left = await arun(["pgrep", "-f", f"sleep {marker}"], check=False)
    assert (left.returncode, left.stdout) == (1, b"")


def test_uvloop_runs_commands_the_same_way() -> None:
    """On uvloop, as the server runs, output, input and exit codes come back the same."""

    async def both() -> tuple[bytes, int]:
        done = await arun(["sh", "-c", "cat; exit 5"], stdin=b"through", check=False)
        return done.stdout, done.returncode

    assert uvloop.run(both()) == (b"through", 5)
