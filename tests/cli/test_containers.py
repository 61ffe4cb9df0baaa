"""`quilt containers` drives real containers through the SDK: tables for people, wire JSON."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from cli.conftest import shown, unique

if TYPE_CHECKING:
    import httpx

    from cli.conftest import Cli

pytestmark = [pytest.mark.anyio, pytest.mark.host]


async def test_a_container_goes_through_its_life(cli: Cli, live: httpx.AsyncClient) -> None:
    """Create, list, get, ready, logs, metrics, rename, env, stop, start --wait and rm all act."""
    name, renamed = unique("life"), unique("renamed")
    made = json.loads(
        await cli.ok(
            "containers", "create", name, "--image", "busybox", "-e", "KEEP=1",
            "-l", "team=qa", "--json", "--", "/bin/sh", "-c", "echo booted; exec sleep 600",
        )
    )  # fmt: skip
    cid = made["container_id"]
    assert (made["name"], made["state"], made["exec_ready"]) == (name, "running", True)

    listed = await cli.ok("containers", "ls")
    row = next(line for line in listed.splitlines() if cid in line)
    assert row.split()[:3] == [name, cid, "running"]
    assert "STATE" in listed.splitlines()[0]

    status = shown(await cli.ok("containers", "get", name))
    assert (status["container_id"], status["labels"]) == (cid, "team=qa")
    assert shown(await cli.ok("containers", "ready", cid))["exec_ready"] == "yes"
    assert "booted" in (await cli.ok("containers", "logs", name)).splitlines()
    assert "pids    " in await cli.ok("containers", "metrics", name)

    assert (await cli.ok("containers", "rename", name, renamed)).strip() == f"{name} → {renamed}"
    assert (await cli.ok("containers", "env", "set", renamed, "A=1")).splitlines() == [
        "KEEP=1",
        "A=1",
    ]
    assert (await cli.ok("containers", "env", "get", renamed)).splitlines() == ["KEEP=1", "A=1"]

    assert (await cli.ok("containers", "stop", renamed)).strip() == f"{renamed} stopped"
    started = await cli("containers", "start", renamed, "--wait")
    assert started.exit_code == 0, started.stderr
    assert " succeeded in " in started.stdout
    assert "✓ runtime" in started.stderr  # phases shown as they finish
    assert (await live.get(f"/api/containers/{cid}")).json()["state"] == "running"

    assert (await cli.ok("containers", "rm", renamed)).strip() == f"deleted {cid}"
    assert (await live.get(f"/api/containers/{cid}")).status_code == 404


async def test_json_prints_the_servers_answer_as_it_came(cli: Cli, live: httpx.AsyncClient) -> None:
    """`--json` output is byte for byte what the route answers, not a re-serialised model."""
    name = unique("wire")
    created = await cli.ok("containers", "create", name, "--image", "busybox", "--json")
    cid = json.loads(created)["container_id"]
    try:
        printed = (await cli.ok("containers", "ready", cid, "--json")).strip()
        direct = (await live.get(f"/api/containers/{cid}/ready")).text
        assert json.loads(printed).keys() == json.loads(direct).keys()
        assert printed == direct.strip()
        conflict = await cli("containers", "start", cid, "--json")
        assert (conflict.exit_code, conflict.stdout) == (1, "")  # errors never go to stdout
    finally:
        await live.delete(f"/api/containers/{cid}")


async def test_errors_print_the_message_and_code_and_exit_non_zero(cli: Cli) -> None:
    """A refused request prints `Error: <message> [CODE]` on stderr and exits 1."""
    missing = await cli("containers", "get", "no-such-box")
    assert missing.exit_code == 1
    assert missing.stdout == ""
    assert missing.stderr.strip() == "Error: container no-such-box does not exist [NOT_FOUND]"

    name = unique("running")
    await cli.ok("containers", "create", name, "--image", "busybox")
    conflict = await cli("containers", "start", name)
    assert conflict.exit_code == 1
    assert conflict.stderr.startswith("Error: cannot start container ")
    assert conflict.stderr.rstrip().endswith("[CONFLICT]")
    partly = await cli("containers", "rm", "no-such-box", name)  # every name is tried
    assert (partly.exit_code, partly.stdout.split()[0]) == (1, "deleted")
    assert partly.stderr.strip() == "Error: container no-such-box does not exist [NOT_FOUND]"
    assert "no containers" in (await cli("containers", "ls")).stderr


async def test_a_bad_key_or_an_absent_server_is_a_clear_error(cli: Cli) -> None:
    """A wrong key is UNAUTHORIZED and a closed port CONNECTION_ERROR, both exit 1."""
    refused = await cli("containers", "ls", QUILT_API_KEY="quilt_sk_wrong")
    assert (refused.exit_code, refused.stderr.strip()) == (
        1,
        "Error: invalid API key [UNAUTHORIZED]",
    )
    gone = await cli("containers", "ls", QUILT_URL="http://127.0.0.1:9")
    assert gone.exit_code == 1
    assert gone.stderr.rstrip().endswith("[CONNECTION_ERROR]")


async def test_bad_flags_are_usage_errors_before_any_request(cli: Cli) -> None:
    """A malformed KEY=VALUE is refused by the CLI itself with exit 2 and nothing is created."""
    result = await cli("containers", "create", unique("bad"), "-e", "NOEQUALS")
    assert result.exit_code == 2
    assert "'NOEQUALS' is not KEY=VALUE" in result.stderr
    assert "no containers" in (await cli("containers", "ls")).stderr
