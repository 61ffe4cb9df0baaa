"""Volumes through the HTTP API: real subvolumes, bind-mounted into real containers."""

from __future__ import annotations

from typing import Any

import pytest

from helpers import create, follow, run

pytestmark = [pytest.mark.anyio, pytest.mark.host]


async def make(api: Any, name: str, **body: Any) -> dict[str, Any]:
    """Create a volume and return its body."""
    response = await api.client.post("/api/volumes", json={"name": name, **body})
    assert response.status_code == 201, response.text
    return response.json()


async def test_volume_data_outlives_its_containers(api: Any) -> None:
    """Data written through one container is there for the next, after the first is deleted."""
    volume = await make(api, "keep", labels={"team": "qa"})
    assert volume["driver"] == "local"
    assert volume["labels"] == {"team": "qa"}
    first = (await create(api, name="writer", volumes=["keep:/data"]))["container_id"]
    await run(api, first, "/bin/sh", "-c", "echo saved > /data/note")
    await api.client.delete(f"/api/containers/{first}")
    second = (await create(api, name="reader", volumes=["keep:/mnt/keep:ro"]))["container_id"]
    assert (await run(api, second, "cat", "/mnt/keep/note"))["stdout"] == "saved\n"
    denied = await run(api, second, "/bin/sh", "-c", "echo x > /mnt/keep/other")
    assert denied["exit_code"] != 0
    assert "Read-only" in denied["stderr"]


async def test_list_get_inspect_and_rename(api: Any) -> None:
    """Inspect shows usage and attachments; a rename keeps the attachment working."""
    await make(api, "alpha")
    await make(api, "beta")
    names = [v["name"] for v in (await api.client.get("/api/volumes")).json()["volumes"]]
    assert names == ["alpha", "beta"]
    cid = (await create(api, name="user", volumes=["alpha:/a"]))["container_id"]
    await run(api, cid, "/bin/sh", "-c", "head -c 200000 /dev/zero > /a/blob")
    inspected = (await api.client.get("/api/volumes/alpha/inspect")).json()
    assert inspected["size_bytes"] >= 200_000
    assert inspected["attached_containers"] == [
        {
            "container_id": cid,
            "name": "user",
            "state": "running",
            "target": "/a",
            "read_only": False,
        }
    ]
    renamed = await api.client.post("/api/volumes/alpha/rename", json={"new_name": "gamma"})
    assert renamed.json() == {"success": True, "name": "alpha", "new_name": "gamma"}
    assert (await api.client.get("/api/volumes/alpha")).status_code == 404
    assert (await api.client.get("/api/volumes/gamma")).json()["name"] == "gamma"
    taken = await api.client.post("/api/volumes/gamma/rename", json={"new_name": "beta"})
    assert taken.status_code == 409
    await api.client.post(f"/api/containers/{cid}/stop")
    started = await follow(api, "POST", f"/api/containers/{cid}/start")
    assert started["status"] == "succeeded", started
    assert (await run(api, cid, "ls", "/a"))["stdout"] == "blob\n"


async def test_delete_is_refused_while_attached_then_removes_the_data(api: Any) -> None:
    """Delete answers 409 while a container attaches the volume; afterwards it is gone."""
    volume = await make(api, "doomed")
    cid = (await create(api, name="holder", volumes=["doomed:/d"]))["container_id"]
    refused = await api.client.delete("/api/volumes/doomed")
    assert refused.status_code == 409
    assert refused.json()["details"]["containers"] == [cid]
    await api.client.delete(f"/api/containers/{cid}")
    op = await follow(api, "DELETE", "/api/volumes/doomed")
    assert op["status"] == "succeeded", op
    assert (await api.client.get("/api/volumes/doomed")).status_code == 404
    node = api.platform.node
    assert volume["volume_id"] not in node.stored_layers("volumes")


async def test_bad_volume_requests_are_clear_4xx(api: Any) -> None:
    """Bad names, drivers, limits and unknown volumes get 4xx, and nothing is made."""
    before = node_volumes(api)
    cases = [
        ({"name": "bad name!"}, 400),
        ({"name": "x", "driver": "nfs"}, 400),
        ({"name": "x", "size_limit_mb": 0}, 422),
        ({"name": "x", "size_limit_mb": 10}, 400),  # refused until it can be enforced
        ({"name": 5}, 422),
    ]
    for body, status in cases:
        response = await api.client.post("/api/volumes", json=body)
        assert response.status_code == status, (body, response.text)
    await make(api, "dup")
    assert (await api.client.post("/api/volumes", json={"name": "dup"})).status_code == 409
    missing = await api.client.post(
        "/api/containers", json={"name": "needs", "image": "busybox", "volumes": ["nope:/n"]}
    )
    assert missing.status_code == 404
    assert node_volumes(api) == before | {
        v.volume_id for v in api.platform.store.volumes.list(None)
    }


async def test_volumes_are_tenant_scoped(api: Any) -> None:
    """Another tenant neither sees nor attaches a volume, and may reuse its name."""
    await make(api, "private")
    assert (await api.other.get("/api/volumes/private")).status_code == 404
    assert (await api.other.get("/api/volumes")).json()["volumes"] == []
    attach = await api.other.post(
        "/api/containers", json={"name": "thief", "image": "busybox", "volumes": ["private:/p"]}
    )
    assert attach.status_code == 404
    assert (await api.other.post("/api/volumes", json={"name": "private"})).status_code == 201


def node_volumes(api: Any) -> set[str]:
    """Volume subvolumes present in the pool."""
    return set(api.platform.node.stored_layers("volumes"))
