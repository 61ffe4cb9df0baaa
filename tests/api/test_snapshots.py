"""Snapshots and clones through the HTTP API, on real containers and a real btrfs pool."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from helpers import create, follow, run, wait_operation

pytestmark = [pytest.mark.anyio, pytest.mark.host]

TENANT = {"X-Tenant-Id": "ten_test"}


async def snapshot(api: Any, container_id: str, **body: Any) -> dict[str, Any]:
    """Snapshot a container and return the finished, successful operation."""
    url = f"/api/containers/{container_id}/snapshot"
    op = await follow(api, "POST", url, json=body, headers=TENANT)
    assert op["status"] == "succeeded", op
    return op


async def clone(api: Any, snapshot_id: str, **body: Any) -> dict[str, Any]:
    """Clone a snapshot and return the finished operation."""
    url = f"/api/snapshots/{snapshot_id}/clone"
    return await follow(api, "POST", url, json=body, headers=TENANT)


async def test_snapshot_captures_files_while_the_container_keeps_running(api: Any) -> None:
    """A snapshot records the files, reports the pause window, and the source runs on."""
    source = await create(api, name="snap-src", labels={"app": "web"})
    cid = source["container_id"]
    await run(api, cid, "/bin/sh", "-c", "mkdir -p /data && echo one > /data/file")
    op = await snapshot(api, cid, labels={"step": "one"}, consistency_mode="app-consistent")
    snap_id = op["result"]["snapshot_id"]
    assert op["snapshot_id"] == snap_id
    phases = {p["name"] for p in op["phases"]}
    assert {"flush", "freeze", "sync", "capture", "thaw"} <= phases
    assert 0 < op["result"]["pause_ms"] < 5000
    for _ in range(500):  # the size is measured once captures have been quiet a moment
        detail = (await api.client.get(f"/api/snapshots/{snap_id}", headers=TENANT)).json()
        if detail["size_bytes"] is not None:
            break
        await asyncio.sleep(0.01)
    assert detail["snapshot_id"] == detail["id"] == snap_id
    assert detail["source_container_id"] == cid
    assert detail["source_container_name"] == "snap-src"
    assert detail["parent_snapshot_id"] is None
    assert detail["labels"] == {"step": "one"}
    assert detail["pinned"] is False
    assert detail["size_bytes"] > 0
    assert detail["consistency_mode"] == "app-consistent"
    status = (await api.client.get(f"/api/containers/{cid}")).json()
    assert status["state"] == "running"
    assert (await run(api, cid, "cat", "/data/file"))["stdout"] == "one\n"


async def test_clone_sees_the_snapshot_not_later_writes(api: Any) -> None:
    """A clone starts from the snapshot's files; writes to the source afterwards stay unseen."""
    source = await create(
        api, name="clone-src", environment={"GREETING": "hi"}, working_directory="/work"
    )
    cid = source["container_id"]
    await run(api, cid, "/bin/sh", "-c", "echo before > /work/state")
    snap_id = (await snapshot(api, cid))["result"]["snapshot_id"]
    await run(api, cid, "/bin/sh", "-c", "echo after > /work/state && touch /work/late")
    op = await clone(api, snap_id, name="clone-1", labels={"kind": "clone"})
    assert op["status"] == "succeeded", op
    child = op["result"]["container_id"]
    assert op["container_id"] == child != cid
    status = (await api.client.get(f"/api/containers/{child}")).json()
    assert status["state"] == "running"
    assert status["exec_ready"] is True
    assert status["name"] == "clone-1"
    assert status["labels"] == {"kind": "clone"}
    assert status["ip_address"] != source["ip_address"]
    assert (await run(api, child, "cat", "/work/state"))["stdout"] == "before\n"
    assert (await run(api, child, "ls", "/work"))["stdout"].split() == ["state"]
    shown = await run(api, child, "/bin/sh", "-c", "echo $GREETING; pwd")
    assert shown["stdout"] == "hi\n/work\n"
    await run(api, child, "/bin/sh", "-c", "echo clone > /work/state")
    assert (await run(api, cid, "cat", "/work/state"))["stdout"] == "after\n"


async def test_manual_clone_waits_for_start(api: Any) -> None:
    """A `manual` clone is created but not running until it is started."""
    cid = (await create(api, name="manual-src"))["container_id"]
    await run(api, cid, "/bin/sh", "-c", "echo kept > /kept")
    snap_id = (await snapshot(api, cid))["result"]["snapshot_id"]
    op = await clone(api, snap_id, name="manual-clone", resume_policy="manual")
    child = op["result"]["container_id"]
    assert op["result"]["state"] == "created"
    assert (await api.client.get(f"/api/containers/{child}")).json()["state"] == "created"
    refused = await api.client.post(f"/api/containers/{child}/exec", json={"command": ["true"]})
    assert refused.status_code == 409
    assert refused.json()["details"]["state"] == "created"
    started = await api.client.post(f"/api/containers/{child}/start")
    assert (await wait_operation(api, started.json()["status_url"]))["status"] == "succeeded"
    assert (await run(api, child, "cat", "/kept"))["stdout"] == "kept\n"


async def test_lineage_walks_parents_children_and_clones(api: Any) -> None:
    """Lineage lists ancestors nearest first, snapshots taken on top, and clones."""
    cid = (await create(api, name="line-src"))["container_id"]
    first = (await snapshot(api, cid))["result"]["snapshot_id"]
    child = (await clone(api, first, name="line-clone"))["result"]["container_id"]
    second = (await snapshot(api, child))["result"]["snapshot_id"]
    body = (await api.client.get(f"/api/snapshots/{second}/lineage", headers=TENANT)).json()
    assert [(n["snapshot_id"], n["depth"]) for n in body["nodes"]] == [(second, 0), (first, 1)]
    assert body["image"] == "busybox"
    assert body["source_container_id"] == child
    root = (await api.client.get(f"/api/snapshots/{first}/lineage", headers=TENANT)).json()
    assert [n["snapshot_id"] for n in root["children"]] == [second]
    assert [c["container_id"] for c in root["clones"]] == [child]


async def test_list_filters_by_container_and_label(api: Any) -> None:
    """`?container_id=` and repeatable `label=k=v` narrow the list."""
    a = (await create(api, name="list-a"))["container_id"]
    b = (await create(api, name="list-b"))["container_id"]
    sa = (await snapshot(api, a, labels={"env": "ci", "run": "1"}))["result"]["snapshot_id"]
    sb = (await snapshot(api, b, labels={"env": "ci"}))["result"]["snapshot_id"]

    async def ids(query: str) -> set[str]:
        body = (await api.client.get(f"/api/snapshots{query}", headers=TENANT)).json()
        return {s["snapshot_id"] for s in body["snapshots"]}

    assert {sa, sb} <= await ids("")
    assert await ids(f"?container_id={a}") == {sa}
    assert await ids("?label=env=ci&label=run=1") == {sa}
    bad = await api.client.get("/api/snapshots?label=novalue", headers=TENANT)
    assert bad.status_code == 400


async def test_pinned_and_in_use_snapshots_refuse_delete(api: Any) -> None:
    """Delete is refused while pinned (SNAPSHOT_PINNED) and while a clone stands on it."""
    cid = (await create(api, name="pin-src"))["container_id"]
    snap_id = (await snapshot(api, cid))["result"]["snapshot_id"]
    pinned = await api.client.post(f"/api/snapshots/{snap_id}/pin", headers=TENANT)
    assert pinned.json()["success"] is True
    assert pinned.json()["snapshot"]["pinned"] is True
    refused = await api.client.delete(f"/api/snapshots/{snap_id}", headers=TENANT)
    assert refused.status_code == 409
    assert refused.json()["error_code"] == "SNAPSHOT_PINNED"
    await api.client.post(f"/api/snapshots/{snap_id}/unpin", headers=TENANT)
    child = (await clone(api, snap_id, name="pin-clone"))["result"]["container_id"]
    in_use = await api.client.delete(f"/api/snapshots/{snap_id}", headers=TENANT)
    assert in_use.status_code == 409
    assert in_use.json()["error_code"] == "SNAPSHOT_IN_USE"
    assert in_use.json()["details"]["containers"] == [child]
    await api.client.delete(f"/api/containers/{child}")
    gone = await api.client.delete(f"/api/snapshots/{snap_id}", headers=TENANT)
    assert gone.status_code == 200
    assert not api.platform.node.storage.exists(api.platform.node.snapshot_layer(snap_id))
    missing = await api.client.get(f"/api/snapshots/{snap_id}", headers=TENANT)
    assert missing.status_code == 404


async def test_expired_snapshots_are_reclaimed_unless_pinned(api: Any) -> None:
    """The reaper deletes an expired snapshot and its layer, and keeps a pinned one."""
    cid = (await create(api, name="ttl-src"))["container_id"]
    doomed = (await snapshot(api, cid, ttl_seconds=60))["result"]["snapshot_id"]
    kept = (await snapshot(api, cid, ttl_seconds=60))["result"]["snapshot_id"]
    await api.client.post(f"/api/snapshots/{kept}/pin", headers=TENANT)
    store = api.platform.store
    for snap_id in (doomed, kept):  # age both past their TTL
        created = store.snapshots.get("ten_test", snap_id).created_at
        store.snapshots.update(snap_id, created_at=created - timedelta(seconds=120))
    assert api.platform.snapshots.reap_expired() == [doomed]
    assert store.snapshots.get("ten_test", doomed) is None
    assert not api.platform.node.storage.exists(api.platform.node.snapshot_layer(doomed))
    assert store.snapshots.get("ten_test", kept) is not None
    detail = (await api.client.get(f"/api/snapshots/{kept}", headers=TENANT)).json()
    assert detail["expires_at"] is not None


async def test_tenant_header_is_required_and_must_match(api: Any) -> None:
    """Snapshot routes answer 400 without X-Tenant-Id and 403 with another tenant's."""
    missing = await api.client.get("/api/snapshots")
    assert missing.status_code == 400
    assert "X-Tenant-Id" in missing.json()["error"]
    wrong = await api.client.get("/api/snapshots", headers={"X-Tenant-Id": "ten_other"})
    assert wrong.status_code == 403
    assert wrong.json()["details"]["reason_code"] == "TENANT_ISOLATION_VIOLATION"
    unauthenticated = await api.anonymous.get("/api/snapshots", headers=TENANT)
    assert unauthenticated.status_code == 401


async def test_another_tenants_snapshot_is_not_found(api: Any) -> None:
    """A snapshot of one tenant is a 404 for another, on every route."""
    cid = (await create(api, name="iso-src"))["container_id"]
    snap_id = (await snapshot(api, cid))["result"]["snapshot_id"]
    other = {"X-Tenant-Id": "ten_other"}
    for method, path in (
        ("GET", f"/api/snapshots/{snap_id}"),
        ("GET", f"/api/snapshots/{snap_id}/lineage"),
        ("POST", f"/api/snapshots/{snap_id}/pin"),
        ("DELETE", f"/api/snapshots/{snap_id}"),
        ("POST", f"/api/snapshots/{snap_id}/clone"),
        ("POST", f"/api/containers/{cid}/snapshot"),
    ):
        body = {} if method == "POST" else None
        response = await api.other.request(method, path, json=body, headers=other)
        assert response.status_code == 404, (method, path, response.text)
    listed = (await api.other.get("/api/snapshots", headers=other)).json()["snapshots"]
    assert snap_id not in {s["snapshot_id"] for s in listed}


async def test_bad_modes_are_refused_before_any_operation(api: Any) -> None:
    """Unknown modes and policies are 422 at request time, and no operation is created."""
    cid = (await create(api, name="modes-src"))["container_id"]
    before = len(api.platform.store.operations.list("ten_test", limit=1000))
    for body in (
        {"consistency_mode": "eventually"},
        {"network_mode": "teleport"},
        {"volume_mode": "everything"},
        {"ttl_seconds": 0},
        {"labels": "x"},
    ):
        response = await api.client.post(
            f"/api/containers/{cid}/snapshot", json=body, headers=TENANT
        )
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error_code"] == "UNPROCESSABLE_ENTITY"
    after = len(api.platform.store.operations.list("ten_test", limit=1000))
    assert after == before


async def test_unsupported_modes_are_warned_not_faked(api: Any) -> None:
    """Modes this host cannot honour finish with a warning saying so."""
    cid = (await create(api, name="warn-src"))["container_id"]
    op = await snapshot(api, cid, network_mode="preserve_ns", volume_mode="include_named")
    text = " ".join(op["warnings"])
    assert "preserve_ns" in text
    assert "no volumes" in text


async def test_clone_into_a_taken_name_is_409_before_any_work(api: Any) -> None:
    """Cloning into a name the tenant already uses is refused at request time."""
    cid = (await create(api, name="taken"))["container_id"]
    snap_id = (await snapshot(api, cid))["result"]["snapshot_id"]
    response = await api.client.post(
        f"/api/snapshots/{snap_id}/clone", json={"name": "taken"}, headers=TENANT
    )
    assert response.status_code == 409
    bad = await api.client.post(
        f"/api/snapshots/{snap_id}/clone", json={"resume_policy": "later"}, headers=TENANT
    )
    assert bad.status_code == 422


async def test_stopped_container_can_be_snapshotted(api: Any) -> None:
    """A stopped container's kept filesystem is captured as it is."""
    cid = (await create(api, name="stopped-src"))["container_id"]
    await run(api, cid, "/bin/sh", "-c", "echo still > /still")
    await api.client.post(f"/api/containers/{cid}/stop")
    op = await snapshot(api, cid)
    assert "freeze" not in {p["name"] for p in op["phases"]}
    child = (await clone(api, op["result"]["snapshot_id"], name="from-stopped"))["result"]
    assert (await run(api, child["container_id"], "cat", "/still"))["stdout"] == "still\n"


async def test_included_volumes_travel_with_the_snapshot(api: Any) -> None:
    """include_named copies volume data in: clones and forks see it, apart from the volume."""
    await api.client.post("/api/volumes", json={"name": "notes"})
    cid = (await create(api, name="vol-src", volumes=["notes:/etc"]))["container_id"]
    await run(api, cid, "/bin/sh", "-c", "mkdir -p /etc/sub && echo kept > /etc/sub/note")
    plain = await snapshot(api, cid)
    op = await snapshot(api, cid, volume_mode="include_named")
    assert "volumes" in {p["name"] for p in op["phases"]}
    assert op["warnings"] == []
    snap_id = op["result"]["snapshot_id"]
    detail = (await api.client.get(f"/api/snapshots/{snap_id}", headers=TENANT)).json()
    assert detail["volumes_included"] == [{"name": "notes", "target": "/etc"}]
    await run(api, cid, "/bin/sh", "-c", "echo later > /etc/sub/note")
    made = await clone(api, snap_id, name="vol-clone")
    assert made["status"] == "succeeded", made
    clone_id = made["result"]["container_id"]
    assert (await run(api, clone_id, "cat", "/etc/sub/note"))["stdout"] == "kept\n"
    # Like the mounted volume, the copy hides the image's own /etc/passwd beneath it.
    listed = (await run(api, clone_id, "ls", "/etc"))["stdout"].split()
    assert "sub" in listed
    assert "passwd" not in listed
    await run(api, clone_id, "/bin/sh", "-c", "echo clone > /etc/sub/note")
    assert (await run(api, cid, "cat", "/etc/sub/note"))["stdout"] == "later\n"
    without = await clone(api, plain["result"]["snapshot_id"], name="no-vol-clone")
    listing = await run(api, without["result"]["container_id"], "ls", "/etc")
    assert "sub" not in listing["stdout"].split()
    forked = await follow(
        api,
        "POST",
        f"/api/containers/{cid}/fork",
        json={"name": "vol-fork", "volume_mode": "include_all_allowed"},
        headers=TENANT,
    )
    assert forked["status"] == "succeeded", forked
    child = forked["result"]["container_id"]
    assert (await run(api, child, "cat", "/etc/sub/note"))["stdout"] == "later\n"


async def test_the_snapshot_receipt_names_the_snapshot(api: Any) -> None:
    """A quick capture's 202 receipt also carries the snapshot, ready to read and pin at once."""
    cid = (await create(api, name="snap-receipt"))["container_id"]
    response = await api.client.post(f"/api/containers/{cid}/snapshot", json={}, headers=TENANT)
    assert response.status_code == 202, response.text
    receipt = response.json()
    assert receipt["status"] == "succeeded"
    assert receipt["status_url"] == f"/api/operations/{receipt['operation_id']}"
    assert receipt["source_container_id"] == cid
    assert receipt["source_container_name"] == "snap-receipt"
    pinned = await api.client.post(f"/api/snapshots/{receipt['snapshot_id']}/pin", headers=TENANT)
    assert pinned.status_code == 200, pinned.text
    unpinned = await api.client.post(
        f"/api/snapshots/{receipt['snapshot_id']}/unpin", headers=TENANT
    )
    assert unpinned.status_code == 200


async def test_an_optional_tenant_header_defaults_to_the_caller(api: Any, monkeypatch: Any) -> None:
    """With tenant_header optional, a missing X-Tenant-Id means the caller's; a wrong one is 403."""
    cid = (await create(api, name="snap-no-header"))["container_id"]
    url = f"/api/containers/{cid}/snapshot"
    refused = await api.client.post(url, json={})
    assert refused.status_code == 400
    assert refused.json()["details"]["expected"] == ["X-Tenant-Id: <your tenant id>"]
    monkeypatch.setattr(api.platform.settings, "tenant_header", "optional")
    taken = await api.client.post(url, json={})
    assert taken.status_code == 202, taken.text
    assert (await wait_operation(api, taken.json()["status_url"]))["status"] == "succeeded"
    wrong = await api.client.post(url, json={}, headers={"X-Tenant-Id": "ten_other"})
    assert wrong.status_code == 403
