"""Cleanup through the HTTP API: tasks per released resource, retries, forced cleanup."""

from __future__ import annotations

import asyncio
import subprocess
from typing import Any

import pytest

from helpers import create, run

pytestmark = [pytest.mark.anyio, pytest.mark.host]

RESOURCES = ["container", "network", "mounts", "rootfs", "logs"]


async def tasks_of(api: Any, container_id: str) -> list[dict[str, Any]]:
    """A container's cleanup tasks, in release order."""
    response = await api.client.get(f"/api/containers/{container_id}/cleanup/tasks")
    assert response.status_code == 200, response.text
    found = response.json()["tasks"]
    return sorted(found, key=lambda t: RESOURCES.index(t["resource_type"]))


async def test_delete_records_what_it_released(api: Any) -> None:
    """Deleting releases every resource, says the bytes the layer held, and leaves no state."""
    cid = (await create(api, name="clean-bytes"))["container_id"]
    written = await run(api, cid, "dd", "if=/dev/zero", "of=/data.bin", "bs=1M", "count=4")
    assert written["exit_code"] == 0, written
    state_dir = api.platform.node.layout.container(cid).root
    assert state_dir.is_dir()
    before = (await api.client.get("/api/cleanup/status")).json()

    deleted = await api.client.delete(f"/api/containers/{cid}")
    assert deleted.status_code == 200
    assert deleted.json()["cleanup_pending"] == []
    tasks = await tasks_of(api, cid)
    assert [t["resource_type"] for t in tasks] == RESOURCES
    assert {t["status"] for t in tasks} == {"completed"}
    rootfs = next(t for t in tasks if t["resource_type"] == "rootfs")
    assert rootfs["bytes_freed"] >= 4 << 20
    assert not state_dir.exists()
    after = (await api.client.get("/api/cleanup/status")).json()
    assert after["completed"] == before["completed"] + len(RESOURCES)
    assert after["bytes_freed"] >= before["bytes_freed"] + (4 << 20)
    listed = (await api.client.get("/api/cleanup/tasks", params={"status": "completed"})).json()
    assert {t["task_id"] for t in tasks} <= {t["task_id"] for t in listed["tasks"]}
    theirs = await api.other.get(f"/api/containers/{cid}/cleanup/tasks")
    assert theirs.status_code == 404


async def test_a_resource_that_will_not_go_is_retried(api: Any) -> None:
    """A busy mount in a container's state dir fails its release; the retrier finishes it later."""
    cid = (await create(api, name="clean-busy"))["container_id"]
    pin = api.platform.node.layout.container(cid).root / "pin"
    pin.mkdir()
    await asyncio.to_thread(subprocess.run, ["mount", "-t", "tmpfs", "pin", str(pin)], check=True)
    try:
        deleted = await api.client.delete(f"/api/containers/{cid}")
        assert deleted.status_code == 200
        assert deleted.json()["cleanup_pending"] == ["logs"]
        logs_task = (await tasks_of(api, cid))[-1]
        assert logs_task["status"] == "failed"
        assert "could not be removed" in logs_task["error_message"]
        status = (await api.client.get("/api/cleanup/status")).json()
        assert status["failed"] >= 1
        assert status["healthy"] is False
        notes = (await api.client.get("/api/notifications")).json()["notifications"]
        assert any(n["type"] == "cleanup.failed" and n["resource_id"] == cid for n in notes)
    finally:
        await asyncio.to_thread(subprocess.run, ["umount", str(pin)], check=True)
    for _ in range(100):
        logs_task = (await tasks_of(api, cid))[-1]
        if logs_task["status"] == "completed":
            break
        await asyncio.sleep(0.05)
    assert logs_task["status"] == "completed"
    assert logs_task["attempts"] >= 2
    assert not pin.parent.exists()
    assert (await api.client.get("/api/cleanup/status")).json()["failed"] == 0


async def test_forced_cleanup_needs_confirmation_and_a_stopped_container(api: Any) -> None:
    """Without confirm it is a 400, on a running container a 409; neither changes anything."""
    cid = (await create(api, name="clean-force-live"))["container_id"]
    url = f"/api/containers/{cid}/cleanup/force"
    refused = await api.client.post(url, json={})
    assert refused.status_code == 400
    assert refused.json()["details"] == {"field": "confirm"}
    running = await api.client.post(url, json={"confirm": True})
    assert running.status_code == 409
    assert running.json()["details"]["state"] == "running"
    assert (await api.client.get(f"/api/containers/{cid}")).json()["state"] == "running"
    missing = await api.client.post("/api/containers/ctr_missing/cleanup/force", json={})
    assert missing.status_code == 404


async def test_forced_cleanup_removes_the_container_and_its_own_volumes(api: Any) -> None:
    """A stopped container goes with the volume only it attached; a shared volume stays."""
    for name in ("force-own", "force-shared"):
        made = await api.client.post("/api/volumes", json={"name": name})
        assert made.status_code == 201, made.text
    cid = (
        await create(api, name="clean-force", volumes=["force-own:/own", "force-shared:/shared"])
    )["container_id"]
    await create(api, name="clean-force-peer", volumes=["force-shared:/shared"])
    assert (await api.client.post(f"/api/containers/{cid}/stop")).status_code == 200

    response = await api.client.post(
        f"/api/containers/{cid}/cleanup/force", json={"confirm": True, "remove_volumes": True}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["volumes_removed"] == ["force-own"]
    assert body["volumes_kept"] == ["force-shared"]
    assert [t["status"] for t in body["tasks"]] == ["completed"] * len(RESOURCES)
    assert (await api.client.get(f"/api/containers/{cid}")).status_code == 404
    assert (await api.client.get("/api/volumes/force-own")).status_code == 404
    assert (await api.client.get("/api/volumes/force-shared")).status_code == 200
    activity = (await api.client.get("/api/activity", params={"limit": 20})).json()["activity"]
    assert any(e["type"] == "cleanup.forced" and e["resource_id"] == cid for e in activity)
