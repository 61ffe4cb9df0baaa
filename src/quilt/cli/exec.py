"""`quilt exec <container> -- argv…`: run a command in a container, output as it comes.

The command's stdout and stderr go to this process's stdout and stderr as they are written,
and its exit code becomes this command's. Like `docker exec`, exit codes that the command
cannot have tell the other outcomes apart: 124 when the timeout killed it, 125 when Quilt
itself failed (no such container, a stopped one, the server unreachable), and 128 + N when a
signal N ended it.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, BinaryIO

import click

from quilt.cli.common import Session, fail, json_option, option, pairs, pass_session
from quilt.sdk import QuiltError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from quilt.sdk import StreamFrame

TIMED_OUT = 124
QUILT_FAILED = 125


@click.command("exec")
@click.argument("container")
@click.argument("command", nargs=-1, required=True)
@option("-w", "--workdir", help="Working directory [the container's].")
@option("-e", "--env", "env", multiple=True, metavar="KEY=VALUE", help="Extra variable.")
@option("--timeout", "timeout_ms", type=int, help="Kill the command after this many ms.")
@json_option
@pass_session
def exec_(
    session: Session,
    container: str,
    command: tuple[str, ...],
    workdir: str | None,
    env: tuple[str, ...],
    timeout_ms: int | None,
    *,
    as_json: bool,
) -> None:
    """Run COMMAND in CONTAINER (an id or a name) and exit with its exit code.

    Put `--` before the command so its own flags are not read as quilt's:
    `quilt exec demo -- ls -la /`. With --json the command runs to the end and the whole
    result (exit code, stdout, stderr, timing) is printed as the server sent it.
    """
    environment = pairs(env, "--env") if env else None
    containers = session.client.containers
    try:
        if as_json:
            result = containers.exec(
                container,
                list(command),
                workdir=workdir,
                timeout_ms=timeout_ms,
                environment=environment,
            )
            click.echo(session.wire())
            sys.exit(TIMED_OUT if result.timed_out else result.exit_code)
        with containers.stream(
            container,
            list(command),
            working_directory=workdir,
            timeout_ms=timeout_ms,
            environment=environment,
        ) as frames:
            code = relay(frames, sys.stdout.buffer, sys.stderr.buffer)
    except QuiltError as exc:
        fail(exc.message, exc.code, QUILT_FAILED)
    sys.exit(code)


def relay(frames: Iterator[StreamFrame], stdout: BinaryIO, stderr: BinaryIO) -> int:
    """Copy the output frames to the two streams as they come; the exit code to pass on."""
    for frame in frames:
        if frame.type in {"stdout", "stderr"}:
            stream = stdout if frame.type == "stdout" else stderr
            stream.write(frame.data)
            stream.flush()
        elif frame.type == "timeout":
            click.echo(f"Error: the command timed out after {frame.elapsed_ms} ms", err=True)
            return TIMED_OUT
        elif frame.type == "error":
            click.echo(f"Error: {frame.message} [EXEC_FAILED]", err=True)
            return QUILT_FAILED
        elif frame.type == "exit":
            if frame.timed_out:
                return TIMED_OUT
            if frame.code is not None:
                return frame.code
            return 128 + (frame.signal or 0)
    click.echo("Error: the stream ended before the command did [CONNECTION_ERROR]", err=True)
    return QUILT_FAILED
