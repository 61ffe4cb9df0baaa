"""CLI fixtures: the installed `quilt` command run against the shared real server.

`tests/cli` is a package so this module is `cli.conftest` and `from conftest import ...`
still finds the shared `tests/conftest.py`. The server listens on a real socket on the
test's event loop; each `quilt` run is a real process, as a user's would be (click's
in-process runner would swap `sys.stdout` under the server's own logging).
"""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import pytest

from conftest import API_KEY

if TYPE_CHECKING:
    import httpx

    from conftest import Server


QUILT = Path(sys.executable).with_name("quilt")


@dataclass(frozen=True)
class Result:
    """What a `quilt` run did: its exit code and what it wrote."""

    exit_code: int
    stdout_bytes: bytes
    stderr_bytes: bytes

    @property
    def stdout(self) -> str:
        """Stdout as text."""
        return self.stdout_bytes.decode()

    @property
    def stderr(self) -> str:
        """Stderr as text."""
        return self.stderr_bytes.decode()


@dataclass
class Cli:
    """Runs the installed `quilt …` against one server, as a user with a key in the env would."""

    url: str
    key: str = API_KEY

    async def __call__(self, *args: str, stdin: bytes | str = b"", **env: str) -> Result:
        """The result of `quilt ARGS` run as a real process (exit code, stdout, stderr)."""
        environ = {**os.environ, "QUILT_URL": self.url, "QUILT_API_KEY": self.key, **env}
        data = stdin.encode() if isinstance(stdin, str) else stdin
        with anyio.fail_after(60):
            done = await anyio.run_process(
                [str(QUILT), *args], input=data, env=environ, check=False
            )
        return Result(done.returncode, done.stdout, done.stderr)

    async def ok(self, *args: str, stdin: bytes | str = b"") -> str:
        """Stdout of `quilt ARGS`, which must succeed."""
        result = await self(*args, stdin=stdin)
        assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        return result.stdout


@pytest.fixture
def cli(api: Server, live: httpx.AsyncClient) -> Cli:
    """`quilt` pointed at the shared server behind a real socket, with a valid key."""
    del api  # requested for its cleanup of whatever a test leaves behind
    return Cli(str(live.base_url))


def unique(prefix: str) -> str:
    """A name no other test uses."""
    return f"{prefix}-{secrets.token_hex(3)}"


def shown(text: str) -> dict[str, str]:
    """`field  value` lines, as printed for one resource, as a mapping."""
    pairs = (line.split(None, 1) for line in text.splitlines())
    return {pair[0]: pair[1].strip() for pair in pairs if len(pair) == 2}
