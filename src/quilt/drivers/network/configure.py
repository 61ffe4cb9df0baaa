"""Changes to a running container's network namespace, made with iproute2.

`netns.create` wires a new namespace in-process for speed; the changes here (re-addressing,
routes, repair, a reachability check) are rare and run `ip -n <ns> -batch`, one process per
change, so each reads as the command an operator would type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from quilt.drivers.commands import arun
from quilt.drivers.network import netns
from quilt.drivers.network.bridge import SYS_NET
from quilt.drivers.network.rtnetlink import PEER_NAME
from quilt.errors import HostError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from ipaddress import IPv4Address, IPv4Network

    from quilt.domain.ipam import Subnet

_RTT = re.compile(rb"time[=<]([0-9.]+) ?ms")


@dataclass(frozen=True)
class Reachability:
    """One ICMP echo from inside the namespace."""

    target: str
    reachable: bool
    rtt_ms: float | None
    output: str


@dataclass(frozen=True)
class Counters:
    """Traffic counters of a container's eth0, as the container sees them."""

    rx_bytes: int
    tx_bytes: int
    rx_packets: int
    tx_packets: int
    rx_dropped: int
    tx_dropped: int


async def _batch(ns: str, commands: Sequence[str]) -> None:
    netns.check_name(ns)
    script = "".join(f"{c}\n" for c in commands).encode()
    await arun(["ip", "-n", ns, "-batch", "-"], stdin=script, timeout=10)


async def configure(
    ns: str,
    address: IPv4Address,
    subnet: Subnet,
    routes: Sequence[IPv4Network],
    *,
    readdress: bool = False,
) -> None:
    """Bring eth0 to `address` with the default route and `routes` (idempotent).

    With `readdress`, eth0's old addresses go first; the kernel drops routes through them, so
    every route is programmed again after.
    """
    gateway = subnet.gateway
    commands = ["link set lo up", f"link set {PEER_NAME} up"]
    if readdress:
        commands.append(f"addr flush dev {PEER_NAME}")
    commands += [
        f"addr replace {address}/{subnet.prefixlen} dev {PEER_NAME}",
        f"route replace default via {gateway} dev {PEER_NAME}",
        *(f"route replace {r} via {gateway} dev {PEER_NAME}" for r in routes),
    ]
    await _batch(ns, commands)


async def repair(ns: str, bridge: str, mac: str) -> bool:
    """Give the namespace a veth pair on `bridge` again if it lost it; True if it had to.

    The namespace itself must still exist: a running container cannot be moved to a new one.
    """
    if not netns.exists(ns):
        raise HostError(f"network namespace {ns} is gone; restart the container to rebuild it")
    veth = netns.host_veth_name(ns)
    if (SYS_NET / veth).exists():
        if not (SYS_NET / veth / "master").exists():
            await arun(["ip", "link", "set", veth, "master", bridge, "up"], timeout=10)
            return True
        return False
    await arun(
        ["ip", "link", "add", veth, "up", "master", bridge, "type", "veth", "peer", "name",
         PEER_NAME, "address", mac, "netns", ns],
        timeout=10,
    )  # fmt: skip
    return True


async def add_route(ns: str, destination: IPv4Network, gateway: IPv4Address) -> None:
    """Route `destination` via the gateway from inside the namespace (replacing any route)."""
    await _batch(ns, [f"route replace {destination} via {gateway} dev {PEER_NAME}"])


async def delete_route(ns: str, destination: IPv4Network) -> None:
    """Remove the namespace's route to `destination` (already gone is fine)."""
    netns.check_name(ns)
    await arun(["ip", "-n", ns, "route", "del", str(destination)], timeout=10, check=False)


async def ping(ns: str, target: IPv4Address, timeout_seconds: int = 1) -> Reachability:
    """One ICMP echo to `target` from inside the namespace (busybox ping, no shell)."""
    netns.check_name(ns)
    argv = ["nsenter", f"--net={netns.NETNS_DIR / ns}", "busybox", "ping", "-c", "1"]
    done = await arun(
        [*argv, "-W", str(timeout_seconds), str(target)], timeout=timeout_seconds + 5, check=False
    )
    found = _RTT.search(done.stdout)
    return Reachability(
        target=str(target),
        reachable=done.returncode == 0,
        rtt_ms=float(found.group(1)) if found else None,
        output=(done.stdout + done.stderr).decode(errors="replace").strip(),
    )


def counters(ns: str) -> Counters:
    """eth0's counters, read from the host end of its veth (whose rx is eth0's tx).

    All zero when there is no veth (the container never ran, or its namespace is gone).
    """
    stats = SYS_NET / netns.host_veth_name(ns) / "statistics"

    def read(name: str) -> int:
        try:
            return int((stats / name).read_text())
        except (OSError, ValueError):
            return 0

    return Counters(
        rx_bytes=read("tx_bytes"),
        tx_bytes=read("rx_bytes"),
        rx_packets=read("tx_packets"),
        tx_packets=read("rx_packets"),
        rx_dropped=read("tx_dropped"),
        tx_dropped=read("rx_dropped"),
    )
