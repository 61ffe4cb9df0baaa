"""The warm pool: a create that fits claims a pre-started member and answers like a cold one."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from conftest import Server, make_settings, own_server
from quilt.node.purge import purge

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path
from typing import Any

pytestmark = [pytest.mark.anyio, pytest.mark.host]


@pytest.fixture
async def pooled(tmp_path: Path) -> AsyncIterator[Server]:
    """A server whose busybox pool holds one member."""
    async with own_server(make_settings(tmp_path, warm_pool_size=1)) as server:
        yield server


async def run(server: Server, cid: str, *argv: str) -> Any:
    """Exec argv and return the result body."""
    response = await server.client.post(f"/api/containers/{cid}/exec", json={"command": argv})
    return response.json()


async def full_pool(server: Server) -> set[str]:
    """Wait until the pool is full; return its members."""
    pool = server.platform.node.pool
    for _ in range(500):
        if len(pool.ready["busybox"]) == 1:
            return pool.members()
        await asyncio.sleep(0.01)
    raise AssertionError("the warm pool did not fill")


async def test_claimed_member_is_personalised_like_a_cold_create(pooled: Server) -> None:
    """A pooled create gets the request's limits, environment, workdir and command, like cold."""
    members = await full_pool(pooled)
    body = {
        "name": "warm",
        "image": "busybox",
        "command": ["/bin/sh", "-c", 'echo "$FOO $(pwd)" > /out; sleep 300'],
        "environment": {"FOO": "bar"},
        "working_directory": "/work/dir",
        "memory_limit_mb": 96,
        "cpu_limit_percent": 30,
    }
    warm = (await pooled.client.post("/api/containers", json=body)).json()
    assert warm["container_id"] in members
    cold = (
        await pooled.client.post("/api/containers", json={**body, "name": "cold", "strict": True})
    ).json()
    assert cold["container_id"] not in members
    for made in (warm, cold):
        assert made["exec_ready"] is True
        assert made["working_directory"] == "/work/dir"
        cid = made["container_id"]
        metrics = (await pooled.client.get(f"/api/containers/{cid}/metrics")).json()
        assert metrics["memory_limit_bytes"] == 96 * 1024 * 1024
        for _ in range(100):
            out = (
                await pooled.client.post(
                    f"/api/containers/{cid}/exec", json={"command": ["cat", "/out"]}
                )
            ).json()
            if out["exit_code"] == 0:
                break
            await asyncio.sleep(0.02)
        assert out["stdout"] == "bar /work/dir\n"
        pwd = (
            await pooled.client.post(f"/api/containers/{cid}/exec", json={"command": ["pwd"]})
        ).json()
        assert pwd["stdout"] == "/work/dir\n"
    refilled = await full_pool(pooled)
    assert warm["container_id"] not in refilled


async def test_shutdown_drains_the_pool(tmp_path: Path) -> None:
    """Stopping the server removes idle pool members from the host."""
    from quilt.api.app import create_app  # noqa: PLC0415

    settings = make_settings(tmp_path, warm_pool_size=1)
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            server = Server(app, settings)
            members = await full_pool(server)
            node = server.platform.node
            await server.close()
        assert not (members & node.hosted())
    finally:
        await purge(settings)


async def test_claimed_member_joins_its_tenants_network(pooled: Server) -> None:
    """A pool member reaches no one until claimed; then its tenant's containers, no others."""
    strict = {"image": "busybox", "strict": True}  # strict: built cold, the pool stays full
    cold = await pooled.client.post("/api/containers", json={"name": "peer", **strict})
    other = await pooled.other.post("/api/containers", json={"name": "far", **strict})
    assert cold.status_code == other.status_code == 201
    members = await full_pool(pooled)
    member = next(iter(members))
    firewall = pooled.platform.node.network.firewall
    assert firewall.port(pooled.platform.node.network.veth(member)).group is None
    warm = await pooled.client.post("/api/containers", json={"name": "warm", "image": "busybox"})
    assert warm.status_code == 201, warm.text
    cid = warm.json()["container_id"]
    assert cid == member
    for target, reachable in ((cold.json()["ip_address"], 0), (other.json()["ip_address"], 1)):
        got = await run(pooled, cid, "ping", "-c", "1", "-W", "1", target)
        assert got["exit_code"] == reachable, (target, got)
    await pooled.other.delete(f"/api/containers/{other.json()['container_id']}")
    for created in (cold, warm):
        await pooled.client.delete(f"/api/containers/{created.json()['container_id']}")
