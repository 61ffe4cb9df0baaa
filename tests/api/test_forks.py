"""Forks through the HTTP API: writable branches of live containers."""

from __future__ import annotations

from typing import Any

import pytest

from helpers import create, follow, run

pytestmark = [pytest.mark.anyio, pytest.mark.host]

TENANT = {"X-Tenant-Id": "ten_test"}


async def fork(api: Any, container_id: str, **body: Any) -> dict[str, Any]:
    """Fork a container and return the finished operation."""
    url = f"/api/containers/{container_id}/fork"
    return await follow(api, "POST", url, json=body, headers=TENANT)


async def test_fork_copies_files_and_config_and_then_diverges(api: Any) -> None:
    """A fork has the parent's files, env, workdir, limits and labels; later writes stay apart."""
    parent = await create(
        api,
        name="fork-parent",
        environment={"MODE": "test"},
        working_directory="/srv",
        memory_limit_mb=256,
        labels={"team": "qa"},
    )
    pid = parent["container_id"]
    await run(api, pid, "/bin/sh", "-c", "echo base > /srv/state")
    op = await fork(api, pid, name="fork-child")
    assert op["status"] == "succeeded", op
    child = op["result"]["container_id"]
    assert op["result"]["parent_container_id"] == pid
    assert {"freeze", "capture", "thaw"} <= {p["name"] for p in op["phases"]}
    status = (await api.client.get(f"/api/containers/{child}")).json()
    assert status["state"] == "running"
    assert status["exec_ready"] is True
    assert status["name"] == "fork-child"
    assert status["labels"] == {"team": "qa"}
    assert status["memory_limit_mb"] == 256
    assert status["working_directory"] == "/srv"
    assert status["ip_address"] != parent["ip_address"]
    shown = await run(api, child, "/bin/sh", "-c", "cat state; echo $MODE; pwd")
    assert shown["stdout"] == "base\ntest\n/srv\n"
    await run(api, child, "/bin/sh", "-c", "echo child > /srv/state")
    await run(api, pid, "/bin/sh", "-c", "echo parent > /srv/state")
    assert (await run(api, child, "cat", "/srv/state"))["stdout"] == "child\n"
    assert (await run(api, pid, "cat", "/srv/state"))["stdout"] == "parent\n"
    parent_now = (await api.client.get(f"/api/containers/{pid}")).json()
    assert parent_now["state"] == "running"
    assert parent_now["pid"] == parent["pid"]  # the parent was paused, never restarted


async def test_fork_restarts_the_main_command_in_the_child(api: Any) -> None:
    """The child's main command starts afresh on the copied filesystem (memory is not carried)."""
    parent = await create(
        api,
        name="counter",
        command=["/bin/sh", "-c", "echo start >> /log; sleep 300"],
    )
    pid = parent["container_id"]
    op = await fork(api, pid, name="counter-fork")
    child = op["result"]["container_id"]
    for _ in range(100):
        log = (await run(api, child, "cat", "/log"))["stdout"]
        if log.count("start") == 2:
            break
    assert log == "start\nstart\n"


async def test_many_forks_share_one_capture(api: Any) -> None:
    """`count` makes that many children from one pause of the parent, and drops the capture."""
    pid = (await create(api, name="multi"))["container_id"]
    await run(api, pid, "/bin/sh", "-c", "echo shared > /shared")
    op = await fork(api, pid, name="trial", count=5)
    assert op["status"] == "succeeded", op
    ids = op["result"]["container_ids"]
    assert len(set(ids)) == 5
    assert [p["name"] for p in op["phases"]].count("freeze") == 1
    names = [(await api.client.get(f"/api/containers/{c}")).json()["name"] for c in ids]
    assert names == [f"trial-{i}" for i in range(1, 6)]
    assert op["result"]["names"] == names
    for cid in ids:
        assert (await run(api, cid, "cat", "/shared"))["stdout"] == "shared\n"
    assert api.platform.node.stored_layers("captures") == set()


async def test_manual_fork_is_created_not_running(api: Any) -> None:
    """`resume_policy: manual` leaves the fork created until it is started."""
    pid = (await create(api, name="manual-parent"))["container_id"]
    op = await fork(api, pid, name="manual-fork", resume_policy="manual")
    child = op["result"]["container_id"]
    assert (await api.client.get(f"/api/containers/{child}")).json()["state"] == "created"


async def test_fork_rules_are_checked_before_any_operation(api: Any) -> None:
    """Bad policy, count or taken names are refused at request time; the header is required."""
    pid = (await create(api, name="rules-parent"))["container_id"]
    await create(api, name="rules-taken-1")
    url = f"/api/containers/{pid}/fork"
    cases = [
        ({"resume_policy": "eventually"}, 422),
        ({"count": 0}, 422),
        ({"count": 101}, 422),
        ({"consistency_mode": "x"}, 422),
        ({"name": "rules-taken", "count": 2}, 409),
        ({"name": "bad name!"}, 400),
    ]
    for body, status in cases:
        response = await api.client.post(url, json=body, headers=TENANT)
        assert response.status_code == status, (body, response.text)
    assert (await api.client.post(url, json={})).status_code == 400
    other = await api.client.post(url, json={}, headers={"X-Tenant-Id": "ten_other"})
    assert other.status_code == 403
    missing = await api.client.post(
        "/api/containers/ctr_0000000000000000/fork", json={}, headers=TENANT
    )
    assert missing.status_code == 404
