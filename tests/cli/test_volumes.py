"""`quilt volumes`: volumes, their files byte for byte, and directories uploaded as archives."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from cli.conftest import shown, unique

if TYPE_CHECKING:
    from pathlib import Path

    from cli.conftest import Cli

pytestmark = [pytest.mark.anyio, pytest.mark.host]


async def test_files_and_uploads_reach_a_container_that_attaches_the_volume(
    cli: Cli, tmp_path: Path
) -> None:
    """put/cat/ls/rm act on files; upload extracts a local directory; a container sees both."""
    name, box = unique("data"), unique("reader")
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "main.py").write_text("print('hi')\n")

    assert shown(await cli.ok("volumes", "create", name, "--size", "64"))["size_limit_mb"] == "64"
    raw = bytes(range(256))
    await cli.ok("volumes", "files", "put", name, "/bin/blob", stdin=raw)
    read = await cli("volumes", "files", "cat", name, "/bin/blob")
    assert read.stdout_bytes == raw

    uploaded = await cli("volumes", "upload", name, str(project), "--path", "/code", "--wait")
    assert uploaded.exit_code == 0, uploaded.stderr
    listing = await cli.ok("volumes", "files", "ls", name, "/code/src")
    assert listing.splitlines()[1].split()[-1] == "main.py"

    await cli.ok("containers", "create", box, "--image", "busybox", "-v", f"{name}:/data")
    seen = await cli.ok("exec", box, "--", "cat", "/data/code/src/main.py")
    assert seen == "print('hi')\n"
    inspected = await cli.ok("volumes", "inspect", name)
    assert box in inspected

    assert (
        await cli.ok("volumes", "files", "rm", name, "/bin/blob")
    ).strip() == "deleted /bin/blob"
    busy = await cli("volumes", "rm", name)
    assert (busy.exit_code, busy.stderr.splitlines()[0][-10:]) == (1, "[CONFLICT]")
    await cli.ok("containers", "rm", box)
    gone = await cli("volumes", "rm", name, "--wait")
    assert gone.exit_code == 0, gone.stderr
    assert "no volumes" in (await cli("volumes", "ls")).stderr


async def test_a_directory_uploads_into_a_running_container(cli: Cli, tmp_path: Path) -> None:
    """`containers upload` syncs a local directory into a live container's filesystem."""
    box = unique("sync")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "README").write_text("synced\n")
    await cli.ok("containers", "create", box, "--image", "busybox")
    done = await cli(
        "containers", "upload", box, str(tmp_path / "app"), "--path", "/work", "--wait"
    )
    assert done.exit_code == 0, done.stderr
    assert (await cli.ok("exec", box, "--", "cat", "/work/README")) == "synced\n"
    await cli.ok("containers", "rm", box)
