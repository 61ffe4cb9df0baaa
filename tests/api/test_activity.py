"""Activity through the HTTP API: lifecycle entries per tenant, newest first, with a limit."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from helpers import create, follow

pytestmark = [pytest.mark.anyio, pytest.mark.host]


async def entries_of(client: Any, resource_id: str) -> list[dict[str, Any]]:
    """The newest activity entries (up to 1000) about one resource."""
    response = await client.get("/api/activity", params={"limit": 1000})
    assert response.status_code == 200, response.text
    return [e for e in response.json()["activity"] if e["resource_id"] == resource_id]


async def test_a_container_life_is_recorded_newest_first(api: Any) -> None:
    """Create, stop, start, rename and delete each leave one entry, newest first, with the name."""
    cid = (await create(api, name="act-life"))["container_id"]
    assert (await api.client.post(f"/api/containers/{cid}/stop")).status_code == 200
    await follow(api, "POST", f"/api/containers/{cid}/start")
    renamed = await api.client.post(f"/api/containers/{cid}/rename", json={"new_name": "act-2"})
    assert renamed.status_code == 200, renamed.text
    assert (await api.client.delete(f"/api/containers/{cid}")).status_code == 200

    entries = await entries_of(api.client, cid)
    assert [e["type"] for e in entries] == [
        "container.deleted",
        "container.renamed",
        "operation.succeeded",
        "container.started",
        "container.stopped",
        "container.created",
    ]
    assert entries[1]["details"]["old_name"] == "act-life"
    assert entries[0]["resource_name"] == "act-2"
    assert entries[2]["details"]["operation_type"] == "containers.start"
    assert entries[-1]["message"] == "container act-life was created from image busybox"
    stamps = [e["created_at"] for e in entries]
    assert stamps == sorted(stamps, reverse=True)
    assert await entries_of(api.other, cid) == []


async def test_an_exit_is_recorded_with_its_code(api: Any) -> None:
    """A main command that ends leaves `container.exited` with its exit code."""
    cid = (await create(api, name="act-exit", command=["sh", "-c", "exit 7"]))["container_id"]
    for _ in range(100):
        exited = [e for e in await entries_of(api.client, cid) if e["type"] == "container.exited"]
        if exited:
            break
        await asyncio.sleep(0.05)
    assert exited[0]["details"]["exit_code"] == 7
    assert exited[0]["message"] == "container act-exit exited with code 7"


async def test_activity_limit_is_checked(api: Any) -> None:
    """`limit` bounds the list; 0, over 1000 or not a number is a 4xx with the error body."""
    await create(api, name="act-limit-1")
    await create(api, name="act-limit-2")
    body = (await api.client.get("/api/activity", params={"limit": 2})).json()
    assert body["count"] == 2
    assert len(body["activity"]) == 2
    for bad, status in (("0", 400), ("1001", 400), ("many", 422)):
        response = await api.client.get("/api/activity", params={"limit": bad})
        assert response.status_code == status, response.text
        assert response.json()["error_code"] in {"BAD_REQUEST", "UNPROCESSABLE_ENTITY"}
