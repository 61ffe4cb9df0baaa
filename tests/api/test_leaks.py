"""Creating and deleting many containers leaves nothing behind on the host."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import pytest

from helpers import create, follow

pytestmark = [pytest.mark.anyio, pytest.mark.host]


def host_snapshot(api: Any) -> dict[str, Any]:
    """Everything of this server's containers that is visible on the host."""
    node = api.platform.node
    mounts = Path("/proc/self/mounts").read_text()
    netns = subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True, check=True
    ).stdout
    veths = subprocess.run(
        ["ip", "-o", "link", "show", "master", api.settings.bridge, "type", "veth"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cgroups = sorted(
        p.name for p in Path("/sys/fs/cgroup/pids").iterdir() if p.name.startswith("ctr_")
    )
    return {
        "overlay mounts": sorted(
            line.split()[1] for line in mounts.splitlines() if str(node.layout.containers) in line
        ),
        "netns": sorted(
            n.split()[0] for n in netns.splitlines() if n.startswith(node.layout.netns_prefix)
        ),
        "veth on the bridge": len(veths.splitlines()),
        "runtime state": node.runtime.known(),
        "cgroups": cgroups,
        "container dirs": sorted(p.name for p in node.layout.containers.iterdir()),
        **{
            kind: sorted(p.name for p in (node.storage.root / kind).iterdir())
            if (node.storage.root / kind).exists()
            else []
            for kind in ("containers", "snapshots", "captures", "volumes")
        },
        "addresses": sorted(node.store.addresses.owners()),
    }


async def test_fifty_containers_leave_no_trace(api: Any) -> None:
    """50 created-then-deleted containers leave no mount, netns, veth, state, cgroup or dir."""
    before = await quiet(api)
    ids = []
    for i in range(50):
        response = await api.client.post(
            "/api/containers",
            json={
                "name": f"leak-{i}",
                "image": "busybox",
                **({"command": ["sleep", "300"]} if i % 2 else {}),
            },
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["container_id"])
    during = host_snapshot(api)
    assert len(during["netns"]) == len(before["netns"]) + 50
    for cid in ids:
        assert (await api.client.delete(f"/api/containers/{cid}")).status_code == 200
    await settle(api, before)


async def settle(api: Any, before: dict[str, Any]) -> None:
    """Wait (up to 5 s) for the kernel to free veth pairs, then compare with `before`."""
    for _ in range(100):
        if host_snapshot(api) == before:
            break
        await asyncio.sleep(0.05)
    assert host_snapshot(api) == before


async def quiet(api: Any) -> dict[str, Any]:
    """The host once the kernel has freed the veth pairs of earlier tests' containers."""
    for _ in range(100):
        now = host_snapshot(api)
        if now["veth on the bridge"] == len(now["netns"]):
            return now
        await asyncio.sleep(0.05)
    raise AssertionError(f"veth pairs outlive their namespaces: {now}")


async def test_snapshots_forks_and_clones_leave_no_trace(api: Any) -> None:
    """Snapshots, clones and forks, once deleted, leave no layer, capture or container behind."""
    tenant = {"X-Tenant-Id": "ten_test"}
    before = await quiet(api)
    source = (await create(api, name="leak-src"))["container_id"]
    snap = await follow(api, "POST", f"/api/containers/{source}/snapshot", json={}, headers=tenant)
    snapshot_id = snap["result"]["snapshot_id"]
    cloned = await follow(
        api, "POST", f"/api/snapshots/{snapshot_id}/clone", json={}, headers=tenant
    )
    forked = await follow(
        api, "POST", f"/api/containers/{source}/fork", json={"count": 3}, headers=tenant
    )
    made = [cloned["result"]["container_id"], *forked["result"]["container_ids"], source]
    for cid in made:
        assert (await api.client.delete(f"/api/containers/{cid}")).status_code == 200
    deleted = await api.client.delete(f"/api/snapshots/{snapshot_id}", headers=tenant)
    assert deleted.status_code == 200
    await settle(api, before)


async def test_restart_removes_orphan_layers(api: Any) -> None:
    """Start-up removes snapshot layers no row explains and every leftover fork capture."""
    node = api.platform.node
    node.storage.create_subvolume(node.snapshot_layer("snap_orphan"))
    node.storage.create_subvolume(node.capture_layer("op_crashed"))
    report = api.platform.snapshots.reconcile()
    assert report == {"snapshot_layers": ["snap_orphan"], "captures": ["op_crashed"]}
    assert node.stored_layers("snapshots") == set()
    assert node.stored_layers("captures") == set()
