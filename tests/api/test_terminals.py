"""Terminal sessions over a real WebSocket: a real PTY in a real container, attach and replay."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import signal
import struct
import sys
import termios
from typing import TYPE_CHECKING, Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from conftest import API_KEY
from helpers import create

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

pytestmark = [pytest.mark.anyio, pytest.mark.host]


def ws_base(live: Any) -> str:
    """ws:// of the live server."""
    return str(live.base_url).replace("http://", "ws://").rstrip("/")


async def read_until(ws: ClientConnection, needle: bytes) -> bytes:
    """Terminal bytes up to `needle` (control messages are skipped), 10 s at most."""
    seen = b""
    async with asyncio.timeout(10):
        while needle not in seen:
            message = await ws.recv()
            if isinstance(message, bytes):
                seen += message
    return seen


async def control(ws: ClientConnection, kind: str) -> dict[str, Any]:
    """The next control message of type `kind` (bytes before it are skipped)."""
    async with asyncio.timeout(10):
        while True:
            message = await ws.recv()
            if isinstance(message, str) and json.loads(message)["type"] == kind:
                return dict(json.loads(message))


async def open_session(api: Any, live: Any, cid: str, **body: Any) -> dict[str, Any]:
    """POST a session on the live server and return it."""
    response = await live.post("/api/terminal/sessions", json={"container_id": cid, **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_a_terminal_is_a_real_tty_you_can_type_into(api: Any, live: Any) -> None:
    """Typed bytes reach a shell on a real tty; resize, ping, Ctrl-C and exit all work."""
    cid = (await create(api, name="term"))["container_id"]
    session = await open_session(api, live, cid, cols=90, rows=30)
    assert session["state"] == "ready"
    assert session["attach_url"].startswith(f"{ws_base(live)}/ws/terminal/attach?session_id=")
    headers = {"X-Api-Key": API_KEY}
    async with connect(
        session["attach_url"], subprotocols=["terminal"], additional_headers=headers
    ) as ws:
        assert ws.subprotocol == "terminal"
        ready = json.loads(await ws.recv())
        assert ready["type"] == "ready"
        assert ready["session_id"] == session["session_id"]
        await ws.send(b"tty; stty size; echo sum-$((40+2))\n")
        seen = await read_until(ws, b"sum-42")
        assert b"/dev/pts/" in seen
        assert b"30 90" in seen
        await ws.send(json.dumps({"type": "resize", "cols": 120, "rows": 40}))
        await ws.send(b"stty size\n")
        await read_until(ws, b"40 120")
        await ws.send(json.dumps({"type": "ping", "ts": 7}))
        assert (await control(ws, "pong"))["ts"] == 7
        await ws.send(b"sleep 100\n")
        await asyncio.sleep(0.3)
        await ws.send(json.dumps({"type": "signal", "signal": "SIGINT"}))
        await ws.send(b"echo code-$?\n")
        await read_until(ws, b"code-130")
        detail = (await live.get(f"/api/terminal/sessions/{session['session_id']}")).json()
        assert (detail["state"], detail["attached_clients"]) == ("active", 1)
        await ws.send(b"exit 5\n")
        assert (await control(ws, "exit"))["code"] == 5
    ended = (await live.get(f"/api/terminal/sessions/{session['session_id']}")).json()
    assert (ended["state"], ended["exit_code"]) == ("terminated", 5)


async def test_sessions_survive_a_dropped_connection_and_replay(api: Any, live: Any) -> None:
    """After a disconnect the shell lives on; re-attaching replays output; two clients share it."""
    cid = (await create(api, name="term-replay"))["container_id"]
    url = f"{ws_base(live)}/ws/terminal/attach?container_id={cid}&cols=80&rows=24&token={API_KEY}"
    async with connect(url, subprotocols=["terminal"]) as ws:
        session_id = json.loads(await ws.recv())["session_id"]
        await ws.send(b"export KEPT=yes; echo marker-$((6*7))\n")
        await read_until(ws, b"marker-42")
    for _ in range(50):
        state = (await live.get(f"/api/terminal/sessions/{session_id}")).json()["state"]
        if state == "idle":
            break
        await asyncio.sleep(0.05)
    assert state == "idle"
    again = f"{ws_base(live)}/ws/terminal/attach?session_id={session_id}&token={API_KEY}"
    async with (
        connect(again, subprotocols=["terminal"]) as first,
        connect(again, subprotocols=["terminal"]) as second,
    ):
        assert json.loads(await first.recv())["type"] == "ready"
        assert b"marker-42" in await read_until(first, b"marker-42")  # the scrollback
        await read_until(second, b"marker-42")
        await first.send(b"echo still-$KEPT\n")
        await read_until(first, b"still-yes")
        await read_until(second, b"still-yes")  # the same screen for both
    assert (await live.delete(f"/api/terminal/sessions/{session_id}")).json()["success"] is True
    assert (await live.get(f"/api/terminal/sessions/{session_id}")).status_code == 404


async def test_refused_upgrades_answer_with_the_error_body(api: Any, live: Any) -> None:
    """No subprotocol, no key, or an unknown session: an HTTP error with the JSON body."""
    base = f"{ws_base(live)}/ws/terminal/attach"
    cases = [
        (f"{base}?session_id=term_nope&token={API_KEY}", ["terminal"], 404, "NOT_FOUND"),
        (f"{base}?session_id=term_nope", ["terminal"], 401, "UNAUTHORIZED"),
        (f"{base}?session_id=term_nope&token={API_KEY}", None, 400, "BAD_REQUEST"),
        (f"{base}?container_id=ctr_nope&token={API_KEY}", ["terminal"], 404, "NOT_FOUND"),
    ]
    for url, protocols, status, code in cases:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url, subprotocols=protocols):
                pass
        response = refused.value.response
        assert response.status_code == status, url
        assert json.loads(response.body)["error_code"] == code


async def test_idle_sessions_end_and_container_stop_ends_sessions(
    api: Any, live: Any, monkeypatch: Any
) -> None:
    """Nobody attached past the idle timeout ends a session; stopping the container ends one."""
    monkeypatch.setattr(api.platform.settings, "terminal_idle_seconds", 0.3)
    cid = (await create(api, name="term-idle"))["container_id"]
    idle = await open_session(api, live, cid)
    monkeypatch.setattr(api.platform.settings, "terminal_idle_seconds", 600)
    busy = await open_session(api, live, cid)
    for _ in range(60):
        got = (await live.get(f"/api/terminal/sessions/{idle['session_id']}")).json()
        if got["state"] == "terminated":
            break
        await asyncio.sleep(0.1)
    assert got["state"] == "terminated"
    await api.client.post(f"/api/containers/{cid}/stop")
    for _ in range(60):
        got = (await live.get(f"/api/terminal/sessions/{busy['session_id']}")).json()
        if got["state"] in ("terminated", "error"):
            break
        await asyncio.sleep(0.1)
    assert got["state"] in ("terminated", "error")


async def test_bad_session_requests_are_clear_4xx(api: Any, live: Any, monkeypatch: Any) -> None:
    """Bad sizes, shells, targets, stopped containers and the per-tenant cap get 4xx."""
    cid = (await create(api, name="term-bad"))["container_id"]
    stopped = (await create(api, name="term-stopped"))["container_id"]
    await api.client.post(f"/api/containers/{stopped}/stop")
    cases = [
        ({"container_id": cid, "cols": 0}, 400),
        ({"container_id": cid, "shell": "/bin/nope"}, 400),
        ({"container_id": cid, "shell": "sh -c x"}, 400),
        ({"container_id": cid, "target": "master"}, 400),
        ({"container_id": stopped}, 409),
        ({"container_id": "ctr_nope"}, 404),
        ({"container_id": cid, "cols": "80"}, 422),
    ]
    for body, status in cases:
        response = await live.post("/api/terminal/sessions", json=body)
        assert response.status_code == status, (body, response.text)
    monkeypatch.setattr(api.platform.settings, "terminal_sessions_per_tenant", 1)
    await open_session(api, live, cid)
    capped = await live.post("/api/terminal/sessions", json={"container_id": cid})
    assert capped.status_code == 429
    assert capped.json()["error_code"] == "LIMIT_REACHED"
    listed = (await live.get("/api/terminal/sessions?target=container")).json()["sessions"]
    open_now = [s["container_id"] for s in listed if s["state"] not in ("terminated", "error")]
    assert open_now == [cid]
    other = (await api.other.get("/api/terminal/sessions")).json()["sessions"]
    assert other == []


async def test_quilt_shell_on_a_local_terminal_follows_its_size(api: Any, live: Any) -> None:
    """On a real local tty, `quilt shell` starts at its size and follows SIGWINCH resizes."""
    await create(api, name="cli-winch", image="prod")
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 31, 97, 0, 0))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "quilt.cli.main",
        "--url",
        str(live.base_url),
        "shell",
        "cli-winch",
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "QUILT_API_KEY": API_KEY},
        start_new_session=True,
    )
    os.close(slave)
    loop = asyncio.get_running_loop()

    async def read_until(needle: bytes) -> bytes:
        seen = b""
        try:
            async with asyncio.timeout(15):
                while needle not in seen:
                    seen += await loop.run_in_executor(None, os.read, master, 65536)
        except TimeoutError:
            raise AssertionError(f"{needle!r} never came: {seen!r}") from None
        return seen

    try:
        await read_until(b"# ")  # bash's prompt: the remote shell is ready
        os.write(master, b"stty size\r")
        await read_until(b"31 97")
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 44, 133, 0, 0))
        proc.send_signal(signal.SIGWINCH)
        await asyncio.sleep(0.3)
        os.write(master, b"stty size\r")
        await read_until(b"44 133")
        os.write(master, b"exit 3\r")
        assert await asyncio.wait_for(proc.wait(), 15) == 3
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        os.close(master)


async def test_input_sent_before_ready_is_not_lost(api: Any, live: Any) -> None:
    """Bytes and a resize sent right after the upgrade, before `ready`, reach the new shell."""
    cid = (await create(api, name="term-early"))["container_id"]
    url = f"{ws_base(live)}/ws/terminal/attach?container_id={cid}&cols=80&rows=24&token={API_KEY}"
    async with connect(url, subprotocols=["terminal"]) as ws:
        await ws.send(json.dumps({"type": "resize", "cols": 101, "rows": 33}))
        await ws.send(b"stty size; echo early-$((20+22))\n")
        assert (await control(ws, "ready"))["type"] == "ready"
        seen = await read_until(ws, b"early-42")
        assert b"33 101" in seen
        await ws.send(b"exit\n")
        await control(ws, "exit")
