"""Small HTTP helpers shared by the API tests (a real server, in process or not)."""

from __future__ import annotations

import asyncio
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
