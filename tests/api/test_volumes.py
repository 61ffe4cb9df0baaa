"""Volumes through the HTTP API: real subvolumes, bind-mounted into real containers."""

from __future__ import annotations

import base64
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


def b64(data: bytes) -> str:
    """Base64 text of `data`."""
    return base64.b64encode(data).decode()


async def test_files_write_list_read_and_delete(api: Any) -> None:
    """A file written through the API is listed, read back raw, seen in a container, deleted."""
    await make(api, "files")
    written = await api.client.post(
        "/api/volumes/files/files",
        json={"path": "/docs/notes.txt", "content": b64(b"hello\xff"), "mode": 640},
    )
    assert written.status_code == 201, written.text
    assert written.json()["mode"] == "0640"
    assert written.json()["size"] == 6
    listed = (await api.client.get("/api/volumes/files/ls", params={"path": "/docs"})).json()
    assert [(f["name"], f["type"], f["size"]) for f in listed["files"]] == [
        ("notes.txt", "file", 6)
    ]
    assert listed["total"] == 1
    read = await api.client.get("/api/volumes/files/files/docs/notes.txt")
    assert read.status_code == 200
    assert read.content == b"hello\xff"
    assert read.headers["content-type"] == "application/octet-stream"
    assert read.headers["x-quilt-file-mode"] == "0640"
    assert read.headers["x-quilt-file-size"] == "6"
    encoded = await api.client.get("/api/volumes/files/files/docs%2Fnotes.txt")
    assert encoded.content == b"hello\xff"
    head = await api.client.head("/api/volumes/files/files/docs/notes.txt")
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == head.headers["x-quilt-file-size"] == "6"
    assert head.headers["x-quilt-file-mode"] == "0640"
    missing = await api.client.head("/api/volumes/files/files/docs/none.txt")
    assert missing.status_code == 404
    as_json = await api.client.get(
        "/api/volumes/files/files/docs/notes.txt", headers={"Accept": "application/json"}
    )
    assert as_json.json() == {
        "path": "/docs/notes.txt",
        "size": 6,
        "mode": "0640",
        "content": base64.b64encode(b"hello\xff").decode(),
        "encoding": "base64",
    }
    api.platform.settings.file_read_default = "json"
    try:
        legacy = await api.client.get("/api/volumes/files/files/docs/notes.txt")
        raw = await api.client.get(
            "/api/volumes/files/files/docs/notes.txt",
            headers={"Accept": "application/octet-stream"},
        )
    finally:
        api.platform.settings.file_read_default = "raw"
    assert legacy.json()["content"] == as_json.json()["content"]
    assert raw.content == b"hello\xff"
    cid = (await create(api, name="reader", volumes=["files:/data"]))["container_id"]
    seen = await run(api, cid, "stat", "-c", "%a %s", "/data/docs/notes.txt")
    assert seen["stdout"] == "640 6\n"
    await run(api, cid, "/bin/sh", "-c", "echo from-container > /data/docs/back.txt")
    back = await api.client.get("/api/volumes/files/files/docs/back.txt")
    assert back.content == b"from-container\n"
    gone = await api.client.delete("/api/volumes/files/files/docs/notes.txt")
    assert gone.json() == {"success": True, "path": "/docs/notes.txt", "type": "file"}
    assert (await api.client.get("/api/volumes/files/files/docs/notes.txt")).status_code == 404
    busy = await api.client.delete("/api/volumes/files/files/docs")
    assert busy.status_code == 409
    assert "recursive" in busy.json()["hint"]
    emptied = await api.client.delete("/api/volumes/files/files/docs", params={"recursive": True})
    assert emptied.json()["type"] == "directory"
    assert (await run(api, cid, "ls", "-A", "/data"))["stdout"] == ""


async def test_listing_pages_by_name(api: Any) -> None:
    """Listing pages through a directory in name order and reports the total."""
    await make(api, "paged")
    for name in ("c", "a", "b", "e", "d"):
        await api.client.post("/api/volumes/paged/files", json={"path": name, "content": ""})
    second = await api.client.get("/api/volumes/paged/ls", params={"page": 2, "page_size": 2})
    body = second.json()
    assert [f["name"] for f in body["files"]] == ["c", "d"]
    assert (body["page"], body["page_size"], body["total"]) == (2, 2, 5)
    bad = await api.client.get("/api/volumes/paged/ls", params={"page_size": 0})
    assert bad.status_code == 400


async def test_paths_cannot_leave_the_volume(api: Any) -> None:
    """'..' is refused, and links planted by a container lead nowhere outside the volume."""
    await make(api, "jail")
    cid = (await create(api, name="planter", volumes=["jail:/data"]))["container_id"]
    await run(api, cid, "/bin/sh", "-c", "ln -s /etc/hostname /data/abs && ln -s ../.. /data/up")
    for path in ("../../etc/hostname", "a/../../x"):
        response = await api.client.get(f"/api/volumes/jail/files/{path}")
        assert response.status_code in (400, 404), response.text
    refused = await api.client.post(
        "/api/volumes/jail/files", json={"path": "/../escape", "content": b64(b"x")}
    )
    assert refused.status_code == 400
    assert "'..'" in refused.json()["error"]
    for path in ("abs", "up/etc/hostname"):
        response = await api.client.get(f"/api/volumes/jail/files/{path}")
        assert response.status_code == 404, (path, response.text)
    planted = await api.client.post(
        "/api/volumes/jail/files", json={"path": "/up/etc/hostname", "content": b64(b"owned")}
    )
    assert planted.status_code == 201  # written inside the volume, at /etc/hostname there
    inside = await run(api, cid, "cat", "/data/etc/hostname")
    assert inside["stdout"] == "owned"
    host = await run(api, cid, "cat", "/etc/hostname")
    assert host["stdout"] != "owned"


async def test_bad_file_requests_are_clear_4xx(api: Any) -> None:
    """Bad base64, bad modes, directories read as files and unknown volumes get 4xx."""
    await make(api, "strict")
    await api.client.post("/api/volumes/strict/files", json={"path": "d/f", "content": ""})
    cases = [
        ("POST", "/api/volumes/strict/files", {"path": "x", "content": "***"}, 400),
        ("POST", "/api/volumes/strict/files", {"path": "x", "content": "", "mode": 999}, 400),
        ("POST", "/api/volumes/strict/files", {"path": "x", "content": 5}, 422),
        ("POST", "/api/volumes/strict/files", {"path": "/", "content": ""}, 400),
        ("POST", "/api/volumes/strict/files", {"path": "d", "content": ""}, 400),
        ("POST", "/api/volumes/strict/files", {"path": "d/f/g", "content": ""}, 400),
        ("GET", "/api/volumes/strict/files/d", None, 400),
        ("GET", "/api/volumes/strict/files/missing", None, 404),
        ("GET", "/api/volumes/strict/ls?path=/d/f", None, 400),
        ("GET", "/api/volumes/nope/ls", None, 404),
        ("DELETE", "/api/volumes/strict/files/", None, 400),
    ]
    for method, url, body, status in cases:
        response = await api.client.request(method, url, json=body)
        assert response.status_code == status, (method, url, body, response.text)
        assert response.json()["error_code"]
    assert (await api.other.get("/api/volumes/strict/files/d/f")).status_code == 404


async def test_size_limit_is_enforced(api: Any) -> None:
    """A volume with size_limit_mb takes writes up to the limit, then refuses with 413."""
    volume = await make(api, "small", size_limit_mb=2)
    assert volume["size_limit_mb"] == 2
    fits = await api.client.post(
        "/api/volumes/small/files", json={"path": "one", "content": b64(bytes(1 << 20))}
    )
    assert fits.status_code == 201
    over = await api.client.post(
        "/api/volumes/small/files", json={"path": "two", "content": b64(bytes(3 << 20))}
    )
    assert over.status_code == 413, over.text
    assert over.json()["error_code"] == "QUOTA_EXCEEDED"
    listed = (await api.client.get("/api/volumes/small/ls")).json()["files"]
    assert [f["name"] for f in listed] == ["one"]  # nothing half-written is left
    cid = (await create(api, name="filler", volumes=["small:/s"]))["container_id"]
    filled = await run(api, cid, "/bin/sh", "-c", "head -c 4000000 /dev/zero > /s/big")
    assert filled["exit_code"] != 0  # the container's own writes stop at the limit too
    size = await run(api, cid, "stat", "-c", "%s", "/s/big")
    assert int(size["stdout"]) < 4_000_000
