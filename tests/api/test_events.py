"""`GET /api/events` over a real connection: ready first, tenant-scoped changes, resume."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import pytest

from helpers import create, wait_operation

if TYPE_CHECKING:
    import httpx

pytestmark = [pytest.mark.anyio, pytest.mark.host]


async def read_events(
    client: httpx.AsyncClient, url: str, until: Any, headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Read SSE events from `url` until `until(events)` is true (10 s at most)."""
    found: list[dict[str, Any]] = []
    async with asyncio.timeout(10), client.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        event: dict[str, Any] = {}
        async for line in response.aiter_lines():
            if line.startswith(("id:", "event:")):
                key, _, value = line.partition(": ")
                event[key] = value
            elif line.startswith("data: "):
                event["data"] = json.loads(line.removeprefix("data: "))
            elif not line and event:
                found.append(event)
                event = {}
                if until(found):
                    return found
    return found


async def test_events_start_ready_and_follow_a_container(api: Any, live: Any) -> None:
    """A watcher sees ready, then its container's state changes, in order, and no others."""
    cid = (await create(api, name="watched"))["container_id"]
    other = (await create(api, name="unwatched"))["container_id"]

    def done(events: list[dict[str, Any]]) -> bool:
        return any(e["data"].get("state") == "deleted" for e in events)

    reader = asyncio.create_task(read_events(live, f"/api/events?container_id={cid}", done))
    await asyncio.sleep(0.3)
    await api.client.post(f"/api/containers/{other}/stop")
    await api.client.post(f"/api/containers/{cid}/stop")
    receipt = (await api.client.post(f"/api/containers/{cid}/start")).json()
    await wait_operation(api, receipt["status_url"])
    await api.client.delete(f"/api/containers/{cid}")
    events = await reader
    assert events[0]["event"] == "ready"
    states = [e["data"]["state"] for e in events if e["event"] == "container_update"]
    assert states == ["stopped", "starting", "running", "deleted"], json.dumps(events)
    assert {e["data"]["container_id"] for e in events if e["event"] == "container_update"} == {cid}
    ops = [e["data"]["data"] for e in events if e["event"] == "operation_update"]
    assert [o["status"] for o in ops][-1] == "succeeded"
    assert all(o["operation_id"] == receipt["operation_id"] for o in ops)


async def test_events_are_tenant_scoped_and_resume(api: Any, live: Any) -> None:
    """Another tenant sees none of ours; Last-Event-ID replays what came after it."""
    first = await read_events(live, "/api/events", lambda e: len(e) >= 1)
    since = first[0]["data"]["last_event_id"]
    cid = (await create(api, name="resumed"))["container_id"]
    await api.client.post(f"/api/containers/{cid}/stop")
    replayed = await read_events(
        live,
        "/api/events",
        lambda e: any(x["data"].get("state") == "stopped" for x in e),
        headers={"Last-Event-ID": since},
    )
    names = [e["data"]["name"] for e in replayed if e["event"] == "container_update"]
    assert names == ["resumed", "resumed"]
    other_key = api.other.headers["X-Api-Key"]
    theirs = await read_events(
        live, f"/api/events?token={other_key}", lambda e: len(e) >= 1, headers={"X-Api-Key": ""}
    )
    assert theirs[0]["event"] == "ready"
    assert theirs[0]["data"]["tenant_id"] != first[0]["data"]["tenant_id"]
    platform = api.platform
    mine, _ = platform.events.after(platform.events.position(since))
    assert all(e.tenant_id == first[0]["data"]["tenant_id"] for e in mine)


async def test_events_need_a_key(live: Any) -> None:
    """Without a credential the stream is refused with the JSON error body."""
    response = await live.get("/api/events", headers={"X-Api-Key": ""})
    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHORIZED"
