"""The SDK against a real server: real busybox containers, snapshots, forks and volumes.

`AsyncQuilt` talks to the shared server in process (`httpx.ASGITransport`); `Quilt` talks
to it over a real socket from a worker thread. Every test deletes what it made, through the
SDK; the `api` fixture sweeps up after a failure.
"""

from __future__ import annotations

import contextlib
import secrets
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
import httpx
import pytest

import quilt
from conftest import API_KEY

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from conftest import Server

pytestmark = [pytest.mark.anyio, pytest.mark.host]

IDLE = ["/bin/sh", "-c", "echo booted; exec sleep 600"]


def unique(prefix: str) -> str:
    """A name no other test uses."""
    return f"{prefix}-{secrets.token_hex(3)}"


@contextlib.asynccontextmanager
async def container(client: quilt.AsyncQuilt, **spec: Any) -> AsyncIterator[quilt.Container]:
    """A running busybox container, deleted (if still there) when the block ends."""
    made = await client.containers.create(unique("sdk"), image="busybox", **spec)
    try:
        yield made
    finally:
        with contextlib.suppress(quilt.NotFound):
            await client.containers.delete(made.container_id)


async def test_async_client_runs_a_container_through_its_life(aquilt: quilt.AsyncQuilt) -> None:
    """Create, exec, env, rename, stop, start + wait, logs and delete all act on the container."""
    made = await aquilt.containers.create(
        unique("life"), image="busybox", command=IDLE, environment={"KEEP": "1"}
    )
    cid = made.container_id
    try:
        assert made.state == "running"
        assert made.exec_ready is True
        assert made.tenant_id == "ten_test"
        assert [c.container_id for c in await aquilt.containers.list()] == [cid]

        hi = await aquilt.containers.exec(cid, ["echo", "hi"])
        assert (hi.stdout, hi.stderr, hi.exit_code, hi.timed_out) == ("hi\n", "", 0, False)
        failed = await aquilt.containers.exec(cid, ["/bin/sh", "-c", "echo oops >&2; exit 3"])
        assert (failed.exit_code, failed.stderr) == (3, "oops\n")

        assert await aquilt.containers.env.get(cid) == {"KEEP": "1"}
        assert await aquilt.containers.env.set(cid, {"A": "1"}) == {"A": "1"}
        assert await aquilt.containers.env.patch(cid, {"B": "2"}) == {"A": "1", "B": "2"}
        seen = await aquilt.containers.exec(cid, ["/bin/sh", "-c", 'echo "$A$B${KEEP:-none}"'])
        assert seen.stdout == "12none\n"

        new_name = unique("renamed")
        renamed = await aquilt.containers.rename(cid, new_name)
        assert (renamed.old_name, renamed.new_name) == (made.name, new_name)
        assert await aquilt.containers.by_name(new_name) == cid

        ready = await aquilt.containers.ready(cid)
        assert (ready.exec_ready, ready.network_ready) == (True, True)
        assert "booted" in [line.message for line in await aquilt.containers.logs(cid)]
        processes = await aquilt.containers.processes(cid)
        assert processes[0].command == "minit"
        assert any(p.args[:2] == ["sleep", "600"] for p in processes)

        stopped = await aquilt.containers.stop(cid)
        assert stopped.state == "stopped"
        assert (await aquilt.containers.get(cid)).state == "stopped"
        with pytest.raises(quilt.Conflict) as refused:
            await aquilt.containers.exec(cid, ["true"])
        assert refused.value.details == {"state": "stopped"}
        assert refused.value.request_id

        receipt = await aquilt.containers.start(cid)
        assert receipt.status_url == f"/api/operations/{receipt.operation_id}"
        done = await aquilt.operations.wait(receipt, timeout=60)
        assert done.status == "succeeded"
        assert done.container_id == cid
        assert (await aquilt.containers.get(cid)).state == "running"
        again = await aquilt.containers.exec(cid, ["cat", "/proc/1/cmdline"])
        assert again.exit_code == 0
    finally:
        deleted = await aquilt.containers.delete(cid)
    assert deleted.success
    assert deleted.container_id == cid
    with pytest.raises(quilt.NotFound):
        await aquilt.containers.get(cid)


async def test_a_missing_container_raises_not_found_with_a_request_id(
    aquilt: quilt.AsyncQuilt,
) -> None:
    """An unknown id raises NotFound carrying the server's request id and message."""
    with pytest.raises(quilt.NotFound) as caught:
        await aquilt.containers.get("ctr_0000000000000000")
    error = caught.value
    assert error.code == "NOT_FOUND"
    assert error.status_code == 404
    assert error.request_id is not None
    assert error.request_id.startswith("req_")
    assert error.response is not None
    assert error.response.headers["x-request-id"] == error.request_id
    assert "ctr_0000000000000000" in error.message


async def test_a_wrong_key_is_unauthorized(api: Server) -> None:
    """A key the server does not know raises Unauthorized; /health still answers without one."""
    transport = httpx.ASGITransport(app=api.app)
    async with quilt.AsyncQuilt(
        "http://quilt.test", api_key="quilt_sk_nope", transport=transport
    ) as c:
        assert (await c.system.health()).status == "ok"
        with pytest.raises(quilt.Unauthorized) as caught:
            await c.containers.list()
    assert caught.value.status_code == 401


async def test_snapshot_and_fork_carry_the_files(aquilt: quilt.AsyncQuilt) -> None:
    """A snapshot holds the container's files; a fork starts with them and runs on its own."""
    async with container(aquilt, command=IDLE) as parent:
        pid = parent.container_id
        wrote = await aquilt.containers.exec(pid, ["/bin/sh", "-c", "echo kept > /state"])
        assert wrote.exit_code == 0

        taken = await aquilt.operations.wait(
            await aquilt.snapshots.create(pid, labels={"by": "sdk"}), timeout=60
        )
        snapshot_id = taken.snapshot_id
        assert snapshot_id is not None
        try:
            snap = await aquilt.snapshots.get(snapshot_id)
            assert (snap.source_container_id, snap.labels) == (pid, {"by": "sdk"})
            listed = await aquilt.snapshots.list(container_id=pid, labels={"by": "sdk"})
            assert [s.snapshot_id for s in listed] == [snapshot_id]
            assert (await aquilt.snapshots.pin(snapshot_id)).pinned is True
            with pytest.raises(quilt.SnapshotPinned):
                await aquilt.snapshots.delete(snapshot_id)
            assert (await aquilt.snapshots.unpin(snapshot_id)).pinned is False
            lineage = await aquilt.snapshots.lineage(snapshot_id)
            assert lineage.nodes[0].snapshot_id == snapshot_id

            forked = await aquilt.operations.wait(
                await aquilt.forks.create(pid, name=unique("child")), timeout=60
            )
            assert forked.result is not None
            child = str(forked.result["container_id"])
            try:
                shown = await aquilt.containers.exec(child, ["cat", "/state"])
                assert shown.stdout == "kept\n"
                await aquilt.containers.exec(child, ["/bin/sh", "-c", "echo child > /state"])
                assert (await aquilt.containers.exec(pid, ["cat", "/state"])).stdout == "kept\n"
            finally:
                await aquilt.containers.delete(child)
        finally:
            assert (await aquilt.snapshots.delete(snapshot_id)).snapshot_id == snapshot_id
        with pytest.raises(quilt.NotFound):
            await aquilt.snapshots.get(snapshot_id)


async def test_a_volume_keeps_bytes_written_and_read_back(aquilt: quilt.AsyncQuilt) -> None:
    """Bytes written to a volume read back exactly, and a container attaching it sees them."""
    name = unique("vol")
    volume = await aquilt.volumes.create(name, labels={"by": "sdk"})
    assert volume.name == name
    payload = b"hello \x00\xff bytes\n"
    try:
        entry = await aquilt.volumes.files.write(name, "/dir/hello.bin", payload, mode=0o600)
        assert (entry.path, entry.size, entry.mode) == ("/dir/hello.bin", len(payload), "0600")
        assert await aquilt.volumes.files.read(name, "/dir/hello.bin") == payload
        listing = await aquilt.volumes.files.list(name, "/dir")
        assert [f.name for f in listing.files] == ["hello.bin"]

        async with container(aquilt, command=IDLE, volumes=[f"{name}:/data"]) as user:
            seen = await aquilt.containers.exec(
                user.container_id, ["wc", "-c", "/data/dir/hello.bin"]
            )
            assert seen.stdout.split()[0] == str(len(payload))
            inspected = await aquilt.volumes.inspect(name)
            assert [a.container_id for a in inspected.attached_containers] == [user.container_id]

        removed = await aquilt.volumes.files.delete(name, "/dir", recursive=True)
        assert removed.path == "/dir"
        with pytest.raises(quilt.NotFound):
            await aquilt.volumes.files.read(name, "/dir/hello.bin")
    finally:
        gone = await aquilt.operations.wait(await aquilt.volumes.delete(name), timeout=60)
    assert gone.succeeded
    with pytest.raises(quilt.NotFound):
        await aquilt.volumes.get(name)


async def test_events_stream_reports_a_stop(live_url: str) -> None:
    """Over a real socket, the event stream says `ready`, then the container's stop."""
    async with quilt.AsyncQuilt(live_url, api_key=API_KEY) as client:
        made = await client.containers.create(unique("events"), image="busybox", command=IDLE)
        cid = made.container_id
        try:
            states: list[str] = []
            with anyio.fail_after(30):
                async with client.events.stream(container_id=cid) as events:
                    async for event in events:
                        if event.event == "ready":
                            assert event.data["tenant_id"] == "ten_test"
                            await client.containers.stop(cid)
                        elif event.event == "container_update":
                            states.append(event.data["state"])
                            if event.data["state"] == "stopped":
                                break
            assert states[-1] == "stopped"
        finally:
            await client.containers.delete(cid)


def sync_flow(base_url: str) -> dict[str, object]:
    """Drive one container through the blocking client and report what was seen."""
    seen: dict[str, object] = {}
    with quilt.Quilt(base_url, api_key=API_KEY) as client:
        assert client.system.health().status == "ok"
        seen["tenant"] = client.system.info().tenant_id
        made = client.containers.create(unique("sync"), image="busybox", command=IDLE)
        cid = made.container_id
        try:
            seen["exec"] = client.containers.exec(cid, ["echo", "hi"]).stdout
            client.containers.env.patch(cid, {"GREETING": "hello"})
            seen["env"] = client.containers.env.get(cid)
            with client.containers.stream(
                cid, ["/bin/sh", "-c", "echo one; echo two >&2; exit 4"]
            ) as frames:
                seen["frames"] = [(f.type, f.data, f.code) for f in frames]
            seen["stopped"] = client.containers.stop(cid).state
            seen["started"] = client.operations.wait(
                client.containers.start(cid), timeout=60
            ).status
            seen["state"] = client.containers.get(cid).state
            try:
                client.containers.get("ctr_0000000000000000")
            except quilt.NotFound as exc:
                seen["missing"] = (exc.status_code, exc.request_id)
        finally:
            seen["deleted"] = client.containers.delete(cid).success
        try:
            client.containers.get(cid)
        except quilt.NotFound:
            seen["gone"] = True
    return seen


async def test_sync_client_over_a_real_socket(live_url: str) -> None:
    """The blocking client does the same real work over HTTP: exec, env, stream, stop, start."""
    seen = await anyio.to_thread.run_sync(sync_flow, live_url)
    assert seen["tenant"] == "ten_test"
    assert seen["exec"] == "hi\n"
    assert seen["env"] == {"GREETING": "hello"}
    frames = seen["frames"]
    assert isinstance(frames, list)
    assert frames[0][0] == "started"
    assert b"".join(d for t, d, _ in frames if t == "stdout") == b"one\n"
    assert b"".join(d for t, d, _ in frames if t == "stderr") == b"two\n"
    assert frames[-1][0] == "exit"
    assert frames[-1][2] == 4
    assert (seen["stopped"], seen["started"], seen["state"]) == ("stopped", "succeeded", "running")
    missing = seen["missing"]
    assert isinstance(missing, tuple)
    assert missing[0] == 404
    assert str(missing[1]).startswith("req_")
    assert seen["deleted"] is True
    assert seen["gone"] is True
