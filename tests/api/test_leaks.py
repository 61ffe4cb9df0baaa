"""Creating and deleting many containers leaves nothing behind on the host."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.host]


def host_snapshot(api: Any) -> dict[str, Any]:
    """Everything of this server's containers that is visible on the host."""
    node = api.platform.node
    mounts = Path("/proc/self/mounts").read_text()
    netns = subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True, check=True
    ).stdout
    veths = subprocess.run(
        ["ip", "-o", "link", "show", "type", "veth"], capture_output=True, text=True, check=True
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
        "veth": len(veths.splitlines()),
        "runtime state": node.runtime.known(),
        "cgroups": cgroups,
        "container dirs": sorted(p.name for p in node.layout.containers.iterdir()),
        "layers": sorted(p.name for p in (node.storage.root / "containers").iterdir())
        if (node.storage.root / "containers").exists()
        else [],
        "addresses": sorted(node.store.addresses.owners()),
    }


async def test_fifty_containers_leave_no_trace(api: Any) -> None:
    """50 created-then-deleted containers leave no mount, netns, veth, state, cgroup or dir."""
    before = host_snapshot(api)
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
    # The kernel frees each veth pair shortly after its namespace is gone: allow it 5 s.
    for _ in range(100):
        if host_snapshot(api) == before:
            break
        await asyncio.sleep(0.05)
    assert host_snapshot(api) == before
