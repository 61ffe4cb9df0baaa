"""Small helpers shared by the tests: HTTP calls to a real server, free host subnets."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
from ipaddress import IPv4Interface, IPv4Network
from typing import Any

TERMINAL = {"succeeded", "failed", "cancelled", "timed_out"}


async def create(api: Any, **body: Any) -> dict[str, Any]:
    """Create a container and return its status body."""
    response = await api.client.post("/api/containers", json={"image": "busybox", **body})
    assert response.status_code == 201, response.text
    return response.json()


async def wait_state(
    api: Any, container_id: str, states: set[str], timeout: float = 10
) -> dict[str, Any]:
    """Poll detail until the container is in one of `states`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        body = (await api.client.get(f"/api/containers/{container_id}")).json()
        if body["state"] in states or asyncio.get_running_loop().time() > deadline:
            return body
        await asyncio.sleep(0.05)


async def run(api: Any, container_id: str, *argv: str, **extra: Any) -> dict[str, Any]:
    """Exec argv and return the result body."""
    response = await api.client.post(
        f"/api/containers/{container_id}/exec", json={"command": list(argv), **extra}
    )
    assert response.status_code == 200, response.text
    return response.json()


async def wait_operation(api: Any, url: str, timeout: float = 30) -> dict[str, Any]:
    """Poll an operation until it is terminal."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        body = (await api.client.get(url)).json()
        if body["status"] in TERMINAL:
            return body
        assert asyncio.get_running_loop().time() < deadline, body
        await asyncio.sleep(0.02)


async def follow(api: Any, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
    """Send a request that answers 202 with a receipt, and return the finished operation."""
    receipt = await api.client.request(method, url, **kwargs)
    assert receipt.status_code == 202, receipt.text
    return await wait_operation(api, receipt.json()["status_url"])


def ip_json(*argv: str) -> list[dict[str, object]]:
    """Run `ip -j ARGV` and return its parsed output."""
    done = subprocess.run(["ip", "-j", *argv], capture_output=True, text=True, check=True)
    parsed: list[dict[str, object]] = json.loads(done.stdout or "[]")
    return parsed


def host_networks() -> list[IPv4Network]:
    """Every IPv4 network the host already routes or has an address in."""
    found = [IPv4Network(str(r["dst"])) for r in ip_json("-4", "route") if r["dst"] != "default"]
    for link in ip_json("-4", "addr"):
        infos = link.get("addr_info", [])
        assert isinstance(infos, list)
        found += [IPv4Interface(f"{a['local']}/{a['prefixlen']}").network for a in infos]
    return found


def free_subnet(second_octets: range) -> IPv4Network:
    """A random 10.<second>.<any>.0/24 that overlaps nothing the host routes.

    A `quilt serve` on this host (10.203.0.0/16 by default) keeps running beside the tests.
    """
    taken = host_networks()
    for _ in range(200):
        second = second_octets[secrets.randbelow(len(second_octets))]
        network = IPv4Network(f"10.{second}.{secrets.randbelow(256)}.0/24")
        if not any(network.overlaps(other) for other in taken):
            return network
    raise RuntimeError(f"no free /24 in 10.{second_octets.start}-{second_octets.stop - 1}.x.x")
