"""Network concern through the HTTP API: addresses, isolation, names, routes, diagnostics."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from helpers import create, run, wait_operation

pytestmark = [pytest.mark.anyio, pytest.mark.host]


async def ping(api: Any, container_id: str, target: str, client: Any = None) -> bool:
    """Whether one ICMP echo from the container to `target` is answered within a second."""
    response = await (client or api.client).post(
        f"/api/containers/{container_id}/exec",
        json={"command": ["ping", "-c", "1", "-W", "1", target]},
    )
    assert response.status_code == 200, response.text
    return bool(response.json()["exit_code"] == 0)


async def create_other(api: Any, name: str) -> dict[str, Any]:
    """A container of the second tenant."""
    response = await api.other.post("/api/containers", json={"name": name, "image": "busybox"})
    assert response.status_code == 201, response.text
    return dict(response.json())


def firewall_ports(api: Any) -> list[Any]:
    """The container ports the bridge's nftables sets hold right now."""
    return list(api.platform.node.network.firewall.elements()["ports"])


async def test_network_reads_the_real_namespace(api: Any) -> None:
    """GET network shows the address, gateway, MAC and what eth0 and the routes really hold."""
    ctr = await create(api, name="net-show")
    body = (await api.client.get(f"/api/containers/{ctr['container_id']}/network")).json()
    settings = api.settings
    assert body["ip_address"] == ctr["ip_address"]
    assert body["bridge"] == settings.bridge
    assert body["network_ready"] is True
    eth0 = next(i for i in body["interfaces"] if i["name"] == "eth0")
    assert eth0["addresses"] == [f"{ctr['ip_address']}/24"]
    assert eth0["mac_address"] == body["mac_address"]
    assert {"destination": "default", "gateway": body["gateway"], "device": "eth0"} in body[
        "routes"
    ]
    allocations = (await api.client.get("/api/network/allocations")).json()
    assert allocations["subnet"] == settings.subnet
    assert [a["container_id"] for a in allocations["allocations"]] == [ctr["container_id"]]


async def test_tenants_reach_their_own_containers_only(api: Any) -> None:
    """Containers of one tenant reach each other by address and by name; another tenant's don't."""
    a1 = await create(api, name="iso-a1")
    a2 = await create(api, name="iso-a2")
    b1 = await create_other(api, "iso-b1")
    assert await ping(api, a1["container_id"], a2["ip_address"])
    assert await ping(api, a1["container_id"], "iso-a2")
    assert not await ping(api, a1["container_id"], b1["ip_address"])
    assert not await ping(api, b1["container_id"], a1["ip_address"], client=api.other)
    hosts = (await run(api, a1["container_id"], "cat", "/etc/hosts"))["stdout"]
    assert "iso-a2" in hosts
    assert "iso-b1" not in hosts
    # Everyone reaches the gateway (the host), which the published services need.
    assert await ping(
        api, b1["container_id"], api.settings.subnet.rsplit(".", 1)[0] + ".1", client=api.other
    )
    assert len(firewall_ports(api)) == 3
    await api.other.delete(f"/api/containers/{b1['container_id']}")


FORGED_ARP = """
import socket, struct, sys
victim, gateway = sys.argv[1:]
mac = bytes.fromhex(open("/sys/class/net/eth0/address").read().strip().replace(":", ""))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + socket.inet_aton(victim)
arp += bytes(6) + socket.inet_aton(gateway)
for _ in range(3):
    s.send(b"\\xff" * 6 + mac + b"\\x08\\x06" + arp)
"""


async def test_a_container_cannot_send_from_another_address(api: Any) -> None:
    """A container's port may only send from its own address (checked by the bridge rules)."""
    a1 = await create(api, name="spoof-a1", image="prod")
    a2 = await create(api, name="spoof-a2")
    victim = a2["ip_address"]
    gateway = api.settings.subnet.rsplit(".", 1)[0] + ".1"
    # With CAP_NET_RAW a container can ask the host for its MAC in the victim's name, which
    # would make the host send the victim's traffic to the forger. The bridge drops it.
    sent = await run(api, a1["container_id"], "python3", "-c", FORGED_ARP, victim, gateway)
    assert sent["exit_code"] == 0, sent
    a1_mac = (await api.client.get(f"/api/containers/{a1['container_id']}/network")).json()[
        "mac_address"
    ]
    shown = await asyncio.create_subprocess_exec(
        "ip", "neigh", "show", victim, "dev", api.settings.bridge, stdout=asyncio.subprocess.PIPE
    )  # fmt: skip
    neighbours = (await shown.communicate())[0].decode()
    assert a1_mac not in neighbours


async def test_names_follow_renames_and_deletes(api: Any) -> None:
    """Peers' /etc/hosts follow a rename (either route) and a delete at once."""
    a1 = await create(api, name="dns-a1")
    a2 = await create(api, name="dns-a2")
    entries = (await api.client.get("/api/dns/entries")).json()["entries"]
    assert {(e["name"], e["ip_address"]) for e in entries} == {
        ("dns-a1", a1["ip_address"]),
        ("dns-a2", a2["ip_address"]),
    }
    renamed = await api.client.post("/api/dns/entries/dns-a2/rename", json={"new_name": "db"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["dns_updated"] is True
    assert await ping(api, a1["container_id"], "db")
    assert not await ping(api, a1["container_id"], "dns-a2")
    await api.client.delete(f"/api/containers/{a2['container_id']}")
    hosts = (await run(api, a1["container_id"], "cat", "/etc/hosts"))["stdout"]
    assert "db" not in hosts.split()
    missing = await api.client.post("/api/dns/entries/nope/rename", json={"new_name": "x"})
    assert missing.status_code == 404


async def test_readdress_moves_a_running_container(api: Any) -> None:
    """PUT network moves eth0 to a free address, keeps routes and names, and refuses a taken one."""
    a1 = await create(api, name="move-a1")
    a2 = await create(api, name="move-a2")
    url = f"/api/containers/{a1['container_id']}"
    assert (
        await api.client.post(url + "/routes", json={"destination": "192.0.2.0/24"})
    ).status_code == 201
    prefix = api.settings.subnet.rsplit(".", 1)[0]
    target = f"{prefix}.200"
    moved = await api.client.put(url + "/network", json={"ip_address": target})
    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert body["ip_address"] == target
    eth0 = next(i for i in body["interfaces"] if i["name"] == "eth0")
    assert eth0["addresses"] == [f"{target}/24"]
    assert {"destination": "192.0.2.0/24", "gateway": body["gateway"], "device": "eth0"} in body[
        "routes"
    ]
    assert await ping(api, a2["container_id"], "move-a1")
    assert await ping(api, a2["container_id"], target)
    assert (await api.client.get(url)).json()["ip_address"] == target
    taken = await api.client.put(url + "/network", json={"ip_address": a2["ip_address"]})
    assert taken.status_code == 409
    assert taken.json()["error_code"] == "CONFLICT"
    for bad in (f"{prefix}.1", "10.9.9.9", "not-an-ip", f"{prefix}.255"):
        refused = await api.client.put(url + "/network", json={"ip_address": bad})
        assert refused.status_code == 400, (bad, refused.text)
    assert (await api.client.put(url + "/network", json={"ip_address": 7})).status_code == 422


async def test_routes_are_programmed_and_kept(api: Any) -> None:
    """Routes land in the namespace, survive stop and start, and go on DELETE."""
    ctr = await create(api, name="routes")
    url = f"/api/containers/{ctr['container_id']}"
    added = await api.client.post(url + "/routes", json={"destination": "198.51.100.0/24"})
    assert added.status_code == 201, added.text
    assert added.json()["routes"] == ["198.51.100.0/24"]
    table = (await run(api, ctr["container_id"], "ip", "route"))["stdout"]
    assert "198.51.100.0/24 via" in table
    for bad in ("198.51.100.1/24", "nonsense", "0.0.0.0/0", api.settings.subnet, ""):
        refused = await api.client.post(url + "/routes", json={"destination": bad})
        assert refused.status_code == 400, (bad, refused.text)
    stopped = await api.client.post(url + "/stop")
    assert stopped.status_code in (200, 202), stopped.text
    started = await api.client.post(url + "/start")
    assert started.status_code == 202, started.text
    assert (await wait_operation(api, started.json()["status_url"]))["status"] == "succeeded"
    table = (await run(api, ctr["container_id"], "ip", "route"))["stdout"]
    assert "198.51.100.0/24 via" in table
    removed = await api.client.request(
        "DELETE", url + "/routes", json={"destination": "198.51.100.0/24"}
    )
    assert removed.status_code == 200, removed.text
    assert removed.json()["routes"] == []
    assert "198.51.100.0/24" not in (await run(api, ctr["container_id"], "ip", "route"))["stdout"]
    again = await api.client.request(
        "DELETE", url + "/routes", json={"destination": "198.51.100.0/24"}
    )
    assert again.status_code == 404


async def test_diagnostics_find_a_broken_link_and_setup_repairs_it(api: Any) -> None:
    """Diagnostics read the real link state; setup puts a detached veth back on the bridge."""
    ctr = await create(api, name="diag")
    url = f"/api/containers/{ctr['container_id']}"
    healthy = (await api.client.get(url + "/network/diagnostics")).json()
    assert healthy["ok"] is True, healthy
    assert healthy["gateway"]["reachable"] is True
    veth = healthy["host_veth"]
    detach = await asyncio.create_subprocess_exec("ip", "link", "set", veth, "nomaster")
    assert await detach.wait() == 0
    broken = (await api.client.get(url + "/network/diagnostics")).json()
    assert broken["ok"] is False
    assert set(broken["problems"]) >= {"bridge_attached", "gateway_reachable"}
    repaired = await api.client.post(url + "/network/setup", json={})
    assert repaired.status_code == 200, repaired.text
    assert "veth pair recreated on the bridge" in repaired.json()["actions"]
    assert (await api.client.get(url + "/network/diagnostics")).json()["ok"] is True


async def test_egress_reports_real_counters(api: Any) -> None:
    """The egress counters grow with the container's traffic; the mode says why it is off."""
    ctr = await create(api, name="egress")
    url = f"/api/containers/{ctr['container_id']}/egress"
    before = (await api.client.get(url)).json()
    assert before["mode"] == "auto"
    gateway = api.settings.subnet.rsplit(".", 1)[0] + ".1"
    await run(api, ctr["container_id"], "ping", "-c", "3", "-i", "0.2", "-s", "1000", gateway)
    after = (await api.client.get(url)).json()
    assert after["tx_bytes"] - before["tx_bytes"] >= 3000
    assert after["rx_packets"] - before["rx_packets"] >= 3
    if not after["enabled"]:
        assert after["reason"]


async def test_network_routes_are_tenant_scoped(api: Any) -> None:
    """Another tenant's container is not found on every network route."""
    ctr = await create(api, name="net-scope")
    url = f"/api/containers/{ctr['container_id']}"
    for method, path, body in (
        ("GET", "/network", None),
        ("PUT", "/network", {"ip_address": "10.0.0.1"}),
        ("GET", "/network/diagnostics", None),
        ("GET", "/egress", None),
        ("POST", "/routes", {"destination": "192.0.2.0/24"}),
        ("POST", "/network/setup", {}),
    ):
        response = await api.other.request(method, url + path, json=body)
        assert response.status_code == 404, (path, response.text)


async def test_deleted_containers_leave_no_firewall_ports(api: Any) -> None:
    """Deleting a container takes its port out of the bridge's rules."""
    ctr = await create(api, name="fw-leak")
    assert len(firewall_ports(api)) == 1
    await api.client.delete(f"/api/containers/{ctr['container_id']}")
    assert firewall_ports(api) == []
