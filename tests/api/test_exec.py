"""Exec concern through the HTTP API: synchronous commands inside real containers."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import pytest

from helpers import create, run

pytestmark = [pytest.mark.anyio, pytest.mark.host]


@pytest.fixture
async def ctr(api: Any) -> str:
    """A running busybox container for the test."""
    response = await api.client.post(
        "/api/containers",
        json={"name": "exec-target", "image": "busybox", "environment": {"BASE": "yes"}},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["container_id"])


JSON_TYPE = {"Content-Type": "application/json"}


async def exec_(api: Any, cid: str, body: dict[str, Any]) -> Any:
    """POST an exec request."""
    return await api.client.post(f"/api/containers/{cid}/exec", json=body)


async def test_exec_returns_output_inline(api: Any, ctr: str) -> None:
    """Exec blocks until the command exits and returns stdout, stderr and the exit code."""
    response = await exec_(
        api, ctr, {"command": ["/bin/sh", "-c", "echo out; echo err >&2; exit 3"]}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["container_id"] == ctr
    assert body["stdout"] == "out\n"
    assert body["stderr"] == "err\n"
    assert body["exit_code"] == 3
    assert body["timed_out"] is False
    assert body["execution_time_ms"] >= 0


async def test_exec_honours_workdir_and_environment(api: Any, ctr: str) -> None:
    """Workdir sets the directory; request environment adds to the container's."""
    body = (
        await exec_(
            api,
            ctr,
            {
                "command": ["/bin/sh", "-c", "pwd; echo $BASE $EXTRA"],
                "workdir": "/tmp",
                "environment": {"EXTRA": "more"},
            },
        )
    ).json()
    assert body["stdout"] == "/tmp\nyes more\n"


async def test_exec_timeout_kills_the_process_group(api: Any, ctr: str) -> None:
    """A timed-out exec reports timed_out and leaves no process of it running."""
    body = (
        await exec_(
            api, ctr, {"command": ["/bin/sh", "-c", "sleep 100 & sleep 100"], "timeout_ms": 300}
        )
    ).json()
    assert body["timed_out"] is True
    assert body["exit_code"] == 137
    ps = (await exec_(api, ctr, {"command": ["ps", "-o", "args"]})).json()["stdout"]
    assert "sleep 100" not in ps


async def test_exec_output_is_capped_with_a_marker(api: Any, ctr: str) -> None:
    """Output beyond the cap is cut and marked, and the command still completes."""
    limit = api.platform.exec.output_limit
    body = (
        await exec_(
            api,
            ctr,
            {
                "command": [
                    "/bin/sh",
                    "-c",
                    f"head -c {limit * 3} /dev/zero | tr '\\0' a; echo done >&2",
                ]
            },
        )
    ).json()
    assert body["exit_code"] == 0
    assert body["stdout_truncated"] is True
    assert body["stdout"].startswith("a" * 1000)
    assert body["stdout"].endswith(f"[quilt: output truncated at {limit} bytes]\n")
    assert body["stderr"] == "done\n"


async def test_exec_survives_non_utf8_output(api: Any, ctr: str) -> None:
    """Bytes that are not UTF-8 become replacement characters, never a broken response."""
    body = (await exec_(api, ctr, {"command": ["printf", "ok\\377\\376end"]})).json()
    assert body["stdout"] == "ok\ufffd\ufffdend"


async def test_missing_binary_is_exit_127(api: Any, ctr: str) -> None:
    """A command that does not exist runs as exit code 127 with the reason on stderr."""
    body = (await exec_(api, ctr, {"command": ["/no/such/tool"]})).json()
    assert body["exit_code"] == 127
    assert "/no/such/tool" in body["stderr"]


async def test_command_as_string_is_422(api: Any, ctr: str) -> None:
    """Command must be an argv array: a string is a schema error."""
    response = await exec_(api, ctr, {"command": "echo hi"})
    assert response.status_code == 422
    body = response.json()
    assert body["error_code"] == "UNPROCESSABLE_ENTITY"
    assert "command" in body["error"]


async def test_empty_command_is_400(api: Any, ctr: str) -> None:
    """An empty argv is refused with an example of the right shape."""
    response = await exec_(api, ctr, {"command": []})
    assert response.status_code == 400
    assert "example" in response.json()["details"]


async def test_exec_answers_alike_on_the_fast_path_and_the_route(api: Any, ctr: str) -> None:
    """A plain JSON exec (answered by ExecPath) and a `+json` one (left to the route) match."""
    body = {"command": ["/bin/sh", "-c", "echo $BASE; printf 'e\\377' >&2; exit 2"]}
    fast = await exec_(api, ctr, body)
    routed = await api.client.post(
        f"/api/containers/{ctr}/exec",
        content=json.dumps(body),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    answers = [fast, routed]
    for response in answers:
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        assert response.headers["x-request-id"]
    fast_body, routed_body = (r.json() for r in answers)
    assert list(fast_body) == list(routed_body)  # the same fields, in the same order
    for varying in ("job_id", "status_url", "execution_time_ms"):
        del fast_body[varying], routed_body[varying]
    assert fast_body == routed_body
    assert (fast_body["stdout"], fast_body["stderr"], fast_body["exit_code"]) == (
        "yes\n",
        "e\ufffd",
        2,
    )


async def test_exec_refusals_are_the_routes_own(api: Any, ctr: str) -> None:
    """A bad key, a broken body or another tenant's container get the usual error envelope."""
    url = f"/api/containers/{ctr}/exec"
    cases = [
        (api.anonymous.post(url, json={"command": ["true"]}), 401, "UNAUTHORIZED"),
        (
            api.client.post(url, content=b"{not json", headers=JSON_TYPE),
            422,
            "UNPROCESSABLE_ENTITY",
        ),
        (api.client.post(url, json={"command": ["true"], "timeout_ms": -1}), 422, None),
        (api.other.post(url, json={"command": ["true"]}), 404, "NOT_FOUND"),
    ]
    for call, status, code in cases:
        response = await call
        assert response.status_code == status, response.text
        error = response.json()
        assert error["request_id"] == response.headers["x-request-id"]
        assert error["error_code"] == (code or error["error_code"])


async def test_exec_path_takes_no_other_routes_requests(api: Any) -> None:
    """The first route that matches `POST /api/containers/<id>/exec` is exec's own."""
    from quilt.api import exec as exec_routes  # noqa: PLC0415

    for path in ("/api/containers/ctr_1/exec", "/api/containers/help/exec"):
        matching = [
            route
            for router in api.app.state.routers
            for route in router.routes
            if "POST" in getattr(route, "methods", ()) and route.path_regex.match(path)
        ]
        assert matching, path
        assert matching[0].endpoint is exec_routes.run, path


async def test_processes_list_and_signal(api: Any, ctr: str) -> None:
    """Processes lists minit as pid 1 and a started process; DELETE signals it by pid."""
    await exec_(api, ctr, {"command": ["/bin/sh", "-c", "sleep 300 >/dev/null 2>&1 &"]})
    listed = (await api.client.get(f"/api/containers/{ctr}/processes")).json()["processes"]
    assert listed[0]["pid"] == 1
    assert listed[0]["command"] == "minit"
    sleeper = next(p for p in listed if p["args"][:2] == ["sleep", "300"])
    killed = await api.client.delete(
        f"/api/containers/{ctr}/processes/{sleeper['pid']}", params={"signal": "KILL"}
    )
    assert killed.status_code == 200
    assert killed.json()["signal"] == "SIGKILL"
    after = (await api.client.get(f"/api/containers/{ctr}/processes")).json()["processes"]
    assert sleeper["pid"] not in {p["pid"] for p in after}
    missing = await api.client.delete(f"/api/containers/{ctr}/processes/{sleeper['pid']}")
    assert missing.status_code == 404
    bad = await api.client.delete(f"/api/containers/{ctr}/processes/1", params={"signal": "NOPE"})
    assert bad.status_code == 400


async def test_exec_on_stopped_container_is_409_with_state(api: Any, ctr: str) -> None:
    """Exec needs a running container: otherwise 409 with details.state."""
    await api.client.post(f"/api/containers/{ctr}/stop")
    response = await exec_(api, ctr, {"command": ["true"]})
    assert response.status_code == 409
    assert response.json()["details"] == {"state": "stopped"}


async def stream_frames(
    live: Any, cid: str, body: dict[str, Any], stop_after: str | None = None
) -> list[tuple[float, dict[str, Any]]]:
    """POST /stream and return (arrival time, frame) pairs; stop early after a frame type."""
    frames: list[tuple[float, dict[str, Any]]] = []
    async with (
        asyncio.timeout(20),
        live.stream("POST", f"/api/containers/{cid}/stream", json=body) as response,
    ):
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"] == "application/x-ndjson"
        async for line in response.aiter_lines():
            if line:
                frame = json.loads(line)
                frames.append((time.perf_counter(), frame))
                if frame["type"] == stop_after:
                    break
    return frames


async def test_stream_delivers_output_as_it_is_written(api: Any, live: Any) -> None:
    """Frames arrive live: started, stdout and stderr bytes before the command ends, then exit."""
    cid = (await create(api, name="streamer"))["container_id"]
    script = "printf 'one\\n'; printf 'err\\377' >&2; sleep 1; printf two; exit 3"
    frames = await stream_frames(live, cid, {"command": ["/bin/sh", "-c", script]})
    kinds = [f["type"] for _, f in frames]
    assert kinds[0] == "started"
    assert frames[0][1]["container_id"] == cid
    assert frames[0][1]["pid"] > 1
    assert kinds[-1] == "exit"
    assert frames[-1][1]["code"] == 3
    out = b"".join(base64.b64decode(f["data_b64"]) for _, f in frames if f["type"] == "stdout")
    err = b"".join(base64.b64decode(f["data_b64"]) for _, f in frames if f["type"] == "stderr")
    assert out == b"one\ntwo"
    assert err == b"err\xff"
    first_out = next(t for t, f in frames if f["type"] == "stdout")
    assert frames[-1][0] - first_out > 0.8  # 'one' came a second before the end


async def test_stream_timeout_and_disconnect_kill_the_command(api: Any, live: Any) -> None:
    """timeout_ms ends the command with timeout then exit; a client hang-up kills it too."""
    cid = (await create(api, name="stream-kill"))["container_id"]
    frames = await stream_frames(live, cid, {"command": ["sleep", "30"], "timeout_ms": 300})
    kinds = [f["type"] for _, f in frames]
    assert kinds == ["started", "timeout", "exit"]
    assert frames[-1][1]["code"] == 137
    assert frames[-1][1]["timed_out"] is True
    await stream_frames(
        live, cid, {"command": ["/bin/sh", "-c", "exec sleep 1234"]}, stop_after="started"
    )
    for _ in range(100):
        listed = (await api.client.get(f"/api/containers/{cid}/processes")).json()["processes"]
        if not any("1234" in " ".join(p["args"]) for p in listed):
            break
        await asyncio.sleep(0.05)
    assert not any("1234" in " ".join(p["args"]) for p in listed)


async def test_stream_refuses_bad_requests_before_streaming(api: Any) -> None:
    """A stopped container, a string command and an unknown container are JSON 4xx errors."""
    cid = (await create(api, name="stream-stopped"))["container_id"]
    await api.client.post(f"/api/containers/{cid}/stop")
    cases = [
        (cid, {"command": ["true"]}, 409),
        (cid, {"command": "true"}, 422),
        ("ctr_missing", {"command": ["true"]}, 404),
    ]
    for target, body, status in cases:
        response = await api.client.post(f"/api/containers/{target}/stream", json=body)
        assert response.status_code == status, response.text
        assert response.json()["error_code"]


async def test_exec_results_are_also_legacy_jobs(api: Any) -> None:
    """An exec answers inline and names a finished job the legacy /jobs routes can read back."""
    cid = (await create(api, name="legacy-jobs"))["container_id"]
    ok = await run(api, cid, "sh", "-c", "echo job-ok")
    bad = await run(api, cid, "sh", "-c", "echo oops >&2; exit 4")
    assert ok["status"] == "completed"
    assert ok["status_url"] == f"/api/containers/{cid}/jobs/{ok['job_id']}"
    assert bad["status"] == "failed"

    job = (await api.client.get(ok["status_url"], params={"include_output": "true"})).json()
    assert (job["status"], job["exit_code"], job["stdout"]) == ("completed", 0, "job-ok\n")
    assert job["command"] == ["sh", "-c", "echo job-ok"]
    failed = (await api.client.get(bad["status_url"])).json()
    assert (failed["status"], failed["exit_code"], failed["stderr"]) == ("failed", 4, "oops\n")
    listed = (await api.client.get(f"/api/containers/{cid}/jobs")).json()
    assert [j["job_id"] for j in listed["jobs"]] == [bad["job_id"], ok["job_id"]]
    assert listed["jobs"][0]["stdout"] is None
    assert (await api.other.get(ok["status_url"])).status_code == 404
    missing = await api.client.get(f"/api/containers/{cid}/jobs/job_missing")
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "NOT_FOUND"
