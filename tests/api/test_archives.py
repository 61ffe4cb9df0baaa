"""Archive uploads through the HTTP API: tar bodies extracted into volumes and live containers."""

from __future__ import annotations

import base64
import io
import tarfile
from typing import Any

import pytest

from helpers import create, run, wait_operation

pytestmark = [pytest.mark.anyio, pytest.mark.host]


def codebase(prefix: str = "proj", *, gzip: bool = True) -> bytes:
    """A small project tree as a tar(.gz): a file, a nested file, a link, an executable."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if gzip else "w") as archive:
        for name, data, mode in (
            (f"{prefix}/README", b"hello\n", 0o644),
            (f"{prefix}/src/app.py", b"print('hi')\n", 0o644),
            (f"{prefix}/run.sh", b"#!/bin/sh\necho ran\n", 0o755),
        ):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            archive.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo(f"{prefix}/latest")
        link.type, link.linkname = tarfile.SYMTYPE, "src/app.py"
        archive.addfile(link)
    return buffer.getvalue()


async def upload(api: Any, url: str, body: bytes, **params: Any) -> dict[str, Any]:
    """POST an archive, check the 202 receipt, and follow the operation to its end."""
    response = await api.client.post(
        url, content=body, params=params, headers={"Content-Type": "application/gzip"}
    )
    assert response.status_code == 202, response.text
    return await wait_operation(api, response.json()["status_url"])


def staged(api: Any) -> list[str]:
    """Archive bodies still staged on the node."""
    uploads = api.platform.node.layout.uploads
    return sorted(p.name for p in uploads.iterdir()) if uploads.is_dir() else []


async def test_archive_fills_a_volume(api: Any) -> None:
    """A tar.gz lands under `path` with strip_components; links, modes and counts are right."""
    await api.client.post("/api/volumes", json={"name": "code"})
    op = await upload(api, "/api/volumes/code/archive", codebase(), path="/app", strip_components=1)
    assert op["status"] == "succeeded", op
    result = op["result"]
    assert (result["files"], result["symlinks"], result["path"]) == (3, 1, "/app")
    assert result["volume"] == "code"
    assert op["progress_pct"] == 100
    assert [p["name"] for p in op["phases"]] == ["extract"]
    listed = (await api.client.get("/api/volumes/code/ls", params={"path": "/app"})).json()
    assert [(f["name"], f["type"]) for f in listed["files"]] == [
        ("README", "file"),
        ("latest", "symlink"),
        ("run.sh", "file"),
        ("src", "directory"),
    ]
    assert {f["name"]: f["mode"] for f in listed["files"]}["run.sh"] == "0755"
    read = await api.client.get("/api/volumes/code/files/app/latest")
    assert read.content == b"print('hi')\n"
    assert staged(api) == []


async def test_archive_syncs_a_codebase_into_a_running_container(api: Any) -> None:
    """A container archive lands in the live filesystem, volumes mounted in it included."""
    await api.client.post("/api/volumes", json={"name": "shared"})
    cid = (await create(api, name="dev", volumes=["shared:/mnt/shared"]))["container_id"]
    op = await upload(
        api, f"/api/containers/{cid}/archive", codebase(), path="/workspace", strip_components=1
    )
    assert op["status"] == "succeeded", op
    assert op["result"]["container_id"] == cid
    ran = await run(api, cid, "/workspace/run.sh")
    assert ran["stdout"] == "ran\n"
    assert (await run(api, cid, "cat", "/workspace/latest"))["stdout"] == "print('hi')\n"
    into_volume = await upload(
        api, f"/api/containers/{cid}/archive", codebase(), path="/mnt/shared"
    )
    assert into_volume["status"] == "succeeded", into_volume
    read = await api.client.get("/api/volumes/shared/files/proj/README")
    assert read.content == b"hello\n"


async def test_older_json_archive_bodies_still_work(api: Any) -> None:
    """The older JSON shape {content: base64, path, strip_components} is accepted too."""
    await api.client.post("/api/volumes", json={"name": "legacy"})
    body = {"content": base64.b64encode(codebase()).decode(), "path": "/x", "strip_components": 1}
    response = await api.client.post("/api/volumes/legacy/archive", json=body)
    assert response.status_code == 202, response.text
    op = await wait_operation(api, response.json()["status_url"])
    assert op["status"] == "succeeded", op
    assert (await api.client.get("/api/volumes/legacy/files/x/README")).content == b"hello\n"


async def test_archive_members_cannot_escape(api: Any) -> None:
    """'..' members and writes through a planted absolute link stay inside the target."""
    cid = (await create(api, name="victim"))["container_id"]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        evil = tarfile.TarInfo("../../../../etc/quilt-escape")
        evil.size = 3
        archive.addfile(evil, io.BytesIO(b"bad"))
        link = tarfile.TarInfo("hostroot")
        link.type, link.linkname = tarfile.SYMTYPE, "/"
        archive.addfile(link)
        through = tarfile.TarInfo("hostroot/tmp/through-link")
        through.size = 4
        archive.addfile(through, io.BytesIO(b"kept"))
    response = await api.client.post(
        f"/api/containers/{cid}/archive",
        content=buffer.getvalue(),
        params={"path": "/drop"},
        headers={"Content-Type": "application/x-tar"},
    )
    op = await wait_operation(api, response.json()["status_url"])
    assert op["status"] == "succeeded", op
    assert op["result"]["skipped_count"] == 1
    assert any("skipped" in w for w in op["warnings"])
    # The link resolves inside the container: the file lands in the container's own /tmp.
    assert (await run(api, cid, "cat", "/tmp/through-link"))["stdout"] == "kept"
    assert (await run(api, cid, "ls", "/etc/quilt-escape"))["exit_code"] != 0
    assert not (api.platform.settings.data_dir / "tmp" / "through-link").exists()


async def test_bad_archive_requests_are_clear_4xx(api: Any, monkeypatch: Any) -> None:
    """Non-archives, bad parameters, stopped or unknown targets and big bodies get 4xx."""
    tenant = (await api.client.get("/api/system/info")).json()["tenant_id"]
    before = len(api.platform.store.operations.list(tenant, limit=10_000))
    await api.client.post("/api/volumes", json={"name": "target"})
    cid = (await create(api, name="stopped"))["container_id"]
    await api.client.post(f"/api/containers/{cid}/stop")
    url = "/api/volumes/target/archive"
    cases: list[tuple[str, bytes, dict[str, Any], int]] = [
        (url, b"not a tar at all" * 64, {}, 400),
        (url, b"", {}, 400),
        (url, b'{"content": "%%%"}', {}, 400),
        (url, codebase(), {"strip_components": -1}, 400),
        (url, codebase(), {"strip_components": "x"}, 422),
        (url, codebase(), {"path": "relative"}, 400),
        (url, codebase(), {"path": "/a/../b"}, 400),
        ("/api/volumes/nope/archive", codebase(), {}, 404),
        (f"/api/containers/{cid}/archive", codebase(), {}, 409),
        ("/api/containers/ctr_missing/archive", codebase(), {}, 404),
    ]
    for target, body, params, status in cases:
        response = await api.client.post(target, content=body, params=params)
        assert response.status_code == status, (target, params, response.text)
        assert response.json()["error_code"]
    monkeypatch.setattr(api.platform.archives, "limit_bytes", 1024)
    big = await api.client.post(url, content=bytes(4096))
    assert big.status_code == 413
    assert staged(api) == []
    assert len(api.platform.store.operations.list(tenant, limit=10_000)) == before
