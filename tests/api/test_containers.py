"""Containers concern through the HTTP API, on real runc containers."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from helpers import create, run, wait_operation, wait_state

pytestmark = [pytest.mark.anyio, pytest.mark.host]


async def test_create_returns_running_exec_ready_status(api: Any) -> None:
    """Create answers 201 with a running, exec-ready container that has a real address."""
    body = await create(api, name="ready-one", labels={"team": "qa"})
    assert body["state"] == "running"
    assert body["exec_ready"] is True
    assert body["network_ready"] is True
    assert body["checks"] == {
        "state_running": True,
        "minit_responsive": True,
        "network_configured": True,
        "managed_image_valid": True,
        "gui_backend_reachable": None,
    }
    assert body["container_id"].startswith("ctr_")
    assert body["tenant_id"] == "ten_test"
    assert body["labels"] == {"team": "qa"}
    assert body["ip_address"].startswith(api.settings.subnet.rsplit(".", 2)[0])
    assert body["pid"] > 1
    for spec_field in ("image", "command", "environment", "volumes"):
        assert spec_field not in body


async def test_container_sees_its_address_and_hostname(api: Any) -> None:
    """Inside the container, eth0 has the reported address and the hostname is the id."""
    body = await create(api, name="netcheck")
    out = await run(api, body["container_id"], "/bin/sh", "-c", "ip -4 addr show eth0; hostname")
    assert body["ip_address"] in out["stdout"]
    assert out["stdout"].strip().endswith(body["container_id"])


async def test_main_command_runs_with_environment_and_workdir(api: Any) -> None:
    """The main command sees the environment and working directory, and its output is in logs."""
    body = await create(
        api,
        name="main-cmd",
        command=["/bin/sh", "-c", 'echo "foo=$FOO pwd=$(pwd)"; echo oops >&2; sleep 60'],
        environment={"FOO": "bar"},
        working_directory="/app/work",
    )
    for _ in range(100):
        logs = (await api.client.get(f"/api/containers/{body['container_id']}/logs")).json()["logs"]
        if len(logs) >= 2:
            break
        await asyncio.sleep(0.02)
    messages = {(entry["stream"], entry["message"]) for entry in logs}
    assert ("stdout", "foo=bar pwd=/app/work") in messages
    assert ("stderr", "oops") in messages
    assert body["working_directory"] == "/app/work"
    limited = await api.client.get(
        f"/api/containers/{body['container_id']}/logs", params={"limit": 1}
    )
    assert len(limited.json()["logs"]) == 1


async def test_command_that_ends_moves_container_to_exited(api: Any) -> None:
    """A main command that exits on its own leaves the container exited with its code."""
    body = await create(api, name="short", command=["/bin/sh", "-c", "exit 7"])
    final = await wait_state(api, body["container_id"], {"exited"})
    assert final["state"] == "exited"
    assert final["exit_code"] == 7
    assert final["exec_ready"] is False
    refused = await api.client.post(
        f"/api/containers/{body['container_id']}/exec", json={"command": ["true"]}
    )
    assert refused.status_code == 409
    assert refused.json()["details"]["state"] == "exited"


async def test_list_filters_by_state_and_tenant(api: Any) -> None:
    """List shows only the caller's containers and honours ?state=."""
    running = await create(api, name="lister-a")
    done = await create(api, name="lister-b", command=["true"])
    await wait_state(api, done["container_id"], {"exited"})
    all_ids = {
        c["container_id"] for c in (await api.client.get("/api/containers")).json()["containers"]
    }
    assert {running["container_id"], done["container_id"]} <= all_ids
    exited = (await api.client.get("/api/containers", params={"state": "exited"})).json()[
        "containers"
    ]
    assert [c["container_id"] for c in exited] == [done["container_id"]]
    other = (await api.other.get("/api/containers")).json()["containers"]
    assert other == []
    bad = await api.client.get("/api/containers", params={"state": "sleeping"})
    assert bad.status_code == 400


async def test_other_tenant_sees_not_found(api: Any) -> None:
    """Another tenant's container answers 404 exactly like a missing one."""
    body = await create(api, name="private")
    cid = body["container_id"]
    for method, path in (
        ("GET", f"/api/containers/{cid}"),
        ("GET", f"/api/containers/{cid}/ready"),
        ("POST", f"/api/containers/{cid}/stop"),
        ("DELETE", f"/api/containers/{cid}"),
        ("GET", "/api/containers/by-name/private"),
    ):
        theirs = await api.other.request(method, path)
        missing = await api.client.request(
            method, path.replace(cid, "ctr_0000000000000000").replace("private", "nothing-here")
        )
        assert theirs.status_code == missing.status_code == 404
        assert theirs.json()["error_code"] == "NOT_FOUND"
    assert (await api.client.get(f"/api/containers/{cid}")).status_code == 200


async def test_by_name_resolves_and_rename_accepts_both_fields(api: Any) -> None:
    """by-name resolves the id; rename takes new_name or name and refuses a taken name."""
    body = await create(api, name="before")
    cid = body["container_id"]
    found = (await api.client.get("/api/containers/by-name/before")).json()
    assert found == {"container_id": cid, "found": True}
    renamed = await api.client.post(f"/api/containers/{cid}/rename", json={"new_name": "after"})
    assert renamed.json()["old_name"] == "before"
    assert renamed.json()["new_name"] == "after"
    again = await api.client.post(f"/api/containers/{cid}/rename", json={"name": "after-2"})
    assert again.status_code == 200
    assert (await api.client.get(f"/api/containers/{cid}")).json()["name"] == "after-2"
    await create(api, name="taken")
    clash = await api.client.post(f"/api/containers/{cid}/rename", json={"new_name": "taken"})
    assert clash.status_code == 409
    assert (await api.client.get("/api/containers/by-name/before")).status_code == 404


async def test_routes_take_a_container_name_where_an_id_goes(api: Any) -> None:
    """`/api/containers/<name>/…` finds the tenant's container of that name; others' stay hidden."""
    cid = (await create(api, name="by-handle"))["container_id"]
    detail = await api.client.get("/api/containers/by-handle")
    assert detail.json()["container_id"] == cid
    ran = await api.client.post("/api/containers/by-handle/exec", json={"command": ["hostname"]})
    assert ran.json()["exit_code"] == 0
    assert (await api.other.get("/api/containers/by-handle")).status_code == 404


async def test_duplicate_name_is_conflict_and_leaves_nothing(api: Any) -> None:
    """A second container with a taken name is refused with 409 and creates nothing."""
    await create(api, name="twin")
    before = api.platform.node.hosted()
    second = await api.client.post("/api/containers", json={"name": "twin", "image": "busybox"})
    assert second.status_code == 409
    assert api.platform.node.hosted() == before


async def test_stop_then_start_keeps_the_filesystem(api: Any) -> None:
    """Stop ends the container; start (an operation) runs it again with its files intact."""
    body = await create(api, name="keeper")
    cid = body["container_id"]
    await run(api, cid, "/bin/sh", "-c", "echo kept > /data.txt")
    stopped = await api.client.post(f"/api/containers/{cid}/stop")
    assert stopped.status_code == 200
    assert stopped.json()["state"] == "stopped"
    assert stopped.json()["exec_ready"] is False
    receipt = await api.client.post(f"/api/containers/{cid}/start")
    assert receipt.status_code == 202
    op = await wait_operation(api, receipt.json()["status_url"])
    assert op["status"] == "succeeded", op
    assert op["result"]["container_id"] == cid
    assert [p["name"] for p in op["phases"]][-1] == "minit"
    out = await run(api, cid, "cat", "/data.txt")
    assert out["stdout"] == "kept\n"
    assert (await api.client.get(f"/api/containers/{cid}")).json()["state"] == "running"


async def test_stop_escalates_to_sigkill_after_grace(api: Any) -> None:
    """A main command that ignores SIGTERM is killed after the grace period."""
    body = await create(
        api,
        name="stubborn",
        command=["/bin/sh", "-c", "trap '' TERM; while true; do sleep 1; done"],
    )
    started = asyncio.get_running_loop().time()
    stopped = await api.client.post(f"/api/containers/{body['container_id']}/stop")
    elapsed = asyncio.get_running_loop().time() - started
    assert stopped.json()["state"] == "stopped"
    assert elapsed >= api.settings.stop_grace_seconds * 0.9


async def test_kill_is_immediate_and_resume_restarts_main(api: Any) -> None:
    """Kill stops at once; resume starts the main command afresh."""
    body = await create(
        api, name="killme", command=["/bin/sh", "-c", "echo boot >> /boots; sleep 300"]
    )
    cid = body["container_id"]
    killed = await api.client.post(f"/api/containers/{cid}/kill")
    assert killed.json()["state"] == "stopped"
    assert killed.json()["exit_code"] == 137
    receipt = await api.client.post(
        f"/api/containers/{cid}/resume", json={"resume_policy": "immediate"}
    )
    op = await wait_operation(api, receipt.json()["status_url"])
    assert op["status"] == "succeeded"
    out = await run(api, cid, "cat", "/boots")
    assert out["stdout"] == "boot\nboot\n"


async def test_start_of_running_container_is_conflict(api: Any) -> None:
    """Start on a running container is refused before any operation exists."""
    body = await create(api, name="already")
    response = await api.client.post(f"/api/containers/{body['container_id']}/start")
    assert response.status_code == 409
    assert response.json()["details"]["state"] == "running"


async def test_delete_removes_every_host_resource(api: Any) -> None:
    """Delete leaves no runtime state, namespace, mount, layer or directory behind."""
    body = await create(api, name="doomed")
    cid = body["container_id"]
    node = api.platform.node
    paths = node.layout.container(cid)
    assert cid in node.hosted()
    response = await api.client.delete(f"/api/containers/{cid}")
    assert response.status_code == 200
    assert response.json()["container_id"] == cid
    assert cid not in node.hosted()
    assert not paths.root.exists()
    assert str(paths.rootfs) not in Path("/proc/self/mounts").read_text()
    assert not node.storage.exists(node.layout.layer(cid))
    assert cid not in node.store.addresses.owners()
    assert (await api.client.get(f"/api/containers/{cid}")).status_code == 404


async def test_metrics_reflect_limits_and_usage(api: Any) -> None:
    """Metrics come from the cgroups: the memory limit is the requested one and pids count."""
    body = await create(
        api, name="metered", memory_limit_mb=64, cpu_limit_percent=50, command=["sleep", "300"]
    )
    metrics = (await api.client.get(f"/api/containers/{body['container_id']}/metrics")).json()
    assert metrics["memory_limit_bytes"] == 64 * 1024 * 1024
    assert metrics["pids_current"] >= 2
    assert metrics["memory_current_bytes"] > 0
    assert metrics["cpu_limit_percent"] == 50


async def test_memory_limit_is_enforced(api: Any) -> None:
    """A process that allocates beyond memory_limit_mb is OOM-killed."""
    body = await create(api, name="tight", memory_limit_mb=32)
    out = await run(
        api,
        body["container_id"],
        "/bin/sh",
        "-c",
        "dd if=/dev/zero of=/dev/null bs=64M count=1 && echo survived",
    )
    assert out["exit_code"] != 0
    assert "survived" not in out["stdout"]


async def test_cpu_limit_is_enforced(api: Any) -> None:
    """A busy loop under a 20 % limit gets about 20 % of one CPU."""
    body = await create(api, name="throttled", cpu_limit_percent=20)
    cid = body["container_id"]
    before = (await api.client.get(f"/api/containers/{cid}/metrics")).json()["cpu_usage_usec"]
    await run(api, cid, "/bin/sh", "-c", "timeout 1 sh -c 'while :; do :; done'")
    after = (await api.client.get(f"/api/containers/{cid}/metrics")).json()
    used = (after["cpu_usage_usec"] - before) / 1_000_000
    assert 0.1 < used < 0.35
    assert after["cpu_throttled_usec"] > 0


async def test_strict_hardens_the_container(api: Any) -> None:
    """Strict drops capabilities, sets no_new_privs and blocks denied syscalls; it is echoed."""
    body = await create(api, name="hardened", strict=True)
    assert body["strict"] is True
    status = await run(api, body["container_id"], "cat", "/proc/self/status")
    fields = dict(line.split(":\t", 1) for line in status["stdout"].splitlines() if ":\t" in line)
    assert fields["NoNewPrivs"].strip() == "1"
    assert fields["Seccomp"].strip() == "2"
    assert int(fields["CapEff"], 16) & (1 << 13) == 0  # CAP_NET_RAW dropped
    denied = await run(api, body["container_id"], "unshare", "-n", "true")
    assert denied["exit_code"] != 0
    relaxed = await create(api, name="relaxed")
    loose = await run(api, relaxed["container_id"], "cat", "/proc/self/status")
    assert "NoNewPrivs:\t0" in loose["stdout"]


async def test_proc_sys_is_read_only(api: Any) -> None:
    """No container can write host-wide kernel settings through /proc/sys."""
    body = await create(api, name="sysctl")
    out = await run(api, body["container_id"], "/bin/sh", "-c", "echo 1 > /proc/sys/kernel/sysrq")
    assert out["exit_code"] != 0


async def test_environment_routes_replace_and_merge(api: Any) -> None:
    """PUT replaces and PATCH merges the environment, and new execs see it at once."""
    body = await create(api, name="envy", environment={"A": "1", "B": "2"})
    cid = body["container_id"]
    assert (await api.client.get(f"/api/containers/{cid}/env")).json() == {
        "environment": {"A": "1", "B": "2"}
    }
    await api.client.patch(f"/api/containers/{cid}/env", json={"environment": {"B": "3", "C": "4"}})
    assert (await api.client.get(f"/api/containers/{cid}/env")).json()["environment"] == {
        "A": "1",
        "B": "3",
        "C": "4",
    }
    await api.client.put(f"/api/containers/{cid}/env", json={"environment": {"Z": "9"}})
    out = await run(api, cid, "/bin/sh", "-c", 'echo "$A|$B|$Z"')
    assert out["stdout"] == "||9\n"
    bad = await api.client.put(f"/api/containers/{cid}/env", json={"environment": {"1BAD": "x"}})
    assert bad.status_code == 400


async def test_batch_create_reports_each_item(api: Any) -> None:
    """Batch create runs as an operation whose items say what happened to each container."""
    await create(api, name="batch-taken")
    receipt = await api.client.post(
        "/api/containers/batch",
        json={
            "items": [
                {"name": "batch-1", "image": "busybox"},
                {"name": "batch-taken", "image": "busybox"},
            ]
        },
    )
    assert receipt.status_code == 202
    op = await wait_operation(api, receipt.json()["status_url"])
    assert op["status"] == "failed"
    assert op["reason_code"] == "PARTIAL_FAILURE"
    statuses = {item["name"]: item["status"] for item in op["items"]}
    assert statuses == {"batch-1": "succeeded", "batch-taken": "failed"}
    made = (await api.client.get("/api/containers/by-name/batch-1")).json()["container_id"]
    assert (await run(api, made, "true"))["exit_code"] == 0


async def test_async_execution_answers_with_receipts(api: Any) -> None:
    """?execution=async on create, stop and delete answers 202 with an operation receipt."""
    receipt = await api.client.post(
        "/api/containers?execution=async", json={"name": "later", "image": "busybox"}
    )
    assert receipt.status_code == 202
    op = await wait_operation(api, receipt.json()["status_url"])
    cid = op["result"]["container_id"]
    stop = await api.client.post(f"/api/containers/{cid}/stop?execution=async")
    assert (await wait_operation(api, stop.json()["status_url"]))["result"]["state"] == "stopped"
    gone = await api.client.delete(f"/api/containers/{cid}?execution=async")
    assert (await wait_operation(api, gone.json()["status_url"]))["status"] == "succeeded"
    assert (await api.client.get(f"/api/containers/{cid}")).status_code == 404


async def test_stop_keeps_a_zero_exit_code(api: Any) -> None:
    """A main command that exits 0 on SIGTERM is recorded with exit code 0, not lost."""
    body = await create(
        api, name="polite", command=["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 300 & wait"]
    )
    stopped = (await api.client.post(f"/api/containers/{body['container_id']}/stop")).json()
    assert stopped["state"] == "stopped"
    assert stopped["exit_code"] == 0
