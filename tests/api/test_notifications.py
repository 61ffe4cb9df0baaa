"""Notifications through the HTTP API: raised by failures, added by clients, marked read."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from helpers import create

pytestmark = [pytest.mark.anyio, pytest.mark.host]


async def notifications(client: Any, **params: Any) -> dict[str, Any]:
    """The caller's notification list."""
    response = await client.get("/api/notifications", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_failed_exit_notifies_and_can_be_marked_read(api: Any) -> None:
    """A command that exits non-zero raises a warning; reading it and mark-all-read clear it."""
    cid = (await create(api, name="ntf-fail", command=["sh", "-c", "exit 3"]))["container_id"]
    mine: list[dict[str, Any]] = []
    for _ in range(100):
        body = await notifications(api.client, unread_only="true")
        mine = [n for n in body["notifications"] if n["resource_id"] == cid]
        if mine:
            break
        await asyncio.sleep(0.05)
    assert mine, "no notification for the failed exit"
    note = mine[0]
    assert note["severity"] == "warning"
    assert note["type"] == "container.exited"
    assert note["message"] == "container ntf-fail exited with code 3"
    assert note["read"] is False
    unread = body["unread_count"]

    read = await api.client.put(f"/api/notifications/{note['notification_id']}/read")
    assert read.status_code == 200, read.text
    assert read.json()["read"] is True
    assert read.json()["read_at"] is not None
    after = await notifications(api.client)
    assert after["unread_count"] == unread - 1
    assert note["notification_id"] not in {
        n["notification_id"]
        for n in (await notifications(api.client, unread_only="true"))["notifications"]
    }

    marked = (await api.client.post("/api/notifications/mark-all-read")).json()
    assert marked == {"success": True, "marked": unread - 1, "unread_count": 0}
    assert (await notifications(api.client, unread_only="true"))["notifications"] == []


async def test_clients_add_their_own_and_tenants_are_apart(api: Any) -> None:
    """A posted notification is listed for its tenant only; another tenant cannot mark it."""
    response = await api.client.post(
        "/api/notifications",
        json={"type": "deploy", "title": "Staging", "message": "refreshed", "severity": "warning"},
    )
    assert response.status_code == 201, response.text
    note = response.json()
    assert (note["type"], note["title"], note["severity"]) == ("deploy", "Staging", "warning")
    listed = (await notifications(api.client, limit=5))["notifications"]
    assert listed[0]["notification_id"] == note["notification_id"]
    theirs = await notifications(api.other)
    assert note["notification_id"] not in {n["notification_id"] for n in theirs["notifications"]}
    foreign = await api.other.put(f"/api/notifications/{note['notification_id']}/read")
    assert foreign.status_code == 404
    assert foreign.json()["error_code"] == "NOT_FOUND"
    mine = await api.client.get("/api/notifications", params={"unread_only": "true"})
    assert note["notification_id"] in {n["notification_id"] for n in mine.json()["notifications"]}


async def test_bad_notifications_are_refused(api: Any) -> None:
    """An unknown severity or an empty title is a 400; a missing field is a 422; nothing is kept."""
    before = (await notifications(api.client))["count"]
    cases = [
        ({"type": "x", "title": "t", "message": "m", "severity": "loud"}, 400),
        ({"type": "x", "title": " ", "message": "m"}, 400),
        ({"type": "x", "message": "m"}, 422),
    ]
    for body, status in cases:
        response = await api.client.post("/api/notifications", json=body)
        assert response.status_code == status, response.text
        assert response.json()["request_id"]
    assert (await notifications(api.client))["count"] == before
    missing = await api.client.put("/api/notifications/ntf_missing/read")
    assert missing.status_code == 404
