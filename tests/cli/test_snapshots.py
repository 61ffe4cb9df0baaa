"""`quilt snapshots`, `quilt forks` and `quilt ops`: captures, clones and their operations."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from cli.conftest import shown, unique

if TYPE_CHECKING:
    from cli.conftest import Cli

pytestmark = [pytest.mark.anyio, pytest.mark.host]


async def test_a_snapshot_is_cloned_with_its_files(cli: Cli) -> None:
    """Snapshot --wait prints the snapshot id; a clone made from it holds the same file."""
    source, replay = unique("src"), unique("replay")
    await cli.ok("containers", "create", source, "--image", "busybox")
    await cli.ok("exec", source, "--", "/bin/sh", "-c", "echo kept > /data.txt")

    taken = await cli("snapshots", "create", source, "-l", "run=7", "--wait")
    assert taken.exit_code == 0, taken.stderr
    snapshot_id = taken.stdout.split()[0]
    assert snapshot_id.startswith("snap_")
    assert "✓ capture" in taken.stderr

    listed = await cli.ok("snapshots", "ls", "--container", source)
    assert snapshot_id in listed
    assert "run=7" in listed
    assert shown(await cli.ok("snapshots", "pin", snapshot_id)) == {snapshot_id: "pinned"}
    refused = await cli("snapshots", "rm", snapshot_id)
    error, hint = refused.stderr.splitlines()
    assert (refused.exit_code, error[-17:], hint[:6]) == (1, "[SNAPSHOT_PINNED]", "Hint: ")
    await cli.ok("snapshots", "unpin", snapshot_id)

    cloned = await cli("snapshots", "clone", snapshot_id, "--name", replay, "--wait")
    assert cloned.exit_code == 0, cloned.stderr
    assert cloned.stdout.split()[0] == replay
    assert (await cli.ok("exec", replay, "--", "cat", "/data.txt")) == "kept\n"

    lineage = await cli.ok("snapshots", "lineage", snapshot_id)
    assert replay in lineage
    await cli.ok("containers", "rm", replay, source)
    assert (await cli.ok("snapshots", "rm", snapshot_id)).strip() == f"deleted {snapshot_id}"


async def test_forks_and_operations_are_followed_by_their_receipt(cli: Cli) -> None:
    """A fork without --wait prints its receipt; `ops wait` follows it to the children it made."""
    parent = unique("parent")
    await cli.ok("containers", "create", parent, "--image", "busybox")
    receipt = json.loads(
        await cli.ok("forks", "create", parent, "--name", parent, "--count", "2", "--json")
    )
    operation_id = receipt["operation_id"]

    waited = await cli("ops", "wait", operation_id)
    assert waited.exit_code == 0, waited.stderr
    assert shown(waited.stdout)["status"] == "succeeded"
    final = json.loads(await cli.ok("ops", "get", operation_id, "--json"))
    children = final["result"]["container_ids"]
    assert len(children) == 2
    for child in (f"{parent}-1", f"{parent}-2"):
        assert (await cli.ok("exec", child, "--", "echo", child)) == f"{child}\n"

    waited_fork = await cli.ok(
        "forks", "create", parent, "--name", f"{parent}w", "--count", "2", "--wait"
    )
    lines = [line.split() for line in waited_fork.splitlines()]
    assert [name for name, _ in lines] == [f"{parent}w-1", f"{parent}w-2"]
    assert all(container_id.startswith("ctr_") for _, container_id in lines)
    await cli.ok(
        "containers", "rm", parent, f"{parent}-1", f"{parent}-2", f"{parent}w-1", f"{parent}w-2"
    )


async def test_a_failed_operation_fails_the_wait(cli: Cli) -> None:
    """`--wait` on an operation that fails exits 1 with the operation's error."""
    missing = await cli("ops", "wait", "op_0000000000000000")
    assert missing.exit_code == 1
    assert missing.stderr.rstrip().endswith("[NOT_FOUND]")
