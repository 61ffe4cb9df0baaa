"""Egress: with QUILT_EGRESS=nat, containers' traffic leaves by the uplink, masqueraded.

The "outside" is a network namespace this test makes, joined to the host by a veth pair that
serves as the server's uplink: no packet goes anywhere but interfaces the test created.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
from typing import TYPE_CHECKING, Any

import pytest

from conftest import Server, make_settings, own_server
from helpers import run

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path

pytestmark = [pytest.mark.anyio, pytest.mark.host]

LISTENER = """
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080))
s.listen()
s.settimeout(20)
conn, peer = s.accept()
conn.sendall(b"HTTP/1.0 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok")
conn.close()
print(peer[0], flush=True)
"""


def sh(*argv: str) -> None:
    """Run a host command, failing the test if it fails."""
    subprocess.run(argv, check=True, capture_output=True)


@pytest.fixture
def outside() -> Iterator[tuple[str, str, str]]:
    """(uplink on the host, outside namespace, its address): a /30 link to a made-up network."""
    tag = secrets.token_hex(3)
    uplink, ns, third = f"qtu{tag}", f"qtout{tag}", secrets.randbelow(250)
    host_ip, far_ip = f"10.254.{third}.1", f"10.254.{third}.2"
    sh("ip", "netns", "add", ns)
    try:
        sh("ip", "link", "add", uplink, "type", "veth", "peer", "name", "eth0", "netns", ns)
        sh("ip", "addr", "add", f"{host_ip}/30", "dev", uplink)
        sh("ip", "link", "set", uplink, "up")
        sh("ip", "-n", ns, "addr", "add", f"{far_ip}/30", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        yield uplink, ns, far_ip
    finally:
        subprocess.run(["ip", "link", "del", uplink], capture_output=True, check=False)
        sh("ip", "netns", "del", ns)


@pytest.fixture
async def natted(tmp_path: Path, outside: tuple[str, str, str]) -> AsyncIterator[Server]:
    """A server whose egress is NAT out of the test's uplink."""
    async with own_server(make_settings(tmp_path, egress="nat", uplink=outside[0])) as server:
        yield server


async def test_traffic_leaves_masqueraded_by_the_uplink(
    natted: Server, outside: tuple[str, str, str]
) -> None:
    """A container reaches a host beyond the uplink, which sees the uplink's address, not its."""
    uplink, ns, far_ip = outside
    created = await natted.client.post("/api/containers", json={"name": "out", "image": "busybox"})
    assert created.status_code == 201, created.text
    cid = created.json()["container_id"]
    egress = (await natted.client.get(f"/api/containers/{cid}/egress")).json()
    assert egress["enabled"] is True
    assert egress["uplinks"] == [uplink]
    listener = subprocess.Popen(  # noqa: ASYNC220 - read after the exchange, when it has ended
        ["ip", "netns", "exec", ns, "python3", "-c", LISTENER],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        got: dict[str, Any] = {}
        for _ in range(100):  # until the listener is up (python starts slowly on a busy host)
            got = await run(natted, cid, "nc", "-w", "2", far_ip, "8080")
            if got["exit_code"] == 0:
                break
            await asyncio.sleep(0.1)
        assert got["stdout"].endswith("\r\n\r\nok"), got
        peer = (listener.communicate(timeout=20)[0] or "").strip()
    finally:
        listener.kill()
        listener.wait()
        if listener.stdout is not None:
            listener.stdout.close()
    assert peer == far_ip.rsplit(".", 1)[0] + ".1"  # the uplink's own address: masqueraded
    counters = (await natted.client.get(f"/api/containers/{cid}/egress")).json()
    assert counters["tx_bytes"] > egress["tx_bytes"]
