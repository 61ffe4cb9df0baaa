"""Runs host commands for the drivers, and turns failures into `HostError`s that name them.

Only drivers import this. Commands always take argv lists; nothing here uses a shell.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import subprocess
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from quilt.errors import HostError

if TYPE_CHECKING:
    from collections.abc import Sequence


@dataclass(frozen=True)
class Result:
    """What a finished command returned."""

    argv: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def text(self) -> str:
        """Standard output decoded as UTF-8 (undecodable bytes replaced)."""
        return self.stdout.decode(errors="replace")


def describe_failure(argv: Sequence[str], returncode: int, stderr: bytes) -> str:
    """Say which command failed, with what code, and the tail of what it wrote to stderr."""
    said = stderr.decode(errors="replace").strip().splitlines()
    tail = " | ".join(said[-3:]) if said else "no output"
    return f"`{shlex.join(argv)}` failed with exit code {returncode}: {tail}"


def run(
    argv: Sequence[str],
    *,
    check: bool = True,
    stdin: bytes | None = None,
    timeout: float | None = 60.0,
) -> Result:
    """Run a command to completion; raise `HostError` on a non-zero exit when `check`."""
    try:
        done = subprocess.run(
            list(argv), input=stdin, capture_output=True, timeout=timeout, check=False
        )
    except FileNotFoundError as exc:
        raise HostError(f"`{argv[0]}` is not installed on this host") from exc
    except subprocess.TimeoutExpired as exc:
        raise HostError(f"`{shlex.join(argv)}` did not finish within {timeout} s") from exc
    result = Result(tuple(argv), done.returncode, done.stdout, done.stderr)
    if check and done.returncode != 0:
        raise HostError(describe_failure(argv, done.returncode, done.stderr))
    return result


async def arun(
    argv: Sequence[str],
    *,
    check: bool = True,
    stdin: bytes | None = None,
    timeout: float | None = 60.0,
) -> Result:
    """Run a command without blocking the event loop; same contract as `run`.

    The child is spawned by `subprocess.Popen` (vfork), its pipes are read and fed as the
    loop finds them ready, and its exit is awaited through a pidfd. asyncio's subprocess
    transports cost about 2 ms more per command on uvloop, which the server runs on.
    """
    try:
        proc = subprocess.Popen(  # noqa: ASYNC220 - returns once the child exists (vfork)
            list(argv),
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except FileNotFoundError as exc:
        raise HostError(f"`{argv[0]}` is not installed on this host") from exc
    if proc.stdout is None or proc.stderr is None:  # pragma: no cover - both are PIPE
        raise HostError(f"`{argv[0]}` started without its output pipes")
    try:
        async with asyncio.timeout(timeout):
            out, err, _ = await asyncio.gather(
                _drain(proc.stdout.fileno()),
                _drain(proc.stderr.fileno()),
                _feed(proc.stdin, stdin) if proc.stdin else asyncio.sleep(0),
            )
            code = await wait_child(proc)
    except TimeoutError as exc:
        proc.kill()
        await wait_child(proc)
        raise HostError(f"`{shlex.join(argv)}` did not finish within {timeout} s") from exc
    except BaseException:
        proc.kill()  # cancelled: leave no command running behind the caller
        proc.wait()  # killed: it is gone at once
        raise
    finally:
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    result = Result(tuple(argv), code, out, err)
    if check and code != 0:
        raise HostError(describe_failure(argv, code, err))
    return result


async def wait_ready(fd: int, timeout: float | None = None, *, writable: bool = False) -> None:
    """Return once the loop finds `fd` readable (or writable); TimeoutError after `timeout`."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def on_ready() -> None:
        # A level-triggered callback can fire again before it is removed.
        if not ready.done():
            ready.set_result(None)

    if writable:
        loop.add_writer(fd, on_ready)
    else:
        loop.add_reader(fd, on_ready)
    try:
        await asyncio.wait_for(ready, timeout)
    finally:
        if writable:
            loop.remove_writer(fd)
        else:
            loop.remove_reader(fd)


async def wait_child(child: int | subprocess.Popen[bytes]) -> int:
    """Wait for our own child (a pid or a Popen) without blocking the loop; its exit code."""
    pid = child if isinstance(child, int) else child.pid
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        fd = -1
    if fd >= 0:
        try:
            await wait_ready(fd)
        finally:
            os.close(fd)
    if not isinstance(child, int):
        return child.wait()  # the pidfd said it exited: no wait
    with contextlib.suppress(ChildProcessError):
        _, status = os.waitpid(pid, 0)  # noqa: ASYNC222 - the pidfd said it exited: no wait
        return os.waitstatus_to_exitcode(status)
    return -1


async def _drain(fd: int) -> bytes:
    """Everything a pipe carries until its writers close it."""
    os.set_blocking(fd, False)
    parts: list[bytes] = []
    while True:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            await wait_ready(fd)
            continue
        if not data:
            return b"".join(parts)
        parts.append(data)


async def _feed(pipe: IO[bytes], data: bytes | None) -> None:
    """Write `data` to a pipe as it takes it, then close it (the reader sees EOF)."""
    fd = pipe.fileno()
    os.set_blocking(fd, False)
    view = memoryview(data or b"")
    try:
        while view:
            try:
                view = view[os.write(fd, view) :]
            except BlockingIOError:
                await wait_ready(fd, writable=True)
    except BrokenPipeError:
        pass  # the command stopped reading: its exit code says what happened
    finally:
        pipe.close()
