"""Runs host commands for the drivers, and turns failures into `HostError`s that name them.

Only drivers import this. Commands always take argv lists; nothing here uses a shell.
"""

from __future__ import annotations

import asyncio
import shlex
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

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
    """Run a command without blocking the event loop; same contract as `run`."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except FileNotFoundError as exc:
        raise HostError(f"`{argv[0]}` is not installed on this host") from exc
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    except TimeoutError as exc:
        proc.kill()
        await proc.wait()
        raise HostError(f"`{shlex.join(argv)}` did not finish within {timeout} s") from exc
    code = proc.returncode if proc.returncode is not None else -1
    result = Result(tuple(argv), code, out, err)
    if check and code != 0:
        raise HostError(describe_failure(argv, code, err))
    return result
