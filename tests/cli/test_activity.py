"""`quilt activity`, `notifications`, `cleanup`, `events` and `keys`: the tenant's records."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import anyio
import pytest

from cli.conftest import Cli, unique

if TYPE_CHECKING:
    from cli.conftest import Cli as CliType

pytestmark = [pytest.mark.anyio, pytest.mark.host]


async def test_a_deleted_container_leaves_activity_and_cleanup_records(cli: CliType) -> None:
    """Activity lists the delete; cleanup tasks list what it released, per resource."""
    box = unique("rec")
    made = json.loads(await cli.ok("containers", "create", box, "--image", "busybox", "--json"))
    await cli.ok("containers", "rm", box)
    activity = await cli.ok("activity", "--limit", "5")
    assert "container.deleted" in activity
    tasks = await cli.ok("cleanup", "tasks", "--container", made["container_id"])
    resources = {line.split()[2] for line in tasks.splitlines()[1:]}
    assert resources == {"container", "network", "mounts", "rootfs", "logs"}
    status = json.loads(await cli.ok("cleanup", "status", "--json"))
    assert status["failed"] == 0


async def test_notifications_are_posted_listed_and_read(cli: CliType) -> None:
    """A posted note is unread until `read --all`; `read` needs an id or --all."""
    note_id = (await cli.ok("notifications", "create", "CI", "build 12 passed")).strip()
    unread = await cli.ok("notifications", "ls", "--unread")
    assert note_id in unread
    await cli.ok("notifications", "read", "--all")
    assert (await cli.ok("notifications", "ls", "--unread")).strip() == "0 unread"
    neither = await cli("notifications", "read")
    assert neither.exit_code == 2


async def test_events_print_as_they_happen(cli: CliType) -> None:
    """`events --count` prints container events that happen while it listens, then ends."""
    box = unique("ev")
    result: dict[str, bytes] = {}
    async with anyio.create_task_group() as tasks:

        async def listen() -> None:
            result["out"] = (await cli("events", "--count", "3", "--json")).stdout_bytes

        tasks.start_soon(listen)
        await anyio.sleep(1)
        await cli.ok("containers", "create", box, "--image", "busybox")
    events = [json.loads(line) for line in result["out"].splitlines()]
    assert [e["event"] for e in events] == ["ready", "container_update", "activity_new"]
    assert events[1]["data"]["name"] == box
    await cli.ok("containers", "rm", box)


async def test_a_minted_key_works_until_it_is_revoked(cli: CliType) -> None:
    """`keys create` prints a secret that authenticates; after `keys rm` it is refused."""
    made = json.loads(await cli.ok("keys", "create", "ci", "--json"))
    other = Cli(cli.url, made["key"])
    assert made["id"] in await other.ok("keys", "ls")
    await cli.ok("keys", "rm", made["id"])
    refused = await other("containers", "ls")
    assert refused.stderr.strip() == "Error: invalid API key [UNAUTHORIZED]"
